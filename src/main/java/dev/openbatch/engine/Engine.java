package dev.openbatch.engine;
import dev.openbatch.engine.config.EngineConfig;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.api.Time;
import dev.openbatch.engine.dispatch.Dispatcher;
import dev.openbatch.engine.housekeeping.Housekeeping;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.engine.lifecycle.Lifecycle;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.BatchStore.Work;
import dev.openbatch.store.NodeStore;
import dev.openbatch.webhooks.WebhookDeliverer;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;

/**
 * One process's engine. A tick finds the batches with a batch-level step to do, plans it with
 * {@link Lifecycle}'s decisions ({@link TickPlan}), and runs each step under the batch's claim
 * (validations as this process's {@link ValidationSlots} allow); a {@link Dispatcher} per upstream
 * keeps that upstream busy with lines; {@link Housekeeping} runs the periodic jobs. All of the
 * engine's state lives on one Vert.x event-loop context. Several engines (processes, or instances
 * in a test) share one database safely: claims, heartbeats and fences decide who does what.
 * Put together by {@link EngineBuilder}.
 */
final class Engine {
    private static final Logger LOG = Logger.getLogger(Engine.class);

    private final String node;
    private final Context context;
    private final Time time;
    private final EngineConfig config;
    private final Lifecycle lifecycle;
    private final BatchStore batches;
    private final NodeStore nodes;
    private final BatchLog batchLog;
    private final WebhookDeliverer webhooks;
    private final Housekeeping housekeeping;
    private final ValidationSlots validations;
    private final Dispatchers dispatchers;
    /** Batches with a step running in this process (being claimed, or under its claim). */
    private final Set<String> busy = new HashSet<>();
    private boolean registered;
    private boolean ticking;
    private boolean tickAgain;
    private boolean stopped;
    private long tickTimer = -1;

    /** Takes each part from {@code parts} once. */
    Engine(EngineBuilder parts) {
        this.node = parts.node();
        this.time = parts.time();
        this.config = parts.config();
        this.batches = parts.batches();
        this.batchLog = parts.batchLog();
        this.nodes = parts.nodeStore();
        this.lifecycle = parts.lifecycle(() -> !stopped);
        this.webhooks = parts.webhookDeliverer(); // on a context of its own, made before the engine's
        this.context = parts.vertx().getOrCreateContext();
        this.validations = new ValidationSlots(config.validations());
        this.dispatchers = parts.dispatchers(context, this::wake);
        this.housekeeping = parts.housekeeping(context, nodes, webhooks, dispatchers, () -> stopped);
    }

    String node() { return node; }

