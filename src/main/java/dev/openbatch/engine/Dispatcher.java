package dev.openbatch.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

import dev.openbatch.api.Ids;
import dev.openbatch.api.Time;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.UpstreamResponse;
import io.smallrye.mutiny.subscription.Cancellable;
import io.vertx.mutiny.core.Context;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * Keeps one upstream's {@code max-concurrency} full: it holds a small stock of claimed lines
 * beyond what is in flight, starts the next line the moment one finishes, and claims more
 * before the stock runs out. Confined to the engine's event-loop context: no locks.
 */
class Dispatcher {
    private static final Logger LOG = Logger.getLogger(Dispatcher.class);
    private static final JsonFactory JSON = JsonFactory.builder().build();

    /** Batches with ready lines for this upstream, most urgent first, with how many are ready (capped). */
    static final String ELIGIBLE = """
            select b.id, b.project, b.job_id, b.endpoint, b.expires_at, j.max_concurrency,
                   (select count(*) from (select 1 from requests r
                                           where r.batch_id = b.id and r.state = 'queued' and r.not_before <= $2
                                           limit $3) q) as ready
              from batches b join jobs j on j.id = b.job_id
             where b.status = 'in_progress' and b.upstream = $1
             order by b.expires_at asc nulls last, j.priority desc, b.created_us asc
             limit 100
            """;

    /** Claims up to n ready lines of each named batch, skipping lines another claim holds. */
    static final String CLAIM = """
            with want as (select * from unnest($1::text[], $2::int[]) as w(batch_id, n)),
            picked as (
              select p.batch_id, p.line from want w cross join lateral (
                select r.batch_id, r.line from requests r
                 where r.batch_id = w.batch_id and r.state = 'queued' and r.not_before <= $3
                 order by r.line limit w.n for update skip locked) p
            )
            update requests r set state = 'running', claimed_by = $4, lease_until = $5, fence = r.fence + 1,
                   attempts = r.attempts + 1
              from picked p
             where r.batch_id = p.batch_id and r.line = p.line
            returning r.batch_id, r.line, r.fence, r.attempts, r.body
            """;

    private final Upstream upstream;
    private final Pool pool;
    private final Context context;
    private final Time time;
    private final EngineConfig config;
    private final String node;
    private final EngineMetrics metrics;
    private final ResultWriter writer;
    /** Called when a write settled the last line of a batch: the engine finalizes it without waiting for its tick. */
    private final Runnable batchSettled;
    private final int capacity;
    private final int prefetch;

    private final ArrayDeque<Claimed> stock = new ArrayDeque<>();
    private final Map<String, InFlight> inFlight = new HashMap<>();
    private final Map<String, Integer> heldByProject = new HashMap<>();
    private final Map<String, Integer> heldByJob = new HashMap<>();
    private boolean claiming;
    private boolean idle;
    private boolean stopped;
    private long claimFailures;
    private long sent;

    private static final class InFlight {
        final Claimed line;
        final long started = System.nanoTime();
        Cancellable cancellable;

        InFlight(Claimed line) {
            this.line = line;
        }
    }

    Dispatcher(Upstream upstream, Pool pool, Context context, Time time, EngineConfig config, String node, EngineMetrics metrics,
            Runnable batchSettled) {
        this.upstream = upstream;
        this.pool = pool;
        this.context = context;
        this.time = time;
        this.config = config;
        this.node = node;
        this.metrics = metrics;
        this.batchSettled = batchSettled;
        this.capacity = upstream.maxConcurrency();
        this.prefetch = Math.max(16, capacity);
        this.writer = new ResultWriter(pool, context.owner(), config.writeBatch(), Math.max(1, config.writeDelay().toMillis()),
                this::applied, metrics);
        metrics.upstream(upstream.name(), inFlight::size, capacity);
    }

    String name() { return upstream.name(); }

    int inFlight() { return inFlight.size(); }

    long sent() { return sent; }

    int held() { return inFlight.size() + stock.size(); }

    int pendingWrites() { return writer.pending(); }

    /** Something may have become ready: look for work again. */
    void wake() {
        idle = false;
        pump();
    }

    /** Starts lines while there is room, and claims more when the stock runs low. */
    void pump() {
        if (stopped) {
            return;
        }
        while (inFlight.size() < capacity && !stock.isEmpty()) {
            start(stock.poll());
        }
        if (!claiming && !idle && held() <= capacity + prefetch / 2) {
            claim();
        }
    }

