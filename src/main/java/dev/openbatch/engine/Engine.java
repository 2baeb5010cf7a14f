package dev.openbatch.engine;
import dev.openbatch.store.NodeStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.BatchStore;
import dev.openbatch.status.LineState;
import dev.openbatch.engine.lifecycle.ValidationTurns;
import dev.openbatch.engine.lifecycle.Lifecycle;
import dev.openbatch.engine.housekeeping.Housekeeping;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.engine.dispatch.Dispatcher;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.api.Time;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.BatchStore.Work;
import dev.openbatch.store.FileStore;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.webhooks.WebhookDeliverer;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;
import io.vertx.mutiny.core.Vertx;
import dev.openbatch.store.Transactions;
import io.vertx.mutiny.sqlclient.Row;

/**
 * One process's engine. A tick finds the batches with a batch-level step to do and runs it
 * through {@link Lifecycle} under the batch's claim; a {@link Dispatcher} per upstream keeps that
 * upstream busy with lines; {@link Housekeeping} runs the heartbeat, the sweep of dead processes,
 * file retention and the gauges, and polls the {@link WebhookDeliverer} (which sends on a context
 * of its own). All of the engine's state lives on one Vert.x event-loop context.
 * Several engines (processes, or instances in a test) share one database safely: claims,
 * heartbeats and fences decide who does what.
 */
public class Engine {
    private static final Logger LOG = Logger.getLogger(Engine.class);

    private final String node;
    private final Vertx vertx;
    private final Context context;
    private final Time time;
    private final EngineConfig config;
    private final EngineMetrics metrics;
    private final Lifecycle lifecycle;
    private final BatchStore batches;
    private final NodeStore nodes;
    private final FileStore files;
    private final BatchLog batchLog;
    private final Housekeeping housekeeping;
    private final WebhookDeliverer webhooks;
    private final Map<String, Dispatcher> dispatchers = new LinkedHashMap<>();
    /** Batches with a step running in this process, and their claim's fence (-1 while it is being claimed). */
    private final Map<String, Long> busy = new HashMap<>();
    /** Validations running here, by batch, with their project. */
    private final Map<String, String> validating = new HashMap<>();
    /** When each project last got a validation slot here. */
    private final Map<String, Long> lastServed = new HashMap<>();
    private boolean registered;
    private boolean ticking;
    private boolean tickAgain;
    private boolean stopped;
    private long tickTimer = -1;
    private int gaugeRuns;

    Engine(String node, Transactions transactions, Vertx vertx, Time time, EngineConfig config, EngineMetrics metrics, Lifecycle lifecycle,
            LineStore lines, BatchStore batches, NodeStore nodes, FileStore files, List<Upstream> upstreams, BatchLog batchLog,
            WebhookDeliverer webhooks) {
        this.node = node;
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.time = time;
        this.config = config;
        this.metrics = metrics;
        this.lifecycle = lifecycle;
        this.batches = batches;
        this.nodes = nodes;
        this.files = files;
        this.batchLog = batchLog;
        this.webhooks = webhooks;
        for (Upstream u : upstreams) {
            dispatchers.put(u.name(), new Dispatcher(u, transactions, lines, batches, context, time, config, node, metrics, this::wake));
        }
        long lease = config.lease().toMillis();
        this.housekeeping = new Housekeeping(context, metrics)
                .every(Math.max(100, lease / 3), "heartbeat", this::heartbeat)
                .every(Math.max(100, Math.min(lease / 3, config.tick().toMillis() * 4)), "sweep", this::sweepDead)
                .every(60_000, "orphans", nodes::recoverOrphans)
                .every(60_000, "file retention", () -> files.deleteExpired(time.seconds()).invoke(n -> {
                    if (n > 0) {
                        LOG.infof("deleted %d expired file(s)", n);
                    }
                }))
                .every(5_000, "gauges", this::gauges)
                .every(1_000, "request timeouts", () -> {
                    dispatchers.values().forEach(Dispatcher::expireSlowRequests);
                    return Uni.createFrom().voidItem();
                })
                .every(webhooks.pollMillis(), "webhook deliveries", webhooks::poll)
                .every(5_000, "webhook backlog", webhooks::gauge);
    }

