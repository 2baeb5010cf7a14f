package dev.openbatch.store;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.status.LineState;
import dev.openbatch.status.Wire;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Every statement the engine runs on {@code batches}: the claim on batch-level steps, the work
 * the tick looks for, the batches a dispatcher may take lines from, and the transitions. Each
 * reads an index range of its own (see the V3 migration and PlanTest).
 */
@ApplicationScoped
public class BatchStore {
    /** The live statuses, {@code ('validating', 'in_progress', 'finalizing', 'cancelling')}. */
    static final String LIVE = Wire.sqlList(BatchStatus.LIVE);
    private static final String VALIDATING = BatchStatus.VALIDATING.sql();
    private static final String IN_PROGRESS = BatchStatus.IN_PROGRESS.sql();
    private static final String FINALIZING = BatchStatus.FINALIZING.sql();
    private static final String CANCELLING = BatchStatus.CANCELLING.sql();

    /**
     * Batches with a batch-level step to do: validating, cancelling and finalizing ones, and
     * in_progress ones whose deadline passed or whose lines have all settled.
     */
    static final String NEEDING_WORK = LineStore.compact("""
            select id, status, validated, upstream, project, created_us, completed + failed >= total as settled, expires_at
              from batches where status in (%1$s, %2$s, %3$s)
            union all
            select id, status, validated, upstream, project, created_us, completed + failed >= total, expires_at
              from batches where status = %4$s and expires_at <= $1
            union all
            select id, status, validated, upstream, project, created_us, true, expires_at
              from batches where status = %4$s and completed + failed >= total
            """.formatted(VALIDATING, CANCELLING, FINALIZING, IN_PROGRESS));

    /**
     * The in_progress batches of the models an upstream takes that have a line ready now, with what
     * choosing between them needs: those of the models it names ($1), and with {@code *} ($2) those
     * of any model no upstream names ($3). One index probe per live batch of those models (a lateral
     * probe with {@code limit 1}, which the planner cannot turn into a merge join over every batch in
     * key order): a batch whose lines all wait for a retry costs one probe and hides nobody. The
     * batches of a project paused at its spend cap ({@code spend_pauses}, a handful of rows) are left out.
     */
    static final String ELIGIBLE = LineStore.compact("""
            select b.id, b.project, b.job_id, b.endpoint, b.expires_at, j.max_concurrency, j.priority, b.created_us,
                   b.model, b.total, b.completed + b.failed, b.in_progress_at
              from batches b join jobs j on j.id = b.job_id
             cross join lateral (select 1 from requests r where r.batch_id = b.id and r.state = %s and r.not_before <= $4 limit 1) ready
             where b.status = %s and (b.model = any($1) or ($2 and b.model <> all($3)))
               and not exists (select 1 from spend_pauses p where p.project = b.project)
            """.formatted(LineState.QUEUED.sql(), IN_PROGRESS));

    /** One batch that has just started (its lines are all ready), with its model; none when its project is paused. */
    static final String STARTED = "select b.id, b.project, b.job_id, b.endpoint, b.expires_at, j.max_concurrency, j.priority,"
            + " b.created_us, b.model, b.total, b.completed + b.failed, b.in_progress_at"
            + " from batches b join jobs j on j.id = b.job_id where b.id = $1 and b.status = " + IN_PROGRESS
            + " and not exists (select 1 from spend_pauses p where p.project = b.project)";

    static final String CLAIM_STEP = "update batches set claimed_by = $2, lease_until = $3, fence = fence + 1"
            + " where id = $1 and (claimed_by is null or lease_until < $4 or claimed_by = $2) returning fence";

    private final Pool pool;

    public BatchStore(Pool pool) {
        this.pool = pool;
    }

    /** A batch with a step to do, as the tick sees it. */
    public record Work(String id, BatchStatus status, boolean validated, String upstream, String project, long createdUs,
            boolean settled, Long expiresAt) {
    }

