package dev.openbatch.engine.metrics;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.status.LineState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The engine's Prometheus metrics; every name starts with {@code openbatch_}. In a package of its
 * own, below the rest of the engine, so that the tick, the dispatchers, the lifecycle and the
 * housekeeping jobs all count into it without depending on one another.
 */
@ApplicationScoped
public class EngineMetrics {

    private final MeterRegistry registry;
    private final Timer claim;
    private final Timer write;
    private final Timer choose;
    private final Counter leasesTakenOver;
    private final Map<BatchStatus, AtomicLong> batchesByStatus = new ConcurrentHashMap<>();
    private final Map<String, Counter> housekeepingFailures = new ConcurrentHashMap<>();
    private final AtomicLong waiting = new AtomicLong();
    private final Map<String, Timer> latency = new ConcurrentHashMap<>();
    private final Map<String, Counter> finished = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> drained = new ConcurrentHashMap<>();
    private final Map<String, Counter> drains = new ConcurrentHashMap<>();
    private final Map<String, ProjectCounters> projects = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> paused = new ConcurrentHashMap<>();
    private final Map<String, Counter> purgedRows = new ConcurrentHashMap<>();
    private final Map<String, Counter> purgedBytes = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> overdue = new ConcurrentHashMap<>();

    /** What retention deletes, as the {@code kind} label of its counters. */
    public static final String PURGED_LINES = "lines";
    public static final String PURGED_FILES = "files";
    public static final String PURGED_WEBHOOK_EVENTS = "webhook_events";
    public static final String PURGED_WEBHOOK_DELIVERIES = "webhook_deliveries";
    /** What retention waits for, as the {@code kind} label of its overdue gauge. */
    public static final String DUE_BATCH_DATA = "batch_data";
    public static final String DUE_FILES = "files";
    public static final String DUE_WEBHOOKS = "webhooks";