    public String node() { return node; }

    /** Registers this process's heartbeat (giving back what an earlier life under the same name held), then starts ticking. */
    public void start() {
        context.runOnContext(this::register);
    }

    private void register() {
        if (stopped) {
            return;
        }
        nodes.register(node, time.millis(), config.lease().toMillis()).subscribe().with(n -> context.runOnContext(() -> {
            if (n > 0) {
                LOG.infof("returned %d lines claimed by an earlier run of %s to the queue", n, node);
            }
            if (stopped) {
                return;
            }
            registered = true;
            tickTimer = vertx.setPeriodic(config.tick().toMillis(), id -> tickOnContext().subscribe().with(v -> { }, e -> { }));
            housekeeping.start();
            webhooks.start();
            LOG.infof("engine %s started: %d upstream(s), tick %s, lease %s", node, dispatchers.size(), config.tick(), config.lease());
            tickOnContext().subscribe().with(v -> { }, e -> { });
        }), e -> {
            LOG.warnf("engine %s could not register (database unreachable?), retrying: %s", node, LogText.of(e.getMessage(), 1000));
            vertx.setTimer(1000, id -> context.runOnContext(this::register));
        });
    }

    /** Runs something on the engine's context and completes with its result. */
    private <T> Uni<T> onContext(Supplier<Uni<T>> work) {
        return Uni.createFrom().emitter(em -> context.runOnContext(() -> work.get().subscribe().with(em::complete, em::fail)));
    }

    private void runOnContext(Runnable r) {
        context.runOnContext(r);
    }

    /** Asks for a tick now (a batch was created, cancelled, or settled its last line). */
    public void wake() {
        context.runOnContext(() -> tickOnContext().subscribe().with(v -> { }, e -> { }));
    }

    /** One pass over the batches with a step to do; also what tests call instead of waiting for the timer. */
    public Uni<Void> tick() {
        return onContext(this::tickOnContext);
    }

    public CompletionStage<Void> tickNow() {
        return tick().subscribeAsCompletionStage();
    }

    private Uni<Void> tickOnContext() {
        if (stopped || !registered) {
            return Uni.createFrom().voidItem();
        }
        if (ticking) {
            tickAgain = true; // a wake-up during a tick is not lost: one more tick follows
            return Uni.createFrom().voidItem();
        }
        ticking = true;
        tickAgain = false;
        long now = time.millis();
        return batches.needingWork(now / 1000)
                .invoke(work -> act(work, now))
                .onFailure().invoke(e -> LOG.warnf("engine tick failed (database unreachable?), will retry: %s", LogText.of(e.getMessage(), 1000)))
                .onFailure().recoverWithNull()
                .eventually(() -> {
                    ticking = false;
                    if (tickAgain) {
                        wake();
                    }
                })
                .replaceWithVoid();
    }

    private void act(List<Work> rows, long now) {
        Map<String, Work> work = new LinkedHashMap<>();
        for (Work w : rows) {
            work.merge(w.id(), w, (a, b) -> a.settled() ? a : b); // settled before its deadline: completed, not expired
        }
        Map<LineState, Set<String>> aborts = new EnumMap<>(LineState.class);
        List<Work> toValidate = new ArrayList<>();
        for (Work w : work.values()) {
            LineState abort = Lifecycle.abortInFlight(w, now);
            if (abort != null) {
                aborts.computeIfAbsent(abort, k -> new HashSet<>()).add(w.id());
            }
            Lifecycle.Step next = busy.containsKey(w.id()) ? null : Lifecycle.next(w, now);
            if (next == Lifecycle.Step.VALIDATE) {
                toValidate.add(w);
            } else if (next != null) {
                step(w.id(), fence -> lifecycle.run(next, w, fence), () -> { });
            }
        }
        Map<String, Integer> running = new HashMap<>();
        validating.values().forEach(p -> running.merge(p, 1, Integer::sum));
        for (Work w : ValidationTurns.pick(toValidate, config.validations() - validating.size(), running, lastServed)) {
            validating.put(w.id(), w.project());
            lastServed.put(w.project(), now);
            step(w.id(), fence -> lifecycle.run(Lifecycle.Step.VALIDATE, w, fence).call(s -> s != BatchStatus.IN_PROGRESS ? Uni.createFrom().voidItem()
                    : handOver(w.id())), () -> {
                validating.remove(w.id());
                wake(); // a slot is free: the next waiting validation starts now, not at the next tick
            });
        }
        for (Dispatcher d : dispatchers.values()) {
            d.abort(aborts.getOrDefault(LineState.CANCELLED, Set.of()), LineState.CANCELLED, "batch_cancelled",
                    "The batch was cancelled while this request was in flight.");
            d.abort(aborts.getOrDefault(LineState.EXPIRED, Set.of()), LineState.EXPIRED, "batch_expired",
                    "The batch's completion window ran out while this request was in flight.");
            d.nudge();
        }
    }