    public Uni<List<Work>> needingWork(long nowSeconds) {
        return pool.preparedQuery(NEEDING_WORK).execute(Tuple.of(nowSeconds)).map(rows -> {
            List<Work> out = new ArrayList<>(rows.size());
            for (Row r : rows) {
                out.add(new Work(r.getString(0), BatchStatus.of(r.getString(1)), r.getBoolean(2), r.getString(3), r.getString(4),
                        r.getLong(5), r.getBoolean(6), r.getLong(7)));
            }
            return out;
        });
    }

    /**
     * A batch a dispatcher may take lines from, with its model and how far it is (for an overflow
     * upstream, which helps only a batch at risk of missing its deadline).
     *
     * @param total        its lines
     * @param settled      its lines settled when read
     * @param inProgressAt when it went in_progress (epoch seconds), null if unknown
     */
    public record Eligible(String id, String project, String jobId, String endpoint, Long expiresAt, Integer jobCap, int priority,
            long createdUs, String model, int total, int settled, Long inProgressAt) {
        /** A batch as a test needs it: no model, no progress. */
        public Eligible(String id, String project, String jobId, String endpoint, Long expiresAt, Integer jobCap, int priority,
                long createdUs) {
            this(id, project, jobId, endpoint, expiresAt, jobCap, priority, createdUs, null, 0, 0, null);
        }

        public Long deadlineMillis() {
            return expiresAt == null ? null : expiresAt * 1000;
        }
    }

    /**
     * The batches with a line ready at {@code nowMillis} of the models {@code exact}, and with
     * {@code any}, of every model not in {@code named}.
     */
    public Uni<List<Eligible>> eligible(List<String> exact, boolean any, List<String> named, long nowMillis) {
        Tuple args = Tuple.of(exact.toArray(String[]::new), any, named.toArray(String[]::new), nowMillis);
        return pool.preparedQuery(ELIGIBLE).execute(args).map(rows -> {
            List<Eligible> out = new ArrayList<>(rows.size());
            rows.forEach(r -> out.add(eligible(r)));
            return out;
        });
    }

    /** A batch that has just gone in_progress, as a dispatcher's list holds it (its model says whose); null if it moved on. */
    public Uni<Eligible> started(String batchId) {
        return pool.preparedQuery(STARTED).execute(Tuple.of(batchId)).map(rows -> {
            if (rows.size() == 0) {
                return null;
            }
            return eligible(rows.iterator().next());
        });
    }

    /** A row of {@link #ELIGIBLE} or {@link #STARTED} (same columns). */
    private static Eligible eligible(Row r) {
        return new Eligible(r.getString(0), r.getString(1), r.getString(2), r.getString(3), r.getLong(4), r.getInteger(5),
                r.getInteger(6), r.getLong(7), r.getString(8), r.getInteger(9), r.getInteger(10), r.getLong(11));
    }

    /** Takes the claim on a batch's steps; null when another live process holds it. */
    public Uni<Long> claimStep(String batchId, String node, long nowMillis, long leaseMillis) {
        return pool.preparedQuery(CLAIM_STEP).execute(Tuple.of(batchId, node, nowMillis + leaseMillis, nowMillis))
                .map(rs -> rs.size() == 0 ? null : rs.iterator().next().getLong(0));
    }

    public Uni<Void> releaseStep(String batchId, long fence) {
        return pool.preparedQuery("update batches set claimed_by = null, lease_until = null where id = $1 and fence = $2")
                .execute(Tuple.of(batchId, fence)).replaceWithVoid();
    }

    /** Extends the claims of the steps this process runs (a handful of batches, not lines). */
    public Uni<Void> renewSteps(String node, long until) {
        return pool.preparedQuery("update batches set lease_until = $2 where claimed_by = $1").execute(Tuple.of(node, until))
                .replaceWithVoid();
    }

    public Uni<Void> releaseAllSteps(Tx client, String node) {
        return client.client().preparedQuery("update batches set claimed_by = null, lease_until = null where claimed_by = $1")
                .execute(Tuple.of(node)).replaceWithVoid();
    }

    /**
     * The batch-level claims of {@code node} whose rows no transaction holds (a process's goodbye):
     * a row still locked is the process's own step running on (a cancel of a million lines takes
     * seconds), whose claim runs out with its lease when the process exits before it ends. Waiting
     * for it would hold the shutdown for as long.
     */
    static final String RELEASE_IDLE_STEPS = "update batches set claimed_by = null, lease_until = null"
            + " where id in (select id from batches where claimed_by = $1 for no key update skip locked)";

