package dev.openbatch.engine;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

import dev.openbatch.engine.dispatch.Dispatcher;
import dev.openbatch.engine.dispatch.Fleet;
import dev.openbatch.status.LineState;
import dev.openbatch.store.BatchStore;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;

/**
 * An engine's dispatchers, one per upstream, and what the engine asks of them: a batch whose
 * lines are ready handed over to the dispatchers of every upstream of its model, and for all at
 * once, the tick's aborts and nudge, the heartbeat's giving back, the request timeouts, and the
 * stages of a stop. It is also their {@link Fleet}: a dispatcher that gives lines back, is drained
 * or comes back makes the others look again, and an overflow one asks whether a regular upstream
 * of a model is live. Used on the engine's context only.
 */
final class Dispatchers implements Fleet {
    private final Map<String, Dispatcher> byUpstream = new LinkedHashMap<>();
    private final BatchStore batches;
    private final Context context;

    /** Makes the dispatcher of an upstream, given the models it takes and its fleet. */
    interface Maker {
        Dispatcher make(Upstream upstream, Upstreams.Takes takes, Fleet fleet);
    }

    Dispatchers(List<Upstream> upstreams, BatchStore batches, Context context, Maker dispatcher) {
        this.batches = batches;
        this.context = context;
        upstreams.forEach(u -> byUpstream.put(u.name(), dispatcher.make(u, Upstreams.Takes.of(u, upstreams), this)));
    }

    /**
     * A batch's lines are ready: the dispatchers of its model's upstreams take it on at once,
     * without reading every batch again, if {@code taking} still holds once the batch is read.
     */
    Uni<Void> handOver(String batchId, BooleanSupplier taking) {
        return batches.started(batchId).invoke(e -> context.runOnContext(() -> {
            if (e == null || !taking.getAsBoolean()) {
                return;
            }
            for (Dispatcher d : byUpstream.values()) {
                if (d.takes(e.model())) {
                    d.started(e);
                }
            }
        })).onFailure().recoverWithNull().replaceWithVoid();
    }

    @Override
    public boolean regularLive(String model) {
        for (Dispatcher d : byUpstream.values()) {
            if (!d.overflow() && !d.drained() && d.takes(model)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void changed(Dispatcher from) {
        for (Dispatcher d : byUpstream.values()) {
            if (d != from) {
                d.othersChanged();
            }
        }
    }

    int size() {
        return byUpstream.size();
    }

    /** The dispatchers whose upstream's cap is shared with the other live processes. */
    List<Dispatcher> shared() {
        return byUpstream.values().stream().filter(Dispatcher::shared).toList();
    }

    /** This process's share of an upstream's cap now (-1 for an upstream it does not send to). */
    int share(String upstream) {
        Dispatcher d = byUpstream.get(upstream);
        return d == null ? -1 : d.share();
    }

    /** Lines in flight to one upstream (0 for an upstream it does not send to). */
    int inFlight(String upstream) {
        Dispatcher d = byUpstream.get(upstream);
        return d == null ? 0 : d.inFlight();
    }

    /**
     * The end of a tick: the lines of these cancelled and expired batches held here settle so
     * (those in flight are aborted), then every dispatcher looks for work.
     */
    void abortAndNudge(Map<LineState, Set<String>> aborts) {
        for (Dispatcher d : byUpstream.values()) {
            d.abort(aborts.getOrDefault(LineState.CANCELLED, Set.of()), LineState.CANCELLED, "batch_cancelled",
                    "The batch was cancelled while this request was in flight.");
            d.abort(aborts.getOrDefault(LineState.EXPIRED, Set.of()), LineState.EXPIRED, "batch_expired",
                    "The batch's completion window ran out while this request was in flight.");
            d.nudge();
        }
    }

    /** The projects paused at their spend cap now: no dispatcher sends their lines (see {@link Dispatcher#paused}). */
    void paused(Set<String> projects) {
        byUpstream.values().forEach(d -> d.paused(projects));
    }

    /** Lines in flight, all upstreams. */
    int inFlight() {
        return byUpstream.values().stream().mapToInt(Dispatcher::inFlight).sum();
    }

    /** Answered lines whose results are not written yet, all upstreams. */
    int unwritten() {
        return byUpstream.values().stream().mapToInt(Dispatcher::unwritten).sum();
    }

    /** This process was declared dead: everything held is aborted and given back. */
    void forgetClaims() {
        byUpstream.values().forEach(Dispatcher::forgetClaims);
    }

    void expireSlowRequests() {
        byUpstream.values().forEach(Dispatcher::expireSlowRequests);
    }

    void stopClaiming() {
        byUpstream.values().forEach(Dispatcher::stopClaiming);
    }

    void releaseInFlight() {
        byUpstream.values().forEach(Dispatcher::releaseInFlight);
    }

    void halt() {
        byUpstream.values().forEach(Dispatcher::halt);
    }
}
