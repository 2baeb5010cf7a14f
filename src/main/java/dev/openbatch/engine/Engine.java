package dev.openbatch.engine;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import dev.openbatch.api.Time;
import dev.openbatch.batches.BatchLog;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * One process's engine: a tick that moves batches through their lifecycle, a dispatcher per
 * upstream that keeps it busy, and the renewal of every claim this process holds. All of its
 * state lives on one Vert.x event-loop context. Several engines (processes, or instances in a
 * test) share one database safely: claims, leases and fences decide who does what.
 */
public class Engine {
    private static final Logger LOG = Logger.getLogger(Engine.class);
    private static final String LIVE = "('validating', 'in_progress', 'finalizing', 'cancelling')";
    /** Validations at once per process: they are CPU-bound (parsing) and the machine is small. */
    private static final int MAX_VALIDATIONS = 2;

    private final String node;
    private final Pool pool;
    private final Vertx vertx;
    private final Context context;
    private final Time time;
    private final EngineConfig config;
    private final EngineMetrics metrics;
    private final BatchSteps steps;
    private final BatchLog batchLog;
    private final Map<String, Dispatcher> dispatchers = new LinkedHashMap<>();
    /** Batches with a step running in this process, and their claim's fence. */
    private final Map<String, Long> busy = new LinkedHashMap<>();
    private int validations;
    private boolean ticking;
    private boolean tickAgain;
    private boolean stopped;
    private long tickTimer = -1;
    private long renewTimer = -1;
    private long lastGauges;

    Engine(String node, Pool pool, Vertx vertx, Time time, EngineConfig config, EngineMetrics metrics, BatchSteps steps,
            List<dev.openbatch.upstream.Upstream> upstreams, BatchLog batchLog) {
        this.node = node;
        this.pool = pool;
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.time = time;
        this.config = config;
        this.metrics = metrics;
        this.steps = steps;
        this.batchLog = batchLog;
        for (var u : upstreams) {
            dispatchers.put(u.name(), new Dispatcher(u, pool, context, time, config, node, metrics, this::wake));
        }
    }

    public String node() { return node; }

    /** Starts the periodic tick and lease renewal. */
    public void start() {
        context.runOnContext(() -> releaseOwnClaims().subscribe().with(v -> { }, e -> { }));
        context.runOnContext(() -> {
            tickTimer = vertx.setPeriodic(config.tick().toMillis(), id -> tick().subscribe().with(v -> { }, e -> { }));
            renewTimer = vertx.setPeriodic(Math.max(200, config.lease().toMillis() / 3), id -> renew().subscribe().with(v -> { }, e -> { }));
        });
        LOG.infof("engine %s started: %d upstream(s), tick %s, lease %s", node, dispatchers.size(), config.tick(), config.lease());
    }

    /**
     * A process restarted under the same node id must not renew what its previous life held:
     * those lines go back to the queue at once (fence+1, so any late write is dropped).
     */
    private Uni<Void> releaseOwnClaims() {
        return pool.preparedQuery("update requests set state = 'queued', claimed_by = null, lease_until = null, fence = fence + 1"
                + " where claimed_by = $1 and state = 'running'").execute(Tuple.of(node))
                .invoke(rs -> {
                    if (rs.rowCount() > 0) {
                        LOG.infof("returned %d lines claimed by an earlier run of %s to the queue", rs.rowCount(), node);
                    }
                })
                .chain(() -> pool.preparedQuery("update batches set claimed_by = null, lease_until = null where claimed_by = $1")
                        .execute(Tuple.of(node)))
                .replaceWithVoid()
                .onFailure().invoke(e -> LOG.warnf("could not release the claims of an earlier run (they expire with their lease): %s",
                        e.getMessage()))
                .onFailure().recoverWithNull();
    }

    /** Runs something on the engine's context and completes with its result. */
    private <T> Uni<T> onContext(Supplier<Uni<T>> work) {
        return Uni.createFrom().emitter(em -> context.runOnContext(() -> work.get().subscribe().with(em::complete, em::fail)));
    }

    /** Asks for a tick now (a batch was created or cancelled). */
    public void wake() {
        context.runOnContext(() -> tick().subscribe().with(v -> { }, e -> { }));
    }

    /** One pass over the live batches; also what tests call instead of waiting for the timer. */
    public Uni<Void> tick() {
        return onContext(this::tickOnContext);
    }

    public CompletionStage<Void> tickNow() {
        return tick().subscribeAsCompletionStage();
    }