    public Uni<Void> releaseIdleSteps(Tx client, String node) {
        return client.client().preparedQuery(RELEASE_IDLE_STEPS).execute(Tuple.of(node)).replaceWithVoid();
    }

    public Uni<Boolean> settled(String batchId) {
        return pool.preparedQuery("select completed + failed >= total from batches where id = $1").execute(Tuple.of(batchId))
                .map(rs -> rs.iterator().next().getBoolean(0));
    }

    /** Batches per live status (from the live index), for the gauges. */
    public Uni<Map<BatchStatus, Long>> liveCounts() {
        return pool.query(LIVE_COUNTS).execute().map(BatchStore::counts);
    }

    /** Batches per status, every status: a scan of the table, so the gauges ask rarely. */
    public Uni<Map<BatchStatus, Long>> allCounts() {
        return pool.query(ALL_COUNTS).execute().map(BatchStore::counts);
    }

    static final String LIVE_COUNTS = "select status, count(*) from batches where status in " + LIVE + " group by status";
    static final String ALL_COUNTS = "select status, count(*) from batches group by status";

    private static Map<BatchStatus, Long> counts(RowSet<Row> rows) {
        Map<BatchStatus, Long> out = new EnumMap<>(BatchStatus.class);
        for (Row r : rows) {
            out.put(BatchStatus.of(r.getString(0)), r.getLong(1));
        }
        return out;
    }

    static final String UNSETTLED_LINES = "select coalesce(sum(total - completed - failed), 0) from batches where status = " + IN_PROGRESS;

    /** Lines of in_progress batches not settled yet (queued or running), summed from the batches' counters. */
    public Uni<Long> unsettledLines() {
        return pool.query(UNSETTLED_LINES).execute().map(rs -> rs.iterator().next().getLong(0));
    }

    /** What a batch's log line tells besides its status: its project, its counters and its model. */
    public record Counts(String project, int total, int completed, int failed, String model) {
    }

    /** The batch's project, counters and model; null when there is no such batch. */
    public Uni<Counts> counts(String batchId) {
        return pool.preparedQuery("select project, total, completed, failed, model from batches where id = $1").execute(Tuple.of(batchId))
                .map(rows -> {
                    if (rows.size() == 0) {
                        return null;
                    }
                    Row r = rows.iterator().next();
                    return new Counts(r.getString(0), r.getInteger(1), r.getInteger(2), r.getInteger(3), r.getString(4));
                });
    }

    static final String LIVE_WITH_INPUT = "select id from batches where input_file_id = $1 and status in " + LIVE + " limit 1";

    /** A live batch whose input is the file, or null when none is (a file may be deleted then). */
    public Uni<String> liveWithInput(String fileId) {
        return pool.preparedQuery(LIVE_WITH_INPUT).execute(Tuple.of(fileId))
                .map(rs -> rs.size() == 0 ? null : rs.iterator().next().getString(0));
    }

    // ---- transitions (Lifecycle runs them under the batch's claim; each checks the claim's fence) ----

    /**
     * What validation needs: the endpoint, the input file and its size (null when the file is
     * gone), the job's model, and what the file's line index holds ({@code files.line_index}).
     */
    /**
     * What validating a batch needs: its input file, the job's model, the file's line index; for a
     * retry batch, the batch it retries, the error codes it takes (null: every failed, expired
     * and cancelled line), and the model and upstream its lines go to.
     */
    public record Input(String endpoint, String fileId, Long fileBytes, String jobModel, String lineIndex, String retryOf, String[] retryCodes,
            String model, String upstream) {
    }