    /** A batch went in_progress without a validation here (a retry made by the API): its dispatcher takes it on at once. */
    public void started(String batchId) {
        handOver(batchId).subscribe().with(v -> { }, e -> { });
    }

    /** Its lines are ready now: the batch's dispatcher takes it on at once, without reading every batch again. */
    private Uni<Void> handOver(String batchId) {
        return batches.started(batchId).invoke(e -> context.runOnContext(() -> {
            Dispatcher d = e == null || stopped || !registered ? null : dispatchers.get(e.getKey());
            if (d != null) {
                d.started(e.getValue());
            }
        })).onFailure().recoverWithNull().replaceWithVoid();
    }

    /**
     * Runs a batch-level step under the batch's claim; skips it when another process holds the
     * claim. The batch is busy here from now until the step ends, whether it succeeds, loses its
     * claim or fails (a failed claim too: the next tick tries again).
     */
    private void step(String id, Function<Long, Uni<BatchStatus>> run, Runnable after) {
        busy.put(id, -1L);
        batches.claimStep(id, node, time.millis(), config.lease().toMillis())
                .chain(fence -> {
                    if (fence == null) {
                        return Uni.createFrom().<BatchStatus>nullItem();
                    }
                    busy.put(id, fence);
                    return run.apply(fence)
                            .onFailure(Lifecycle.Fenced.class).recoverWithNull()
                            .call(() -> batches.releaseStep(id, fence).onFailure().recoverWithNull());
                })
                .emitOn(this::runOnContext) // steps may end on a worker thread (validation parses there)
                .subscribe().with(s -> {
                    busy.remove(id);
                    after.run();
                    if (s != null) {
                        batchLog.transition(id, s.wire());
                        if (s.terminal()) {
                            webhooks.nudge(); // its event is due now
                        }
                    }
                }, e -> {
                    busy.remove(id);
                    after.run();
                    LOG.warnf("batch %s: step failed, will retry: %s", id, LogText.of(e.getMessage(), 1000));
                });
    }

    // ---- housekeeping ----

    /**
     * Renews this process's heartbeat (and the claims of the steps it runs). When the row is
     * gone, another process declared this one dead and took its lines: everything still held is
     * aborted and given back before a new life begins, so no line is sent twice from here.
     */
    private Uni<Void> heartbeat() {
        if (!registered) { // it goes on while a graceful stop lets lines in flight finish
            return Uni.createFrom().voidItem();
        }
        long now = time.millis();
        return nodes.beat(node, now, config.lease().toMillis()).chain(alive -> {
            if (alive) {
                return batches.renewSteps(node, now + config.lease().toMillis());
            }
            if (stopped) {
                return Uni.createFrom().voidItem(); // said goodbye (or buried while stopping): no new life
            }
            LOG.warnf("engine %s was declared dead by another process (its heartbeat lapsed): giving back what it held", node);
            dispatchers.values().forEach(Dispatcher::forgetClaims);
            return nodes.register(node, now, config.lease().toMillis()).replaceWithVoid();
        });
    }

    /** Returns the lines of processes whose heartbeat lapsed (past their own lease) to the queue; how many. */
    public Uni<Integer> sweepLeases() {
        return onContext(this::sweepDead);
    }