    private Uni<Void> tickOnContext() {
        if (stopped) {
            return Uni.createFrom().voidItem();
        }
        if (ticking) {
            tickAgain = true; // a wake-up during a tick is not lost: one more tick follows
            return Uni.createFrom().voidItem();
        }
        ticking = true;
        tickAgain = false;
        long now = time.millis();
        return sweepLeasesOnContext()
                .chain(() -> pool.preparedQuery("select id, status, validated, expires_at, total, completed, failed, upstream from batches where status in " + LIVE
                        + " order by created_us").execute())
                .chain(rows -> {
                    Set<String> cancelling = new HashSet<>();
                    Set<String> expired = new HashSet<>();
                    List<Uni<Void>> work = new ArrayList<>();
                    for (Row r : rows) {
                        String id = r.getString(0);
                        String status = r.getString(1);
                        boolean validated = r.getBoolean(2);
                        Long expiresAt = r.getLong(3);
                        boolean settled = r.getInteger(5) + r.getInteger(6) >= r.getInteger(4);
                        String upstream = r.getString(7);
                        if ("cancelling".equals(status) && validated) {
                            cancelling.add(id);
                        }
                        boolean late = expiresAt != null && expiresAt * 1000 <= now;
                        if ("in_progress".equals(status) && late) {
                            expired.add(id);
                        }
                        if (busy.containsKey(id)) {
                            continue;
                        }
                        if (!validated && ("validating".equals(status) || "cancelling".equals(status))) {
                            if (validations < MAX_VALIDATIONS) {
                                validations++;
                                work.add(underClaim(id, fence -> steps.validate(id, fence).invoke(s -> {
                                    if (s != null) {
                                        batchLog.transition(id, s);
                                        // its lines are ready: no need to wait for the next tick
                                        context.runOnContext(() -> dispatchers.values().forEach(Dispatcher::wake));
                                    }
                                })).eventually(() -> validations--));
                            }
                        } else if ("cancelling".equals(status)) {
                            work.add(underClaim(id, fence -> steps.cancelQueued(id)
                                    .invoke(n -> metrics.lineFinished(upstream, "cancelled", n))
                                    .chain(() -> finishWhenSettled(id, fence, "cancelling", "cancelled"))));
                        } else if ("in_progress".equals(status) && late) {
                            work.add(underClaim(id, fence -> steps.expireUnfinished(id, fence)
                                    .invoke(n -> metrics.lineFinished(upstream, "expired", n))
                                    .chain(() -> steps.finish(id, fence, "in_progress", "expired"))
                                    .invoke(done -> log(id, done, "expired"))));
                        } else if ("in_progress".equals(status) && settled) {
                            work.add(underClaim(id, fence -> steps.startFinalizing(id, fence)
                                    .invoke(started -> log(id, started, "finalizing"))
                                    .chain(started -> started ? finish(id, fence, "finalizing", "completed") : Uni.createFrom().item(false))));
                        } else if ("finalizing".equals(status)) {
                            work.add(underClaim(id, fence -> finish(id, fence, "finalizing", "completed")));
                        }
                    }
                    for (Dispatcher d : dispatchers.values()) {
                        d.abort(cancelling, "cancelled", "batch_cancelled", "The batch was cancelled while this request was in flight.");
                        d.abort(expired, "expired", "batch_expired", "The batch's completion window ran out while this request was in flight.");
                        d.wake();
                    }
                    gauges(now);
                    // The steps run on their own; the tick does not wait for a long validation.
                    for (Uni<Void> s : work) {
                        s.subscribe().with(v -> { }, e -> LOG.warnf("batch step failed, will retry: %s", e.getMessage()));
                    }
                    return Uni.createFrom().voidItem();
                })
                .onFailure().invoke(e -> LOG.warnf("engine tick failed (database unreachable?), will retry: %s", e.getMessage()))
                .onFailure().recoverWithNull()
                .eventually(() -> {
                    ticking = false;
                    if (tickAgain) {
                        wake();
                    }
                })
                .replaceWithVoid();
    }

    private Uni<Boolean> finish(String id, long fence, String from, String to) {
        return steps.finish(id, fence, from, to).invoke(done -> log(id, done, to));
    }

    private Uni<Boolean> finishWhenSettled(String id, long fence, String from, String to) {
        return pool.preparedQuery("select completed + failed >= total from batches where id = $1").execute(Tuple.of(id))
                .chain(rs -> rs.iterator().next().getBoolean(0) ? finish(id, fence, from, to) : Uni.createFrom().item(false));
    }

    private void log(String id, Boolean done, String status) {
        if (Boolean.TRUE.equals(done)) {
            batchLog.transition(id, status);
        }
    }

    /** Runs a step under the batch's claim; skips it when another process holds the claim. */
    private <T> Uni<Void> underClaim(String id, java.util.function.Function<Long, Uni<T>> step) {
        // busy from this moment, not from when the claim answers: a tick that comes in between
        // (the timer and a wake-up) must not start the same step a second time
        busy.put(id, -1L);
        return steps.claim(id, node, config.lease().toMillis()).chain(fence -> {
            if (fence == null) {
                busy.remove(id);
                return Uni.createFrom().voidItem();
            }
            busy.put(id, fence);
            return step.apply(fence)
                    .onFailure(BatchSteps.Fenced.class).recoverWithNull()
                    .replaceWithVoid()
                    .emitOn(this::runOnContext) // steps may end on a worker thread (validation parses there)
                    .eventually(() -> {
                        busy.remove(id);
                        return steps.release(id, fence).onFailure().recoverWithNull();
                    });
        }).emitOn(this::runOnContext);
    }

    private void runOnContext(Runnable r) {
        context.runOnContext(r);
    }