    public Uni<Input> input(String batchId) {
        return pool.preparedQuery("select b.endpoint, b.input_file_id, f.bytes, j.model, f.line_index, b.retry_of, b.retry_codes, b.model, b.upstream"
                + " from batches b join jobs j on j.id = b.job_id left join files f on f.id = b.input_file_id where b.id = $1")
                .execute(Tuple.of(batchId))
                .map(rs -> {
                    Row b = rs.iterator().next();
                    return new Input(b.getString(0), b.getString(1), b.getLong(2), b.getString(3), b.getString(4), b.getString(5),
                            b.getArrayOfStrings(6), b.getString(7), b.getString(8));
                });
    }

    static final String VALIDATED = "update batches set validated = true, total = $3, model = $4, upstream = $5,"
            + " in_progress_at = case when status = " + VALIDATING + " then $6 else in_progress_at end,"
            + " status = case when status = " + VALIDATING + " then " + IN_PROGRESS + " else status end"
            + " where id = $1 and fence = $2 returning status";

    /** Validation done: the batch knows its lines and upstream and goes in_progress (a cancelling one stays cancelling). */
    public Uni<BatchStatus> validated(Tx tx, String batchId, long fence, int total, String model, String upstream, long nowSeconds) {
        return tx.client().preparedQuery(VALIDATED)
                .execute(Tuple.of(batchId, fence, total, model, upstream, nowSeconds))
                .map(rs -> rs.size() == 0 ? null : BatchStatus.of(rs.iterator().next().getString(0)));
    }

    static final String INVALID = "update batches set status = " + BatchStatus.FAILED.sql() + ", failed_at = $3, errors = $4,"
            + " model = coalesce($5, model), validated = true, claimed_by = null, lease_until = null, data_expires_at = $6"
            + " where id = $1 and fence = $2 and status in (" + VALIDATING + ", " + CANCELLING + ") returning status";

    /** Validation found errors: the batch fails with them (its data, none, expiring at {@code dataExpiresAt}); null when the claim was lost. */
    public Uni<BatchStatus> invalid(Tx tx, String batchId, long fence, String errorsJson, String model, long nowSeconds, long dataExpiresAt) {
        return tx.client().preparedQuery(INVALID)
                .execute(Tuple.of(batchId, fence, nowSeconds, errorsJson, model, dataExpiresAt))
                .map(rs -> rs.size() == 0 ? null : BatchStatus.FAILED);
    }

    static final String START_FINALIZING = "update batches set status = " + FINALIZING + ", finalizing_at = $3 where id = $1 and fence = $2"
            + " and status = $4 and completed + failed >= total";

    /**
     * in_progress -> finalizing once every line is settled, or cancelling -> finalizing when every
     * line settled with no line cancelled; false when the batch moved on meanwhile.
     */
    public Uni<Boolean> startFinalizing(String batchId, long fence, long nowSeconds, BatchStatus from) {
        return pool.preparedQuery(START_FINALIZING)
                .execute(Tuple.of(batchId, fence, nowSeconds, from.wire()))
                .map(rs -> rs.rowCount() == 1);
    }

    /** What writing the files needs, with the batch locked; null unless it is still {@code from} under this fence. */
    public record Ending(String project, Long outputExpiresAfter, byte[] lineKey) {
    }

    public Uni<Ending> lockForEnding(Tx tx, String batchId, long fence, BatchStatus from) {
        return tx.client().preparedQuery("select project, output_expires_after, line_key from batches where id = $1 and fence = $2 and status = $3"
                + " for update")
                .execute(Tuple.of(batchId, fence, from.wire()))
                .map(rs -> {
                    if (rs.size() == 0) {
                        return null;
                    }
                    Row r = rs.iterator().next();
                    return new Ending(r.getString(0), r.getLong(1), r.getBuffer(2).getBytes());
                });
    }

    /** The terminal transition, with the files written; its lines are purged from {@code dataExpiresAt} (Unix seconds). */
    public Uni<Boolean> end(Tx tx, String batchId, long fence, BatchStatus to, long nowSeconds, String outputFileId, String errorFileId,
            long dataExpiresAt) {
        String at = switch (to) {
            case COMPLETED -> "completed_at";
            case EXPIRED -> "expired_at";
            case CANCELLED -> "cancelled_at";
            default -> throw new IllegalArgumentException(to.wire());
        };
        return tx.client().preparedQuery("update batches set status = $3, " + at + " = $4, output_file_id = $5,"
                + " error_file_id = $6, claimed_by = null, lease_until = null, data_expires_at = $7 where id = $1 and fence = $2")
                .execute(Tuple.from(new Object[] { batchId, fence, to.wire(), nowSeconds, outputFileId, errorFileId, dataExpiresAt }))
                .map(u -> u.rowCount() == 1);
    }

