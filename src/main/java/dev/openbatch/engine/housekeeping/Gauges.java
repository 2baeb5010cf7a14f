package dev.openbatch.engine.housekeeping;


import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.BatchStore;
import io.smallrye.mutiny.Uni;

/**
 * Sets the gauges of batches by status and of lines waiting. The live statuses are counted every
 * run; the terminal ones need a scan of the whole table, so they are counted once a minute.
 */
public final class Gauges implements Job {
    private static final long PERIOD_MILLIS = 5_000;
    /** Runs between two counts of every status: once a minute. */
    private static final int ALL_EVERY = 12;

    private final BatchStore batches;
    private final EngineMetrics metrics;
    private int runs;

    public Gauges(BatchStore batches, EngineMetrics metrics) {
        this.batches = batches;
        this.metrics = metrics;
    }

    @Override
    public String name() { return "gauges"; }

    @Override
    public long periodMillis() { return PERIOD_MILLIS; }

    @Override
    public Uni<Void> run() {
        boolean all = runs++ % ALL_EVERY == 0;
        return (all ? batches.allCounts() : batches.liveCounts()).invoke(counts -> {
            for (BatchStatus s : BatchStatus.values()) {
                if (all || BatchStatus.LIVE.contains(s)) {
                    metrics.batches(s, counts.getOrDefault(s, 0L));
                }
            }
        }).chain(batches::unsettledLines).invoke(metrics::waiting).replaceWithVoid();
    }
}