    private Uni<Integer> sweepDead() {
        long now = time.millis();
        return nodes.dead(node, now).chain(dead -> Multi.createFrom().iterable(dead)
                .onItem().transformToUniAndConcatenate(n -> nodes.bury(n, now).invoke(k -> {
                    if (k >= 0) {
                        metrics.leasesTakenOver(k);
                        LOG.infof("process %s stopped renewing its heartbeat: %d line(s) it held went back to the queue", n, k);
                    }
                }))
                .collect().asList()
                .map(ks -> ks.stream().mapToInt(k -> Math.max(0, k)).sum()));
    }

    private Uni<Void> gauges() {
        boolean all = gaugeRuns++ % 12 == 0; // terminal statuses need a scan of the table: once a minute
        return (all ? batches.allCounts() : batches.liveCounts()).invoke(rows -> {
            Map<BatchStatus, Long> counts = new HashMap<>();
            for (Row r : rows) {
                counts.put(BatchStatus.of(r.getString(0)), r.getLong(1));
            }
            for (BatchStatus s : BatchStatus.values()) {
                if (all || BatchStatus.LIVE.contains(s)) {
                    metrics.batches(s, counts.getOrDefault(s, 0L));
                }
            }
        }).chain(batches::unsettledLines).invoke(metrics::waiting).replaceWithVoid();
    }

    // ---- what tests and the service read ----

    /** Lines this engine has sent upstream so far (every attempt counts). */
    public long sent() {
        return dispatchers.values().stream().mapToLong(Dispatcher::sent).sum();
    }

    /** Webhook deliveries in flight from this process. */
    public int webhooksInFlight() {
        return webhooks.inFlight();
    }

    /** Lines in flight from this process, all upstreams. */
    public int inFlight() {
        return dispatchers.values().stream().mapToInt(Dispatcher::inFlight).sum();
    }

    // ---- stopping ----

    /**
     * Graceful stop: no new claims, lines in flight get up to {@code grace} to finish, what is
     * still held is given back, every result is written, and the heartbeat row goes. Completes when done.
     */
    public CompletionStage<Void> stop(java.time.Duration grace) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        context.runOnContext(() -> {
            stopped = true;
            vertx.cancelTimer(tickTimer); // the heartbeat goes on while lines in flight finish
            dispatchers.values().forEach(Dispatcher::stopClaiming);
            webhooks.stopClaiming();
            waitDrained(System.currentTimeMillis() + grace.toMillis(), done);
        });
        return done;
    }

    private void waitDrained(long deadline, CompletableFuture<Void> done) {
        boolean inFlight = dispatchers.values().stream().anyMatch(d -> d.inFlight() > 0) || webhooks.inFlight() > 0;
        if (inFlight && System.currentTimeMillis() < deadline) {
            vertx.setTimer(50, id -> waitDrained(deadline, done));
            return;
        }
        dispatchers.values().forEach(Dispatcher::releaseInFlight);
        boolean writing = dispatchers.values().stream().anyMatch(d -> d.unwritten() > 0);
        if (writing && System.currentTimeMillis() < deadline + 5000) {
            vertx.setTimer(50, id -> waitDrained(deadline, done));
            return;
        }
        housekeeping.stop();
        webhooks.giveBack().onFailure().recoverWithNull().chain(() -> nodes.leave(node)).subscribe().with(v -> {
            halt();
            done.complete(null);
        }, e -> {
            LOG.warnf("engine %s could not say goodbye (its lines return to the queue when its heartbeat is found stale): %s", node, LogText.of(e.getMessage(), 1000));
            halt();
            done.complete(null);
        });
    }

    /**
     * Stops at once, without a goodbye: timers cancelled, requests in flight aborted, nothing
     * more written. The end of a graceful stop; alone, it is what a killed process does (its
     * lines wait for its heartbeat to be found stale), which is how tests crash an engine.
     */
    void halt() {
        context.runOnContext(() -> {
            stopped = true;
            vertx.cancelTimer(tickTimer);
            housekeeping.stop();
            dispatchers.values().forEach(Dispatcher::halt);
            webhooks.halt();
        });
    }
}
