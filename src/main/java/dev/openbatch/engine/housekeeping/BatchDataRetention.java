package dev.openbatch.engine.housekeeping;

import org.jboss.logging.Logger;

import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.Transactions;
import io.smallrye.mutiny.Uni;

/**
 * Retention of batches' lines: once a batch's data is due ({@code data_expires_at}, fixed when it
 * ended: its output's expiry, or {@code openbatch.retention.batch-data} after its end), its rows of
 * {@code requests} (bodies, answers, states) are deleted; the batch row, its counts and the usage
 * history stay. Each step is one short transaction: it locks the earliest due batch that no other
 * process holds ({@code for update skip locked}, so replicas purge different batches and never
 * wait on one another), marks it purged if it is not yet (from that commit the API answers 410 for
 * its results and lines and 409 for a retry: the mark commits with or before the first deletion,
 * so no reader ever sees part of the lines), deletes its lines numbered in the next range of
 * {@code rows-per-transaction} line numbers, and marks it done once no line is left past it. The engine's statements touch only live
 * batches' rows, so they never wait on a step.
 */
public final class BatchDataRetention implements Job {
    private static final Logger LOG = Logger.getLogger(BatchDataRetention.class);

    private final Transactions transactions;
    private final BatchStore batches;
    private final LineStore lines;
    private final Time time;
    private final EngineMetrics metrics;
    private final RetentionConfig config;
    /** Where this process's purge of a batch is (the end of the range it last deleted), so the next step starts after it. */
    private String lastBatch;
    private int lastLine;

    public BatchDataRetention(Transactions transactions, BatchStore batches, LineStore lines, Time time, EngineMetrics metrics,
            RetentionConfig config) {
        this.transactions = transactions;
        this.batches = batches;
        this.lines = lines;
        this.time = time;
        this.metrics = metrics;
        this.config = config;
    }

    @Override
    public String name() { return "batch data retention"; }

    @Override
    public long periodMillis() { return config.interval().toMillis(); }

    @Override
    public boolean atStart() { return true; }

    /** What one step did: the batch (null: none was due), what it deleted, whether the batch is done. */
    private record Step(String batchId, LineStore.Purged purged, boolean done) {
        static final Step NONE = new Step(null, null, false);
    }

    /** Steps until no batch is due; how many lines were deleted. */
    @Override
    public Uni<Long> run() {
        return backlog()
                .chain(() -> Steps.untilDone(this::step, s -> s.batchId() == null, s -> s.purged() == null ? 0 : s.purged().lines()))
                .call(this::backlog);
    }

    /** One transaction: the next due batch's mark, up to rows-per-transaction of its lines, and its end when none is left. */
    Uni<Step> step() {
        long now = time.seconds();
        int n = Math.max(1, config.rowsPerTransaction());
        return transactions.run(tx -> batches.nextToPurge(tx, now).chain(b -> {
            if (b == null) {
                return Uni.createFrom().item(Step.NONE);
            }
            int after = b.id().equals(lastBatch) ? lastLine : 0;
            Uni<Void> mark = b.marked() ? Uni.createFrom().voidItem() : batches.markPurged(tx, b.id(), now);
            return mark.chain(() -> lines.purge(tx, b.id(), after, n)).chain(p -> {
                boolean done = !p.more();
                return (done ? batches.purgeDone(tx, b.id()) : Uni.createFrom().voidItem()).map(x -> new Step(b.id(), p, done));
            });
        })).invoke(s -> { // committed
            if (s.batchId() == null) {
                return;
            }
            metrics.purged(EngineMetrics.PURGED_LINES, s.purged().lines(), s.purged().bytes());
            lastBatch = s.done() ? null : s.batchId();
            lastLine = s.done() ? 0 : s.purged().rangeEnd();
            if (s.done()) {
                LOG.infof("batch %s: its data expired, every line of it is deleted", s.batchId());
            }
        });
    }

    private Uni<Void> backlog() {
        long now = time.seconds();
        return batches.purgeBacklog(now).invoke(o -> metrics.overdue(EngineMetrics.DUE_BATCH_DATA, o.oldest() == null ? 0 : now - o.oldest()))
                .replaceWithVoid();
    }
}