    private void claim() {
        claiming = true;
        long started = System.nanoTime();
        long now = time.millis();
        int want = capacity + prefetch - held();
        pool.preparedQuery(ELIGIBLE).execute(Tuple.of(upstream.name(), now, capacity + prefetch))
                .chain(rows -> {
                    Map<String, Eligible> plan = plan(rows, want);
                    if (plan.isEmpty()) {
                        return io.smallrye.mutiny.Uni.createFrom().item(List.<Claimed>of());
                    }
                    String[] ids = plan.keySet().toArray(String[]::new);
                    Integer[] ns = plan.values().stream().map(e -> e.take).toArray(Integer[]::new);
                    return pool.preparedQuery(CLAIM)
                            .execute(Tuple.of(ids, ns, now, node, now + config.lease().toMillis()))
                            .map(claimed -> {
                                List<Claimed> out = new ArrayList<>(claimed.size());
                                for (Row r : claimed) {
                                    Eligible e = plan.get(r.getString(0));
                                    out.add(new Claimed(e.id, r.getInteger(1), r.getLong(2), r.getInteger(3), r.getString(4),
                                            e.endpoint, e.project, e.jobId, e.expiresAt == null ? null : e.expiresAt * 1000));
                                }
                                return out;
                            });
                })
                .subscribe().with(claimed -> {
                    claiming = false;
                    claimFailures = 0;
                    metrics.claimLatency(System.nanoTime() - started);
                    if (stopped) {
                        claimed.forEach(c -> writer.add(release(c)));
                        return;
                    }
                    for (Claimed c : claimed) {
                        hold(c, 1);
                        stock.add(c);
                    }
                    idle = claimed.isEmpty();
                    pump();
                }, failure -> {
                    claiming = false;
                    claimFailures++;
                    LOG.warnf("claiming lines for upstream %s failed, retrying: %s", upstream.name(), failure.getMessage());
                    context.owner().setTimer(Math.min(5000, 100L << Math.min(6, claimFailures)), t -> pump());
                });
    }

    private static final class Eligible {
        String id;
        String project;
        String jobId;
        String endpoint;
        Long expiresAt;
        Integer jobCap;
        int ready;
        int take;
    }

    /**
     * How many lines to take from each batch: every project with ready work gets an equal share
     * of the upstream (minus what it already holds), spent on its batches by earliest deadline and
     * then job priority; what a project cannot use goes to the others in the same order.
     */
    private Map<String, Eligible> plan(io.vertx.mutiny.sqlclient.RowSet<Row> rows, int want) {
        List<Eligible> ready = new ArrayList<>();
        LinkedHashMap<String, List<Eligible>> byProject = new LinkedHashMap<>();
        for (Row r : rows) {
            Eligible e = new Eligible();
            e.id = r.getString(0);
            e.project = r.getString(1);
            e.jobId = r.getString(2);
            e.endpoint = r.getString(3);
            e.expiresAt = r.getLong(4);
            e.jobCap = r.getInteger(5);
            e.ready = r.getLong(6).intValue();
            if (e.ready > 0) {
                ready.add(e);
                byProject.computeIfAbsent(e.project, p -> new ArrayList<>()).add(e);
            }
        }
        Map<String, Integer> jobRoom = new HashMap<>();
        for (Eligible e : ready) {
            if (e.jobCap != null) {
                jobRoom.putIfAbsent(e.jobId, Math.max(0, e.jobCap - heldByJob.getOrDefault(e.jobId, 0)));
            }
        }
        int left = Math.max(0, want);
        if (!byProject.isEmpty()) {
            int share = (capacity + prefetch + byProject.size() - 1) / byProject.size();
            for (var entry : byProject.entrySet()) {
                int budget = Math.max(0, share - heldByProject.getOrDefault(entry.getKey(), 0));
                for (Eligible e : entry.getValue()) {
                    int k = take(e, Math.min(budget, left), jobRoom);
                    budget -= k;
                    left -= k;
                }
            }
            for (Eligible e : ready) {
                left -= take(e, left, jobRoom);
            }
        }
        Map<String, Eligible> plan = new LinkedHashMap<>();
        for (Eligible e : ready) {
            if (e.take > 0) {
                plan.put(e.id, e);
            }
        }
        return plan;
    }