    /** Registers this process's heartbeat (giving back what an earlier life under the same name held), then starts ticking. */
    void start() {
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
            tickTimer = context.owner().setPeriodic(config.tick().toMillis(), id -> tickOnContext().subscribe().with(v -> { }, e -> { }));
            housekeeping.start();
            webhooks.start();
            LOG.infof("engine %s started: %d upstream(s), tick %s, lease %s", node, dispatchers.size(), config.tick(), config.lease());
            tickOnContext().subscribe().with(v -> { }, e -> { });
        }), e -> {
            LOG.warnf("engine %s could not register (database unreachable?), retrying: %s", node, LogText.of(e.getMessage(), 1000));
            context.owner().setTimer(1000, id -> context.runOnContext(this::register));
        });
    }

    /** Asks for a tick now (a batch was created, cancelled, or settled its last line). */
    void wake() {
        tick().subscribe().with(v -> { }, e -> { });
    }

    /** One pass over the batches with a step to do, on the engine's context; completes when the steps are started. */
    Uni<Void> tick() {
        return Uni.createFrom().emitter(em -> context.runOnContext(() -> tickOnContext().subscribe().with(em::complete, em::fail)));
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
        TickPlan plan = TickPlan.of(rows, now, busy::contains);
        plan.steps().forEach((w, next) -> step(w.id(), fence -> lifecycle.run(next, w, fence), () -> { }));
        for (Work w : validations.take(plan.toValidate(), now)) {
            step(w.id(), fence -> lifecycle.run(Lifecycle.Step.VALIDATE, w, fence).call(s -> s != BatchStatus.IN_PROGRESS ? Uni.createFrom().voidItem()
                    : handOver(w.id())), () -> {
                validations.free(w.id());
                wake(); // a slot is free: the next waiting validation starts now, not at the next tick
            });
        }
        dispatchers.abortAndNudge(plan.aborts());
    }

    /** Its lines are ready now: the batch's dispatcher takes it on at once (if this engine runs), without reading every batch again. */
    private Uni<Void> handOver(String batchId) {
        return dispatchers.handOver(batchId, () -> registered && !stopped);
    }

    /**
     * Runs a batch-level step under the batch's claim; skips it when another process holds the
     * claim. The batch is busy here from now until the step ends, whether it succeeds, loses its
     * claim or fails (a failed claim too: the next tick tries again).
     */
    private void step(String id, Function<Long, Uni<BatchStatus>> run, Runnable after) {
        busy.add(id);
        batches.claimStep(id, node, time.millis(), config.lease().toMillis())
                .chain(fence -> fence == null ? Uni.createFrom().<BatchStatus>nullItem() : run.apply(fence)
                        .onFailure(Lifecycle.Fenced.class).recoverWithNull()
                        .call(() -> batches.releaseStep(id, fence).onFailure().recoverWithNull()))
                .emitOn(context::runOnContext) // steps may end on a worker thread (validation parses there)
                .eventually(() -> {
                    busy.remove(id);
                    after.run();
                })
                .subscribe().with(s -> {
                    if (s != null) {
                        batchLog.transition(id, s.wire());
                        if (s.terminal()) {
                            webhooks.nudge(); // its event is due now
                        }
                    }
                }, e -> LOG.warnf("batch %s: step failed, will retry: %s", id, LogText.of(e.getMessage(), 1000)));
    }

    /** Lines in flight from this process, all upstreams. */
    int inFlight() {
        return dispatchers.inFlight();
    }

    /** Lines in flight from this process to one upstream. Read from outside the engine's context: for tests and logs. */
    int inFlight(String upstream) {
        return dispatchers.inFlight(upstream);
    }

    /** This process's share of an upstream's cap now (-1 for one it does not send to). Read from outside the engine's context: for tests and logs. */
    int share(String upstream) {
        return dispatchers.share(upstream);
    }

    /**
     * Graceful stop: no new claims, lines in flight get up to {@code grace} to finish, what is
     * still held is given back, every result is written, and the heartbeat row goes. Completes when done.
     */
    CompletionStage<Void> stop(Duration grace) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        context.runOnContext(() -> {
            stopped = true;
            context.owner().cancelTimer(tickTimer); // the heartbeat goes on while lines in flight finish
            dispatchers.stopClaiming();
            webhooks.stopClaiming();
            waitDrained(System.currentTimeMillis() + grace.toMillis(), done);
        });
        return done;
    }

    private void waitDrained(long deadline, CompletableFuture<Void> done) {
        boolean waiting = dispatchers.inFlight() + webhooks.inFlight() > 0 && System.currentTimeMillis() < deadline;
        if (!waiting) { // then what is still in flight goes back, and its results get 5 s more to be written
            dispatchers.releaseInFlight();
            waiting = dispatchers.unwritten() > 0 && System.currentTimeMillis() < deadline + 5000;
        }
        if (waiting) {
            context.owner().setTimer(50, id -> waitDrained(deadline, done));
            return;
        }
        housekeeping.stop();
        webhooks.giveBack().onFailure().recoverWithNull().chain(() -> nodes.leave(node))
                .onFailure().invoke(e -> LOG.warnf("engine %s could not say goodbye (its lines return to the queue when its heartbeat is found stale): %s",
                        node, LogText.of(e.getMessage(), 1000)))
                .onFailure().recoverWithNull()
                .subscribe().with(v -> {
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
            context.owner().cancelTimer(tickTimer);
            housekeeping.stop();
            dispatchers.halt();
            webhooks.halt();
        });
    }
}
