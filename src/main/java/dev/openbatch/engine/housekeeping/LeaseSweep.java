package dev.openbatch.engine.housekeeping;

import org.jboss.logging.Logger;

import dev.openbatch.api.Time;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.NodeStore;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * Returns the lines of processes whose heartbeat lapsed to the queue. Each process is judged by
 * its own lease, never by the sweeper's, and a process never sweeps itself: a long pause of its
 * own must not make it send again the lines it still has in flight.
 */
public final class LeaseSweep implements Job {
    private static final Logger LOG = Logger.getLogger(LeaseSweep.class);

    private final String node;
    private final Time time;
    private final NodeStore nodes;
    private final EngineMetrics metrics;
    private final long periodMillis;

    /** Sweeps every third of a lease, or every four ticks when that is sooner. */
    public LeaseSweep(String node, Time time, NodeStore nodes, EngineMetrics metrics, long leaseMillis, long tickMillis) {
        this.node = node;
        this.time = time;
        this.nodes = nodes;
        this.metrics = metrics;
        this.periodMillis = Math.max(100, Math.min(leaseMillis / 3, tickMillis * 4));
    }

    @Override
    public String name() { return "sweep"; }

    @Override
    public long periodMillis() { return periodMillis; }

    /** Completes with how many lines went back to the queue. */
    @Override
    public Uni<Integer> run() {
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
}