    private static int take(Eligible e, int most, Map<String, Integer> jobRoom) {
        int k = Math.min(most, e.ready - e.take);
        Integer room = jobRoom.get(e.jobId);
        if (room != null) {
            k = Math.min(k, room);
            jobRoom.put(e.jobId, room - Math.max(0, k));
        }
        if (k <= 0) {
            return 0;
        }
        e.take += k;
        return k;
    }

    private void hold(Claimed c, int delta) {
        heldByProject.merge(c.project(), delta, Integer::sum);
        heldByJob.merge(c.jobId(), delta, Integer::sum);
    }

    private static String key(String batchId, int line) {
        return batchId + "#" + line;
    }

    private void start(Claimed c) {
        InFlight f = new InFlight(c);
        sent++;
        String k = key(c.batchId(), c.line());
        inFlight.put(k, f);
        f.cancellable = upstream.send(c.endpoint(), c.body())
                // every upstream gets the same bound, the built-in one too (HTTP ones also time out themselves)
                .ifNoItem().after(config.requestTimeout()).failWith(() -> new java.util.concurrent.TimeoutException("timed out"))
                .emitOn(r -> context.runOnContext(r))
                .subscribe().with(resp -> done(k, f, resp, null), err -> done(k, f, null, err));
    }

    private void done(String k, InFlight f, UpstreamResponse resp, Throwable err) {
        if (inFlight.get(k) != f) {
            return; // aborted meanwhile: its result is already written
        }
        inFlight.remove(k);
        hold(f.line, -1);
        metrics.upstreamLatency(upstream.name(), System.nanoTime() - f.started);
        writer.add(outcome(f.line, resp, err));
        pump();
    }

    /** Turns an answer (or its absence) into a result: success, a retry later, or a failure for the error file. */
    Result outcome(Claimed c, UpstreamResponse resp, Throwable err) {
        long now = time.millis();
        if (resp != null && resp.ok()) {
            Scan s = scan(resp.body());
            return new Result(c.batchId(), c.line(), c.fence(), "succeeded", 0, resp.status(), requestId(resp),
                    jsonBody(resp.body(), s.json()), null, null, s.input(), s.output(), s.total());
        }
        boolean retryable = resp == null || Backoff.retryable(resp.status());
        if (retryable && c.attempts() < config.maxAttempts()) {
            long delay = Backoff.delayMillis(c.attempts(), config.backoffMin().toMillis(), config.backoffMax().toMillis(),
                    resp == null ? null : resp.retryAfterMillis());
            long at = now + delay;
            if (c.deadlineMillis() == null || at < c.deadlineMillis()) {
                return new Result(c.batchId(), c.line(), c.fence(), "queued", at, resp == null ? null : resp.status(),
                        resp == null ? null : requestId(resp), resp == null ? null : jsonBody(resp.body()),
                        resp == null ? "upstream_unreachable" : null, resp == null ? describe(err) : null, 0, 0, 0);
            }
        }
        if (resp != null) {
            return new Result(c.batchId(), c.line(), c.fence(), "failed", 0, resp.status(), requestId(resp), jsonBody(resp.body()),
                    null, null, 0, 0, 0);
        }
        return new Result(c.batchId(), c.line(), c.fence(), "failed", 0, null, null, null, "upstream_unreachable",
                "No answer from upstream '" + upstream.name() + "' after " + c.attempts() + " attempt(s): " + describe(err), 0, 0, 0);
    }

    private static String requestId(UpstreamResponse r) {
        return r.requestId() != null ? r.requestId() : Ids.request();
    }

    private static String describe(Throwable err) {
        if (err == null) {
            return "no answer";
        }
        String m = err.getMessage();
        if (err instanceof java.util.concurrent.TimeoutException || (m != null && m.contains("timeout"))) {
            return "timed out";
        }
        if (err instanceof java.net.ConnectException || (m != null && m.toLowerCase().contains("connection refused"))) {
            return "connection refused";
        }
        return m == null ? "connection failed" : (m.length() > 200 ? m.substring(0, 200) : m);
    }

