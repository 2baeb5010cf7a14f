package dev.openbatch.engine;

import java.util.List;

import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.Time;
import dev.openbatch.batches.BatchView;
import dev.openbatch.batches.BatchView.BatchError;
import dev.openbatch.batches.LineValidator;
import dev.openbatch.files.FileStore;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The batch-level steps: validate, cancel, expire, finalize. Each step that must not run twice
 * at once runs under the batch's claim and ends with a write that checks the claim's fence, in
 * one transaction, so a step cut short by a crash is simply done again by whoever claims next.
 */
final class BatchSteps {
    private static final int INSERT_ROWS = 2000;

    private final Pool pool;
    private final Time time;
    private final LimitsConfig limits;
    private final Upstreams upstreams;
    private final OutputFiles outputs;

    BatchSteps(Pool pool, Time time, LimitsConfig limits, Upstreams upstreams, FileStore store) {
        this.pool = pool;
        this.time = time;
        this.limits = limits;
        this.upstreams = upstreams;
        this.outputs = new OutputFiles(store);
    }

    /** Thrown inside a transaction to roll it back because the claim was lost. */
    static final class Fenced extends RuntimeException {
        Fenced() {
            super("claim lost", null, false, false);
        }
    }

    /** Thrown inside the validation transaction to roll back the inserted lines of a bad file. */
    private static final class Invalid extends RuntimeException {
        final List<BatchError> errors;
        final String model;

        Invalid(List<BatchError> errors, String model) {
            super("invalid input file", null, false, false);
            this.errors = errors;
            this.model = model;
        }
    }

    /** Takes the batch-level claim; null when another live process holds it. */
    Uni<Long> claim(String batchId, String node, long leaseMillis) {
        long now = time.millis();
        return pool.preparedQuery("update batches set claimed_by = $2, lease_until = $3, fence = fence + 1"
                + " where id = $1 and (claimed_by is null or lease_until < $4 or claimed_by = $2) returning fence")
                .execute(Tuple.of(batchId, node, now + leaseMillis, now))
                .map(rs -> rs.size() == 0 ? null : rs.iterator().next().getLong(0));
    }

    Uni<Void> release(String batchId, long fence) {
        return pool.preparedQuery("update batches set claimed_by = null, lease_until = null where id = $1 and fence = $2")
                .execute(Tuple.of(batchId, fence)).replaceWithVoid();
    }

    // ---- validation ----

    /** Reads the input file, inserts one row per valid line, and moves the batch on (or fails it). */
    Uni<String> validate(String batchId, long fence) {
        return pool.preparedQuery("select b.endpoint, b.input_file_id, j.model, f.bytes, f.id from batches b join jobs j on j.id = b.job_id"
                + " left join files f on f.id = b.input_file_id where b.id = $1")
                .execute(Tuple.of(batchId))
                .chain(rs -> {
                    Row b = rs.iterator().next();
                    String endpoint = b.getString(0);
                    String fileId = b.getString(1);
                    String jobModel = b.getString(2);
                    Long bytes = b.getLong(3);
                    if (b.getString(4) == null) {
                        return fail(batchId, fence, List.of(new BatchError("file_not_found", "The input file " + fileId + " no longer exists.",
                                "input_file_id", null)), null);
                    }
                    if (bytes > limits.maxBatchFileBytes()) {
                        return fail(batchId, fence, List.of(new BatchError("file_too_large", "The input file is " + bytes
                                + " bytes; the limit is " + limits.maxBatchFileBytes() + " bytes (openbatch.limits.max-batch-file-bytes).",
                                "input_file_id", null)), null);
                    }
                    Validation v = new Validation(endpoint, limits.maxBatchLines(), limits.maxReportedErrors());
                    return pool.withTransaction(tx -> readAndInsert(tx, batchId, fileId, v)
                            .chain(() -> finishValidation(tx, batchId, fence, v, jobModel)))
                            .onFailure(Invalid.class).recoverWithUni(e -> fail(batchId, fence, ((Invalid) e).errors, ((Invalid) e).model));
                });
    }

