package dev.openbatch.engine.housekeeping;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;

import dev.openbatch.api.Time;
import dev.openbatch.engine.dispatch.CapShares;
import dev.openbatch.engine.dispatch.Dispatcher;
import dev.openbatch.store.ShareStore;
import io.smallrye.mutiny.Uni;

/**
 * One cap per upstream across every live process: each round, for every upstream whose
 * {@code max-concurrency} is shared, this process publishes what it may need
 * ({@link CapShares#toPublish}: its allowance, or more while more of its slots are taken), reads
 * what the live processes published, works out its allowance ({@link CapShares#allowance}) and
 * gives its dispatcher {@link CapShares#usable} of it. Publication and read are separate
 * statements, each committed on its own, in that order: that is what keeps the sum under the cap
 * ({@link CapShares} has the argument). When the read changes what it should publish, the round
 * publishes and reads once more, so that a raise is usable, and a cut visible to the others, in
 * the same round rather than the next.
 * <p>
 * Two statements a round (four when something changed), whatever the lines: nothing per line.
 * The first round runs as soon as the engine has registered; until it has answered, a dispatcher
 * of a shared upstream sends nothing. A process without a heartbeat row (declared dead, not yet
 * registered again) publishes nothing and uses nothing.
 */
public final class UpstreamShares implements Job {
    /** The longest time between rounds: a newcomer gets its share, and a dead process's returns, a few rounds after the change is visible. */
    static final long MAX_PERIOD_MS = 1000;

    private final String node;
    private final Time time;
    private final ShareStore shares;
    private final List<Dispatcher> dispatchers;
    private final Executor onContext;
    private final long periodMillis;
    /** Each upstream's allowance as the last read found it (0 before any). */
    private final Map<String, Integer> allowances = new HashMap<>();

    /**
     * @param dispatchers the dispatchers of this engine whose upstream is shared
     * @param onContext   runs a task on the engine's context, where the dispatchers live
     */
    public UpstreamShares(String node, Time time, ShareStore shares, List<Dispatcher> dispatchers, Executor onContext, long leaseMillis) {
        this.node = node;
        this.time = time;
        this.shares = shares;
        this.dispatchers = List.copyOf(dispatchers);
        this.onContext = onContext;
        this.periodMillis = Math.max(100, Math.min(MAX_PERIOD_MS, leaseMillis / 3));
    }

    @Override
    public String name() { return "shares"; }

    /** Every second, or every third of a lease when that is shorter. */
    @Override
    public long periodMillis() { return periodMillis; }

    /** The first round runs as soon as the engine starts: until then it sends nothing to a shared upstream. */
    @Override
    public boolean atStart() { return true; }

    @Override
    public Uni<Void> run() {
        if (dispatchers.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        Map<String, Integer> first = toPublish();
        return step(first).chain(alive -> {
            Map<String, Integer> again = toPublish();
            return !alive || again.equals(first) ? Uni.createFrom().voidItem() : step(again).replaceWithVoid();
        });
    }

    /** What to publish now for each upstream: the last allowance, or the slots taken when more. */
    private Map<String, Integer> toPublish() {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Dispatcher d : dispatchers) {
            out.put(d.upstream(), CapShares.toPublish(d.occupied(), allowances.getOrDefault(d.upstream(), 0)));
        }
        return out;
    }

    /** Publish (committed), then read, then use: false when this process has no heartbeat row (then it uses nothing). */
    private Uni<Boolean> step(Map<String, Integer> published) {
        return shares.publish(node, published).emitOn(onContext).chain(alive -> {
            if (!alive) {
                allowances.clear();
                dispatchers.forEach(d -> d.setShare(0));
                return Uni.createFrom().item(false);
            }
            return shares.live(time.millis(), published.keySet()).emitOn(onContext).map(rows -> {
                Map<String, List<CapShares.Node>> byUpstream = new HashMap<>();
                for (ShareStore.Share s : rows) {
                    byUpstream.computeIfAbsent(s.upstream(), u -> new ArrayList<>()).add(new CapShares.Node(s.node(), s.published()));
                }
                for (Dispatcher d : dispatchers) {
                    String u = d.upstream();
                    int allowance = CapShares.allowance(d.cap(), node, byUpstream.getOrDefault(u, List.of()));
                    allowances.put(u, allowance);
                    d.setShare(CapShares.usable(allowance, published.get(u)));
                }
                return true;
            });
        });
    }
}