    /** Gives claimed lines of these batches back as cancelled or expired, aborting those in flight. */
    void abort(Set<String> batchIds, String state, String code, String message) {
        if (batchIds.isEmpty()) {
            return;
        }
        for (Iterator<Claimed> it = stock.iterator(); it.hasNext();) {
            Claimed c = it.next();
            if (batchIds.contains(c.batchId())) {
                it.remove();
                hold(c, -1);
                writer.add(Result.aborted(c, state, code, message));
            }
        }
        for (Iterator<Map.Entry<String, InFlight>> it = inFlight.entrySet().iterator(); it.hasNext();) {
            InFlight f = it.next().getValue();
            if (batchIds.contains(f.line.batchId())) {
                it.remove();
                hold(f.line, -1);
                if (f.cancellable != null) {
                    f.cancellable.cancel();
                }
                writer.add(Result.aborted(f.line, state, code, message));
            }
        }
        pump();
    }

    /** Stops claiming and gives back the stock; lines in flight may still finish. */
    void stopClaiming() {
        stopped = true;
        while (!stock.isEmpty()) {
            Claimed c = stock.poll();
            hold(c, -1);
            writer.add(release(c));
        }
        writer.flush();
    }

    /** Gives back lines still in flight (after the grace period). */
    void releaseInFlight() {
        for (InFlight f : inFlight.values()) {
            if (f.cancellable != null) {
                f.cancellable.cancel();
            }
            writer.add(release(f.line));
        }
        inFlight.clear();
        writer.flush();
    }

    void flush() {
        writer.flush();
    }

    /** For tests: forget everything at once, as a killed process would; nothing more is written. */
    void crash() {
        stopped = true;
        for (InFlight f : inFlight.values()) {
            if (f.cancellable != null) {
                f.cancellable.cancel();
            }
        }
        inFlight.clear();
        stock.clear();
        writer.discard();
    }

    private static Result release(Claimed c) {
        return new Result(c.batchId(), c.line(), c.fence(), "queued", 0, null, null, null, null, null, 0, 0, 0);
    }

    private void applied(ResultWriter.Applied a) {
        if (a.settledABatch()) {
            batchSettled.run();
        }
        for (Result r : a.applied()) {
            metrics.lineFinished(upstream.name(), r.settled() ? r.state() : (r.errorCode() != null || r.statusCode() != null ? "retried" : "released"));
        }
    }

    /** What one read of an answer's body tells: whether it is JSON, and its token counts. */
    record Scan(boolean json, long input, long output, long total) {
    }

    /**
     * Reads the body once: checks it is one JSON value and takes the token counts of its
     * top-level {@code usage} (chat, completions, embeddings and the Responses API spellings).
     */
    static Scan scan(String body) {
        long in = 0;
        long out = 0;
        long total = -1;
        try (JsonParser p = JSON.createParser(body)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                return new Scan(false, 0, 0, 0);
            }
            if (first == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String f = p.currentName();
                    JsonToken t = p.nextToken();
                    if ("usage".equals(f) && t == JsonToken.START_OBJECT) {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String u = p.currentName();
                            JsonToken v = p.nextToken();
                            if (v == JsonToken.VALUE_NUMBER_INT) {
                                switch (u) {
                                    case "prompt_tokens", "input_tokens" -> in = p.getLongValue();
                                    case "completion_tokens", "output_tokens" -> out = p.getLongValue();
                                    case "total_tokens" -> total = p.getLongValue();
                                    default -> {
                                    }
                                }
                            } else {
                                p.skipChildren();
                            }
                        }
                    } else {
                        p.skipChildren();
                    }
                }
            } else {
                p.skipChildren();
            }
            if (p.nextToken() != null) {
                return new Scan(false, 0, 0, 0);
            }
        } catch (Exception e) {
            return new Scan(false, 0, 0, 0);
        }
        return new Scan(true, in, out, total < 0 ? in + out : total);
    }

    /**
     * The body as one line of JSON: JSON keeps its text (raw line breaks can only be white space
     * between tokens, so they become spaces); anything else becomes a JSON string.
     */
    static String jsonBody(String body, boolean json) {
        if (body == null) {
            return "null";
        }
        if (!json) {
            return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(body)) + "\"";
        }
        return (body.indexOf('\n') >= 0 || body.indexOf('\r') >= 0 ? body.replace('\n', ' ').replace('\r', ' ') : body).strip();
    }

    static String jsonBody(String body) {
        return body == null ? "null" : jsonBody(body, scan(body).json());
    }
}
