package dev.openbatch.engine;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

import dev.openbatch.engine.dispatch.Dispatcher;
import dev.openbatch.status.LineState;
import dev.openbatch.store.BatchStore;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;
import dev.openbatch.upstream.Upstream;

/**
 * An engine's dispatchers, one per upstream, and what the engine asks of them: a batch whose
 * lines are ready handed over to its upstream's dispatcher, and for all at once, the tick's aborts
 * and nudge, the heartbeat's giving back, the request timeouts, and the stages of a stop. Used on
 * the engine's context only.
 */
final class Dispatchers {
    private final Map<String, Dispatcher> byUpstream = new LinkedHashMap<>();
    private final BatchStore batches;
    private final Context context;

    /** @param dispatcher makes the dispatcher of an upstream */
    Dispatchers(List<Upstream> upstreams, BatchStore batches, Context context, Function<Upstream, Dispatcher> dispatcher) {
        this.batches = batches;
        this.context = context;
        upstreams.forEach(u -> byUpstream.put(u.name(), dispatcher.apply(u)));
    }

    /**
     * A batch's lines are ready: its upstream's dispatcher takes it on at once, without reading
     * every batch again, if {@code taking} still holds once the batch is read.
     */
    Uni<Void> handOver(String batchId, BooleanSupplier taking) {
        return batches.started(batchId).invoke(e -> context.runOnContext(() -> {
            Dispatcher d = e == null || !taking.getAsBoolean() ? null : byUpstream.get(e.getKey());
            if (d != null) {
                d.started(e.getValue());
            }
        })).onFailure().recoverWithNull().replaceWithVoid();
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