    // ---- the output and error files, written while the batch runs (engine/lifecycle/OutputFiles) ----

    /** The first key of the advisory locks that keep two writers off one batch's files (the second is a hash of its id). */
    static final int OUTPUT_LOCK = 22;

    /**
     * The live batches (a read of the live index) with lines settled after their files' mark
     * ({@code output_seq}), up to $1.
     */
    static final String OUTPUT_DUE = "select id from batches where status in " + Wire.sqlList(List.of(BatchStatus.IN_PROGRESS,
            BatchStatus.CANCELLING, BatchStatus.FINALIZING)) + " and settled_seq > output_seq limit $1";

    /** Up to {@code limit} live batches whose files lack lines that settled (see {@link #OUTPUT_DUE}). */
    public Uni<List<String>> outputDue(int limit) {
        return pool.preparedQuery(OUTPUT_DUE).execute(Tuple.of(limit)).map(rows -> {
            List<String> out = new ArrayList<>(rows.size());
            for (Row r : rows) {
                out.add(r.getString(0));
            }
            return out;
        });
    }

    /** Where a batch's files stand: every line numbered up to {@code seq} is in them; and what their lines need. */
    public record OutputMark(long seq, String project, byte[] lineKey, boolean live) {
    }

    /**
     * Takes the batch's files for the rest of {@code tx} (an advisory lock: waiting for it when
     * {@code wait}, else null at once when another transaction has it) and reads their mark; null
     * too when there is no such batch. Whoever ends a batch takes it before the batch's row, as a
     * step of the job does, so neither waits for the other in a circle.
     */
    public Uni<OutputMark> lockOutput(Tx tx, String batchId, boolean wait) {
        String lock = wait ? "select pg_advisory_xact_lock($1, hashtext($2)), true" : "select pg_try_advisory_xact_lock($1, hashtext($2))";
        return tx.client().preparedQuery(lock).execute(Tuple.of(OUTPUT_LOCK, batchId)).chain(rs -> {
            if (!Boolean.TRUE.equals(rs.iterator().next().getBoolean(wait ? 1 : 0))) {
                return Uni.createFrom().nullItem();
            }
            return tx.client().preparedQuery("select output_seq, project, line_key, status in " + LIVE + " from batches where id = $1")
                    .execute(Tuple.of(batchId))
                    .map(b -> {
                        if (b.size() == 0) {
                            return null;
                        }
                        Row r = b.iterator().next();
                        return new OutputMark(r.getLong(0), r.getString(1), r.getBuffer(2).getBytes(), r.getBoolean(3));
                    });
        });
    }

    /** Moves the files' mark from {@code from} to {@code to}; false (nothing changed) when it was not at {@code from}. */
    public Uni<Boolean> advanceOutput(Tx tx, String batchId, long from, long to) {
        return tx.client().preparedQuery("update batches set output_seq = $3 where id = $1 and output_seq = $2")
                .execute(Tuple.of(batchId, from, to)).map(rs -> rs.rowCount() == 1);
    }

    // ---- retries (BatchLines, for the API) ----

    /**
     * A retry batch, validating: the engine copies its lines and starts it as it validates a file
     * ({@code Lifecycle.copyRetried}); endpoint, input file, model and output expiry are the
     * retried batch's, {@code retry_of} names it and {@code retry_codes} holds the error codes asked for.
     */
    static final String INSERT_RETRY = LineStore.compact("""
            insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, model, upstream, metadata,
                                 output_expires_after, created_at, created_us, expires_at, validated, total, idempotency_key, request_hash,
                                 retry_of, retry_codes)
            select $1, project, $3, endpoint, input_file_id, $4, %s, model, $5, $6, output_expires_after, $7, $8, $9, false, 0, $10, $11,
                   $2, $12
              from batches where id = $2 and data_purged_at is null for share
            """.formatted(VALIDATING));