    /** Expired claims on lines go back to the queue (the fence moves so a late writer changes nothing). */
    public Uni<Integer> sweepLeases() {
        return onContext(this::sweepLeasesOnContext);
    }

    private Uni<Integer> sweepLeasesOnContext() {
        return pool.preparedQuery("update requests set state = 'queued', claimed_by = null, lease_until = null, fence = fence + 1"
                + " where state = 'running' and lease_until < $1")
                .execute(Tuple.of(time.millis()))
                .map(rs -> {
                    int n = rs.rowCount();
                    if (n > 0) {
                        metrics.leasesTakenOver(n);
                        LOG.infof("returned %d lines whose claim had expired to the queue", n);
                    }
                    return n;
                });
    }

    /** Extends every claim this process holds. */
    Uni<Void> renew() {
        return onContext(() -> {
            long until = time.millis() + config.lease().toMillis();
            return pool.preparedQuery("update requests set lease_until = $2 where claimed_by = $1 and state = 'running'")
                    .execute(Tuple.of(node, until))
                    .chain(() -> pool.preparedQuery("update batches set lease_until = $2 where claimed_by = $1")
                            .execute(Tuple.of(node, until)))
                    .replaceWithVoid()
                    .onFailure().invoke(e -> LOG.warnf("renewing claims failed, will retry: %s", e.getMessage()))
                    .onFailure().recoverWithNull();
        });
    }

    private void gauges(long now) {
        if (now - lastGauges < 5000) {
            return;
        }
        if (now / 60_000 != lastGauges / 60_000) {
            deleteExpiredFiles(now);
        }
        lastGauges = now;
        pool.query("select status, count(*) from batches group by status").execute()
                .invoke(rows -> {
                    Map<String, Long> counts = new LinkedHashMap<>();
                    for (Row r : rows) {
                        counts.put(r.getString(0), r.getLong(1));
                    }
                    for (String s : EngineMetrics.STATUSES) {
                        metrics.batches(s, counts.getOrDefault(s, 0L));
                    }
                })
                .chain(() -> pool.query("select count(*) from requests where state = 'queued'").execute())
                .invoke(rows -> metrics.waiting(rows.iterator().next().getLong(0)))
                .subscribe().with(v -> { }, e -> { });
    }

    /** Files past their {@code expires_at} are deleted, except the input of a batch still running. */
    private void deleteExpiredFiles(long now) {
        pool.preparedQuery("delete from files f where f.expires_at is not null and f.expires_at < $1"
                + " and not exists (select 1 from batches b where b.input_file_id = f.id and b.status in " + LIVE + ")")
                .execute(Tuple.of(now / 1000))
                .subscribe().with(rs -> {
                    if (rs.rowCount() > 0) {
                        LOG.infof("deleted %d expired file(s)", rs.rowCount());
                    }
                }, e -> { });
    }

    /** Lines this engine has sent upstream so far (every attempt counts). */
    public long sent() {
        return dispatchers.values().stream().mapToLong(Dispatcher::sent).sum();
    }

    /** Lines in flight from this process, all upstreams. */
    public int inFlight() {
        return dispatchers.values().stream().mapToInt(Dispatcher::inFlight).sum();
    }

    /**
     * Graceful stop: no new claims, lines in flight get up to {@code grace} to finish, what is
     * still held is given back, every result is written. Completes when done.
     */
    public CompletionStage<Void> stop(java.time.Duration grace) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        context.runOnContext(() -> {
            stopped = true;
            vertx.cancelTimer(tickTimer); // the leases are still renewed while lines in flight finish
            dispatchers.values().forEach(Dispatcher::stopClaiming);
            long deadline = System.currentTimeMillis() + grace.toMillis();
            waitDrained(deadline, done);
        });
        return done;
    }

    private void waitDrained(long deadline, CompletableFuture<Void> done) {
        boolean inFlight = dispatchers.values().stream().anyMatch(d -> d.inFlight() > 0);
        if (inFlight && System.currentTimeMillis() < deadline) {
            vertx.setTimer(50, id -> waitDrained(deadline, done));
            return;
        }
        dispatchers.values().forEach(Dispatcher::releaseInFlight);
        boolean writing = dispatchers.values().stream().anyMatch(d -> d.pendingWrites() > 0);
        if (writing && System.currentTimeMillis() < deadline + 5000) {
            dispatchers.values().forEach(Dispatcher::flush);
            vertx.setTimer(50, id -> waitDrained(deadline, done));
            return;
        }
        vertx.cancelTimer(renewTimer);
        pool.preparedQuery("update batches set claimed_by = null, lease_until = null where claimed_by = $1")
                .execute(Tuple.of(node))
                .subscribe().with(r -> done.complete(null), e -> done.complete(null));
    }

    /** For tests: stop without any goodbye, as a killed process would (claims stay until their lease runs out). */
    public void crash() {
        context.runOnContext(() -> {
            stopped = true;
            vertx.cancelTimer(tickTimer);
            vertx.cancelTimer(renewTimer);
            dispatchers.values().forEach(Dispatcher::crash);
        });
    }
}