    public EngineMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.claim = Timer.builder("openbatch_claim_duration").description("Time to claim a set of lines from PostgreSQL")
                .publishPercentileHistogram().register(registry);
        this.write = Timer.builder("openbatch_write_duration").description("Time to write a set of results to PostgreSQL")
                .publishPercentileHistogram().register(registry);
        this.choose = Timer.builder("openbatch_choose_duration").description("Time to read which batches of an upstream have lines ready")
                .publishPercentileHistogram().register(registry);
        this.leasesTakenOver = Counter.builder("openbatch_leases_taken_over").description("Lines returned to the queue because their process's heartbeat lapsed")
                .register(registry);
        for (BatchStatus s : BatchStatus.values()) {
            AtomicLong v = new AtomicLong();
            batchesByStatus.put(s, v);
            Gauge.builder("openbatch_batches", v, AtomicLong::get).description("Batches by status").tag("status", s.wire()).register(registry);
        }
        Gauge.builder("openbatch_lines_waiting", waiting, AtomicLong::get).description("Lines of in_progress batches not yet settled (queued or running), across all batches")
                .register(registry);
        for (String kind : new String[] { PURGED_LINES, PURGED_FILES, PURGED_WEBHOOK_EVENTS, PURGED_WEBHOOK_DELIVERIES }) {
            purgedRows.put(kind, Counter.builder("openbatch_retention_purged_rows").description("Rows deleted by retention, by kind")
                    .tag("kind", kind).register(registry));
        }
        for (String kind : new String[] { PURGED_LINES, PURGED_FILES }) {
            purgedBytes.put(kind, Counter.builder("openbatch_retention_purged_bytes")
                    .description("Bytes deleted by retention: lines' bodies and answers as stored, files' sizes").tag("kind", kind).register(registry));
        }
        for (String kind : new String[] { DUE_BATCH_DATA, DUE_FILES, DUE_WEBHOOKS }) {
            AtomicLong v = new AtomicLong();
            overdue.put(kind, v);
            Gauge.builder("openbatch_retention_overdue_seconds", v, AtomicLong::get)
                    .description("How long the oldest thing retention should have deleted has been due (0: nothing waits), by kind")
                    .tag("kind", kind).register(registry);
        }
    }

    /** Retention deleted {@code rows} rows of {@code kind} (one of the {@code PURGED_} kinds), taking {@code bytes} bytes. */
    public void purged(String kind, long rows, long bytes) {
        add(purgedRows.get(kind), rows);
        Counter b = purgedBytes.get(kind);
        if (b != null) {
            add(b, bytes);
        }
    }

    /** Index upkeep rebuilt an index of {@code table}, giving back {@code freed} bytes. */
    public void indexRebuilt(String table, long freed) {
        Counter.builder("openbatch_index_rebuilds").description("Indexes rebuilt by index upkeep after retention emptied them, by table")
                .tag("table", table).register(registry).increment();
        Counter.builder("openbatch_index_rebuild_freed_bytes").description("Bytes given back to the file system by index rebuilds, by table")
                .tag("table", table).register(registry).increment(freed);
    }

    /** The oldest thing of {@code kind} (one of the {@code DUE_} kinds) that retention has not deleted has been due this long. */
    public void overdue(String kind, long seconds) {
        overdue.get(kind).set(Math.max(0, seconds));
    }

    public void claimLatency(long nanos) { claim.record(Duration.ofNanos(nanos)); }

    public void writeLatency(long nanos) { write.record(Duration.ofNanos(nanos)); }

    public void chooseLatency(long nanos) { choose.record(Duration.ofNanos(nanos)); }

    public void leasesTakenOver(long n) { leasesTakenOver.increment(n); }

    public void batches(BatchStatus status, long n) {
        AtomicLong v = batchesByStatus.get(status);
        if (v != null) {
            v.set(n);
        }
    }

    public void waiting(long n) { waiting.set(n); }

    public void upstreamLatency(String upstream, long nanos) {
        latency.computeIfAbsent(upstream, u -> Timer.builder("openbatch_upstream_request_duration")
                .description("Time from sending a line to its upstream to the answer").tag("upstream", u)
                .publishPercentileHistogram().register(registry)).record(Duration.ofNanos(nanos));
    }

    /** Outcome: succeeded, failed, retried, expired, cancelled. */
    public void lineFinished(String upstream, String outcome) {
        lineFinished(upstream, outcome, 1);
    }

    public void lineFinished(String upstream, String outcome, long n) {
        if (n <= 0) {
            return;
        }
        finished.computeIfAbsent(upstream + "\u0000" + outcome, k -> Counter.builder("openbatch_lines_finished")
                .description("Lines finished, by upstream and outcome (retried counts each retry)")
                .tag("upstream", upstream == null ? "none" : upstream).tag("outcome", outcome).register(registry)).increment(n);
    }

    /**
     * Lines settled for a project and model, as counted into its usage (in the same transaction):
     * {@code openbatch_project_lines_total{project,model,outcome=succeeded|failed}} and
     * {@code openbatch_project_tokens_total{project,model,kind=input|output}}. All four series of
     * a project and model appear at its first count, so that increase() sees every later one.
     */
    public void projectUsage(String project, String model, long succeeded, long failed, long inputTokens, long outputTokens) {
        if (succeeded <= 0 && failed <= 0 && inputTokens <= 0 && outputTokens <= 0) {
            return;
        }
        ProjectCounters c = projects.computeIfAbsent(project + "\u0000" + model, k -> new ProjectCounters(registry, project, model));
        add(c.succeeded, succeeded);
        add(c.failed, failed);
        add(c.input, inputTokens);
        add(c.output, outputTokens);
    }

    private static void add(Counter c, long n) {
        if (n > 0) {
            c.increment(n);
        }
    }

    /** One project's and model's usage counters. */
    private static final class ProjectCounters {
        final Counter succeeded;
        final Counter failed;
        final Counter input;
        final Counter output;

        ProjectCounters(MeterRegistry registry, String project, String model) {
            succeeded = lines(registry, project, model, LineState.SUCCEEDED.wire());
            failed = lines(registry, project, model, LineState.FAILED.wire());
            input = tokens(registry, project, model, "input");
            output = tokens(registry, project, model, "output");
        }

        private static Counter lines(MeterRegistry registry, String project, String model, String outcome) {
            return Counter.builder("openbatch_project_lines")
                    .description("Lines settled, by project, model and outcome (failed: every line settled without a success)")
                    .tag("project", project).tag("model", model).tag("outcome", outcome).register(registry);
        }

        private static Counter tokens(MeterRegistry registry, String project, String model, String kind) {
            return Counter.builder("openbatch_project_tokens").description("Tokens of settled lines, by project, model and kind")
                    .tag("project", project).tag("model", model).tag("kind", kind).register(registry);
        }
    }

    /**
     * The projects paused at their spend cap now: {@code openbatch_project_paused{project}} is 1
     * for each, and 0 for every project paused before that is not any more (a project never
     * paused has no series).
     */
    public void projectsPaused(Set<String> projects) {
        for (String p : projects) {
            paused.computeIfAbsent(p, k -> {
                AtomicLong v = new AtomicLong();
                Gauge.builder("openbatch_project_paused", v, AtomicLong::get)
                        .description("1 while the project is paused at its spend cap: its lines stay queued")
                        .tag("project", k).register(registry);
                return v;
            });
        }
        paused.forEach((p, v) -> v.set(projects.contains(p) ? 1 : 0));
    }

    /** A housekeeping job failed (it is tried again at its next period). */
    public void housekeepingFailed(String job) {
        housekeepingFailures(job).increment();
    }

    /** A housekeeping job exists: its failure counter is exported from the start, at 0, so that increase() sees its first failure. */
    public void housekeepingJob(String job) {
        housekeepingFailures(job);
    }

    private Counter housekeepingFailures(String job) {
        return housekeepingFailures.computeIfAbsent(job, j -> Counter.builder("openbatch_housekeeping_failures")
                .description("Failed runs of the engine's periodic jobs (heartbeat, sweep, retention, gauges), by job")
                .tag("job", j).register(registry));
    }

    /** Registers the in-flight and capacity gauges of one upstream. */
    public void upstream(String name, Supplier<Number> inFlight, Supplier<Number> unwritten, Supplier<Number> stock, int capacity) {
        Gauge.builder("openbatch_upstream_unwritten", unwritten).description("Answered lines whose results are not written yet (with those in flight, at most max-concurrency + unwritten-max)")
                .tag("upstream", name).register(registry);
        Gauge.builder("openbatch_upstream_stock", stock).description("Lines claimed for the upstream and not sent yet")
                .tag("upstream", name).register(registry);
        Gauge.builder("openbatch_upstream_in_flight", inFlight).description("Lines in flight to the upstream from this process")
                .tag("upstream", name).register(registry);
        Gauge.builder("openbatch_upstream_concurrency_limit", () -> capacity).description("The upstream's max-concurrency")
                .tag("upstream", name).register(registry);
    }

    /**
     * Registers the flow-control gauges of one upstream: its limit now (its max-concurrency when it
     * is not adaptive) and its server's waiting count as last read (NaN when it is not read: no
     * {@code metrics-url}, no read yet, or the last one failed).
     */
    public void upstreamFlow(String name, Supplier<Number> limit, Supplier<Number> queue) {
        Gauge.builder("openbatch_upstream_limit", limit).description("Lines this process may have in flight to the upstream now")
                .tag("upstream", name).register(registry);
        Gauge.builder("openbatch_upstream_queue", queue).description("Requests waiting at the upstream's server, as last read from its metrics (NaN when not read)")
                .tag("upstream", name).register(registry);
    }

    /**
     * Whether this process's dispatcher of the upstream has it drained now (1) or not (0): refused
     * connections or a failed health check, until a probe finds it up.
     */
    public void upstreamDrained(String name, boolean drained) {
        this.drained.computeIfAbsent(name, u -> {
            AtomicLong v = new AtomicLong();
            Gauge.builder("openbatch_upstream_drained", v, AtomicLong::get)
                    .description("1 while the upstream is drained (refused connections or a failed health check): no lines go to it")
                    .tag("upstream", u).register(registry);
            return v;
        }).set(drained ? 1 : 0);
        Counter count = drains.computeIfAbsent(name, u -> Counter.builder("openbatch_upstream_drains")
                .description("Times the upstream was drained (refused connections or a failed health check)")
                .tag("upstream", u).register(registry)); // from the start, at 0, so that a dashboard's increase() has a series
        if (drained) {
            count.increment();
        }
    }

    /**
     * Registers the share gauge of one upstream: how many of its {@code max-concurrency} this
     * process may use, as the last share round found (the whole cap for an upstream that is not
     * shared; 0 before the first round).
     */
    public void upstreamShare(String name, Supplier<Number> share) {
        Gauge.builder("openbatch_upstream_share", share).description("Lines of the upstream's max-concurrency this process may have in flight (its share)")
                .tag("upstream", name).register(registry);
    }
}