    /**
     * Reads, checks and inserts chunk after chunk, as a pipeline: while chunk i's lines are being
     * inserted (PostgreSQL's work), chunk i+1 is already read and parsed (ours, on a worker thread).
     */
    private Uni<Void> readAndInsert(SqlConnection tx, String batchId, String fileId, Validation v) {
        return pool.preparedQuery("select coalesce(max(seq) + 1, 0) from file_chunks where file_id = $1").execute(Tuple.of(fileId))
                .map(rs -> rs.iterator().next().getInteger(0))
                .chain(n -> pipeline(tx, batchId, fileId, v, 0, n, n == 0 ? Uni.createFrom().item(List.of()) : parsed(fileId, v, 0)));
    }

    private Uni<Void> pipeline(SqlConnection tx, String batchId, String fileId, Validation v, int seq, int chunks,
            Uni<List<LineValidator.Line>> current) {
        return current.chain(lines -> {
            if (seq + 1 >= chunks || v.done()) {
                return insert(tx, batchId, lines)
                        .chain(() -> Uni.createFrom().item(v::finish).runSubscriptionOn(Infrastructure.getDefaultWorkerPool()))
                        .chain(last -> insert(tx, batchId, last));
            }
            Uni<List<LineValidator.Line>> next = parsed(fileId, v, seq + 1).memoize().indefinitely();
            next.subscribe().with(x -> { }, e -> { }); // start reading the next chunk now
            return insert(tx, batchId, lines).chain(() -> pipeline(tx, batchId, fileId, v, seq + 1, chunks, next));
        });
    }

    private Uni<List<LineValidator.Line>> parsed(String fileId, Validation v, int seq) {
        return pool.preparedQuery("select data from file_chunks where file_id = $1 and seq = $2")
                .execute(Tuple.of(fileId, seq))
                .map(rs -> rs.iterator().next().getBuffer(0))
                .emitOn(Infrastructure.getDefaultWorkerPool())
                .map(v::feed);
    }