    /**
     * A retry batch to insert: its row's values; the rest is copied from the batch it retries
     * ({@code retriedId}). {@code now} is its creation second; the Idempotency-Key and the
     * request's fingerprint are null for a retry asked without a key; {@code errorCodes} null
     * takes every failed, expired and cancelled line.
     */
    public record NewRetry(String id, String retriedId, String jobId, String completionWindow, Long expiresAt, String upstream,
            String metadataJson, long now, long createdUs, String idempotencyKey, String requestHash, String[] errorCodes) {
    }

    /**
     * Inserts the retry batch, validating: the engine copies its lines ({@link #lockRetried});
     * false when the retried batch's lines were purged (its data expired).
     */
    public Uni<Boolean> insertRetry(Tx tx, NewRetry r) {
        return tx.client().preparedQuery(INSERT_RETRY).execute(Tuple.from(new Object[] { r.id(), r.retriedId(), r.jobId(), r.completionWindow(),
                r.upstream(), r.metadataJson(), r.now(), r.createdUs(), r.expiresAt(), r.idempotencyKey(), r.requestHash(), r.errorCodes() }))
                .map(rs -> rs.rowCount() == 1);
    }

    /**
     * Whether the retried batch's lines are all there to copy, its row share-locked until
     * {@code tx} ends: a purge marks the batch ({@code data_purged_at}) before it deletes a line,
     * so it waits for the copy, or it marked it first and this says false.
     */
    public Uni<Boolean> lockRetried(Tx tx, String retriedId) {
        return tx.client().preparedQuery("select 1 from batches where id = $1 and data_purged_at is null for share")
                .execute(Tuple.of(retriedId)).map(rs -> rs.rowCount() == 1);
    }

    // ---- retention (engine/housekeeping) ----

    /**
     * The ended batch whose data is due first (at $1, Unix seconds) and whose lines are not all
     * deleted yet, that no other process holds: locked until the transaction ends, so that each
     * process purges a batch of its own. A range of {@code batches_data_due}.
     */
    static final String NEXT_TO_PURGE = "select id, data_purged_at is not null from batches where data_expires_at <= $1 and not data_purge_done"
            + " order by data_expires_at limit 1 for update skip locked";

    /** A batch whose lines are due, locked by this transaction, and whether their purge has begun. */
    public record Purging(String id, boolean marked) {
    }

    /** The batch to purge next (see {@link #NEXT_TO_PURGE}), or null when none is due. */
    public Uni<Purging> nextToPurge(Tx tx, long nowSeconds) {
        return tx.client().preparedQuery(NEXT_TO_PURGE).execute(Tuple.of(nowSeconds))
                .map(rs -> rs.size() == 0 ? null : new Purging(rs.iterator().next().getString(0), rs.iterator().next().getBoolean(1)));
    }

    /** The purge of the batch's lines begins: from this commit on the API answers that its data expired. */
    public Uni<Void> markPurged(Tx tx, String batchId, long nowSeconds) {
        return tx.client().preparedQuery("update batches set data_purged_at = $2 where id = $1 and data_purged_at is null")
                .execute(Tuple.of(batchId, nowSeconds)).replaceWithVoid();
    }

    /** Every line of the batch is deleted: the purge is done with it. */
    public Uni<Void> purgeDone(Tx tx, String batchId) {
        return tx.client().preparedQuery("update batches set data_purge_done = true where id = $1").execute(Tuple.of(batchId)).replaceWithVoid();
    }

    /** The due time of the oldest batch whose lines are due and not all deleted at {@code nowSeconds}, and how many such batches. */
    public record Overdue(Long oldest, long count) {
    }

    public Uni<Overdue> purgeBacklog(long nowSeconds) {
        return pool.preparedQuery("select min(data_expires_at), count(*) from batches where data_expires_at <= $1 and not data_purge_done")
                .execute(Tuple.of(nowSeconds)).map(rs -> {
                    Row r = rs.iterator().next();
                    return new Overdue(r.getLong(0), r.getLong(1));
                });
    }
}
