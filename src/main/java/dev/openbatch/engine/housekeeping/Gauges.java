package dev.openbatch.engine.housekeeping;

import java.util.HashMap;
import java.util.Map;

import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.BatchStore;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;

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
}