    private Uni<Void> insert(SqlConnection tx, String batchId, List<LineValidator.Line> lines) {
        if (lines.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return Multi.createFrom().range(0, (lines.size() + INSERT_ROWS - 1) / INSERT_ROWS)
                .onItem().transformToUniAndConcatenate(part -> {
                    List<LineValidator.Line> set = lines.subList(part * INSERT_ROWS, Math.min(lines.size(), (part + 1) * INSERT_ROWS));
                    Integer[] numbers = new Integer[set.size()];
                    String[] ids = new String[set.size()];
                    String[] bodies = new String[set.size()];
                    for (int i = 0; i < set.size(); i++) {
                        numbers[i] = set.get(i).line();
                        ids[i] = set.get(i).customId();
                        bodies[i] = set.get(i).body();
                    }
                    return tx.preparedQuery("insert into requests (batch_id, line, custom_id, body)"
                            + " select $1, l, c, b from unnest($2::int[], $3::text[], $4::text[]) as t(l, c, b)")
                            .execute(Tuple.of(batchId, numbers, ids, bodies)).replaceWithVoid();
                })
                .collect().last().replaceWithVoid();
    }

    private Uni<String> finishValidation(SqlConnection tx, String batchId, long fence, Validation v, String jobModel) {
        List<BatchError> errors = new java.util.ArrayList<>(v.errors());
        String model = v.model();
        String upstream = null;
        if (errors.isEmpty()) {
            if (jobModel != null && !jobModel.equals(model)) {
                errors.add(new BatchError("mismatched_model", "The batch's job is for model \"" + jobModel + "\" but the lines ask for \""
                        + model + "\".", "body.model", 1));
            } else {
                upstream = upstreams.forModel(model).map(Upstream::name).orElse(null);
                if (upstream == null) {
                    errors.add(new BatchError("model_not_found", "No upstream serves model \"" + model + "\". Configured models: "
                            + String.join(", ", upstreams.models()) + ".", "body.model", 1));
                }
            }
        }
        if (!errors.isEmpty()) {
            throw new Invalid(errors, model);
        }
        long now = time.seconds();
        return tx.preparedQuery("update batches set validated = true, total = $3, model = $4, upstream = $5,"
                + " in_progress_at = case when status = 'validating' then $6 else in_progress_at end,"
                + " status = case when status = 'validating' then 'in_progress' else status end"
                + " where id = $1 and fence = $2 returning status")
                .execute(Tuple.of(batchId, fence, v.requests(), model, upstream, now))
                .map(rs -> {
                    if (rs.size() == 0) {
                        throw new Fenced();
                    }
                    return rs.iterator().next().getString(0);
                });
    }

    private Uni<String> fail(String batchId, long fence, List<BatchError> errors, String model) {
        long now = time.seconds();
        return pool.preparedQuery("update batches set status = 'failed', failed_at = $3, errors = $4, model = coalesce($5, model),"
                + " validated = true, claimed_by = null, lease_until = null"
                + " where id = $1 and fence = $2 and status in ('validating', 'cancelling') returning status")
                .execute(Tuple.of(batchId, fence, now, BatchView.errorsToJson(errors), model))
                .map(rs -> rs.size() == 0 ? null : "failed");
    }

    // ---- cancel and expire ----

    /** Turns the queued lines of a cancelling batch into batch_cancelled errors; safe to repeat, needs no claim. */
    Uni<Integer> cancelQueued(String batchId) {
        return settleAll(batchId, "('queued')", "cancelled", "batch_cancelled", "The batch was cancelled before this request ran.", null);
    }

    /** Turns every unfinished line of an expired batch into batch_expired errors, under the claim. */
    Uni<Integer> expireUnfinished(String batchId, long fence) {
        return settleAll(batchId, "('queued', 'running')", "expired", "batch_expired",
                "The batch's completion window ran out before this request finished.", fence);
    }

    private Uni<Integer> settleAll(String batchId, String from, String state, String code, String message, Long fence) {
        String sql = "with x as (update requests set state = $2, fence = fence + 1, claimed_by = null, lease_until = null,"
                + " error_code = $3, error_message = $4 where batch_id = $1 and state in " + from + " returning 1)"
                + " update batches set failed = failed + (select count(*) from x) where id = $1"
                + (fence == null ? "" : " and fence = $5") + " returning (select count(*) from x)";
        Tuple t = Tuple.of(batchId, state, code, message);
        if (fence != null) {
            t.addLong(fence);
        }
        return pool.withTransaction(tx -> tx.preparedQuery(sql).execute(t).map(rs -> {
            if (rs.size() == 0) {
                throw new Fenced();
            }
            return rs.iterator().next().getLong(0).intValue();
        }));
    }

    // ---- finalize ----

    /** in_progress -> finalizing, once every line is settled; false when the batch moved on meanwhile. */
    Uni<Boolean> startFinalizing(String batchId, long fence) {
        return pool.preparedQuery("update batches set status = 'finalizing', finalizing_at = $3 where id = $1 and fence = $2"
                + " and status = 'in_progress' and completed + failed = total")
                .execute(Tuple.of(batchId, fence, time.seconds()))
                .map(rs -> rs.rowCount() == 1);
    }

    /**
     * Writes the output and error files and moves the batch from {@code from} to its terminal
     * {@code to} state, all in one transaction that checks the fence.
     */
    Uni<Boolean> finish(String batchId, long fence, String from, String to) {
        long now = time.seconds();
        String at = switch (to) {
            case "completed" -> "completed_at";
            case "expired" -> "expired_at";
            case "cancelled" -> "cancelled_at";
            default -> throw new IllegalArgumentException(to);
        };
        return pool.withTransaction(tx -> tx.preparedQuery("select project, output_expires_after, created_us from batches"
                + " where id = $1 and fence = $2 and status = $3 for update")
                .execute(Tuple.of(batchId, fence, from))
                .chain(rs -> {
                    if (rs.size() == 0) {
                        return Uni.createFrom().item(false);
                    }
                    Row b = rs.iterator().next();
                    Long oea = b.getLong(1);
                    return outputs.write(tx, batchId, b.getString(0), now, oea == null ? null : now + oea, time.orderingMicros())
                            .chain(w -> tx.preparedQuery("update batches set status = $3, " + at + " = $4, output_file_id = $5,"
                                    + " error_file_id = $6, claimed_by = null, lease_until = null where id = $1 and fence = $2")
                                    .execute(Tuple.of(batchId, fence, to, now, w.outputFileId(), w.errorFileId()))
                                    .map(u -> u.rowCount() == 1));
                }));
    }
}
