package dev.openbatch.engine.lifecycle;
import dev.openbatch.validation.Validation;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.BatchStore;
import dev.openbatch.status.LineState;
import dev.openbatch.engine.metrics.EngineMetrics;

import java.util.List;

import org.jboss.logging.Logger;

import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.Time;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.batches.BatchView;
import dev.openbatch.batches.BatchView.BatchError;
import dev.openbatch.validation.LineValidator;
import dev.openbatch.files.FileIngest;
import dev.openbatch.store.FileStore;
import dev.openbatch.upstream.Upstreams;
import dev.openbatch.webhooks.WebhookOutbox;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;
import dev.openbatch.store.BatchStore.Work;
import dev.openbatch.status.LineState;

/**
 * A batch's life, one named method per transition: {@link #validate} (validating → in_progress,
 * or failed), {@link #complete} (in_progress → finalizing → completed), {@link #expire}
 * (in_progress → expired), {@link #cancel} (cancelling → cancelled). Each runs under the batch's
 * claim and ends with a write that checks the claim's fence, in one transaction, so a step cut
 * short by a crash is simply done again by whoever claims next. Lines settle one by one in the
 * dispatchers; a batch whose last line settled is completed here. Every terminal transition
 * records its webhook event ({@link WebhookOutbox}) in the same transaction: no terminal batch
 * without its event, no event for a transition rolled back.
 */
public final class Lifecycle {
    private static final Logger LOG = Logger.getLogger(Lifecycle.class);
    private static final int INSERT_ROWS = 2000;
    /** Lines of a file's index read at a time. */
    private static final int INDEX_PAGE = 5000;

    private final Transactions transactions;
    private final Time time;
    private final LimitsConfig limits;
    private final Upstreams upstreams;
    private final BatchStore batches;
    private final LineStore lines;
    private final OutputFiles outputs;
    private final FileStore store;
    private final EngineMetrics metrics;

    public Lifecycle(Transactions transactions, Time time, LimitsConfig limits, Upstreams upstreams, BatchStore batches, LineStore lines, FileStore store,
            EngineMetrics metrics) {
        this.metrics = metrics;
        this.transactions = transactions;
        this.time = time;
        this.limits = limits;
        this.upstreams = upstreams;
        this.batches = batches;
        this.lines = lines;
        this.outputs = new OutputFiles(store, lines);
        this.store = store;
    }

    /** Thrown inside a transaction to roll it back because the claim was lost. */
    public static final class Fenced extends RuntimeException {
        public Fenced() {
            super("claim lost", null, false, false);
        }
    }

    /** Thrown inside the validation transaction when a file's line index ends before the verdict (it should not). */
    private static final class IndexShort extends RuntimeException {
        IndexShort() {
            super("line index ends early", null, false, false);
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

    // ---- the state machine: which step a batch needs, and running it ----

    /** A batch-level step: each runs one transition (or a chain of them) under the batch's claim. */
    public enum Step {
        /** validating (or cancelling before its lines exist) → in_progress, or failed. */
        VALIDATE,
        /** cancelling → cancelled, once its queued lines are cancelled and nothing runs. */
        CANCEL,
        /** in_progress with every line settled in time, or finalizing after a crash there → completed. */
        FINALIZE,
        /** in_progress with every line settled, but past its deadline → expired if a line expired, else completed. */
        SETTLED_PAST_DEADLINE,
        /** in_progress past its deadline with lines unsettled → expired. */
        EXPIRE
    }

    /** The step {@code w} needs at {@code nowMillis}, or null when it needs none. */
    public static Step next(Work w, long nowMillis) {
        boolean late = w.expiresAt() != null && w.expiresAt() * 1000 <= nowMillis;
        return switch (w.status()) {
            case VALIDATING -> w.validated() ? null : Step.VALIDATE;
            case CANCELLING -> w.validated() ? Step.CANCEL : Step.VALIDATE;
            case IN_PROGRESS -> w.settled() ? (late ? Step.SETTLED_PAST_DEADLINE : Step.FINALIZE) : late ? Step.EXPIRE : null;
            case FINALIZING -> Step.FINALIZE;
            default -> null;
        };
    }

    /**
     * What becomes of {@code w}'s lines still in flight at {@code nowMillis}: cancelled when the
     * batch is being cancelled, expired when its deadline passed; null when they run on.
     */
    public static LineState abortInFlight(Work w, long nowMillis) {
        boolean late = w.expiresAt() != null && w.expiresAt() * 1000 <= nowMillis;
        if (w.status() == BatchStatus.CANCELLING && w.validated()) {
            return LineState.CANCELLED;
        }
        return w.status() == BatchStatus.IN_PROGRESS && late && !w.settled() ? LineState.EXPIRED : null;
    }

    /** Runs {@code step} for {@code w} under the claim {@code fence}; the status it reached, or null when the claim was lost. */
    public Uni<BatchStatus> run(Step step, Work w, long fence) {
        String id = w.id();
        return switch (step) {
            case VALIDATE -> validate(id, fence);
            case CANCEL -> cancelQueued(id).invoke(n -> metrics.lineFinished(w.upstream(), LineState.CANCELLED.wire(), n))
                    .chain(() -> cancel(id, fence));
            case FINALIZE -> complete(id, fence, w.status());
            case SETTLED_PAST_DEADLINE -> settledLate(id, fence);
            case EXPIRE -> expire(id, fence, w.upstream());
        };
    }

    // ---- validate ----

    /**
     * Reads the input file, inserts one row per valid line, and moves the batch on: to
     * in_progress (or it stays cancelling), or failed with the file's errors. Returns the new
     * status, or null when the claim was lost. A file whose lines were indexed at upload under
     * the current limits is judged from its index, and its bodies are copied inside PostgreSQL;
     * any other file (stored before the index existed, or under other limits) is read whole.
     */
    public Uni<BatchStatus> validate(String batchId, long fence) {
        return batches.input(batchId).chain(in -> {
            List<BatchError> fileErrors = Validation.fileErrors(in.fileId(), in.fileBytes(), limits);
            if (!fileErrors.isEmpty()) {
                return invalid(batchId, fence, fileErrors, null);
            }
            String key = FileIngest.key(limits.maxLineBytes(), limits.maxBatchLines(), limits.maxReportedErrors());
            if (in.lineIndex() != null && in.lineIndex().startsWith(key + " ")) {
                return validateIndexed(batchId, fence, in, in.lineIndex().endsWith(" complete"));
            }
            return validateByReading(batchId, fence, in);
        });
    }

    /** Judges the file from its line index; the valid lines' bodies go from its chunks to the batch's rows inside PostgreSQL. */
    private Uni<BatchStatus> validateIndexed(String batchId, long fence, BatchStore.Input in, boolean complete) {
        Validation v = Validation.of(in.endpoint(), limits);
        return transactions.run(tx -> readIndex(tx, in.fileId(), v, 0).chain(() -> {
            if (!v.done()) {
                if (!complete) {
                    throw new IndexShort();
                }
                v.endIndexed();
            }
            Validation.Verdict verdict = judged(v, in.jobModel());
            return lines.insertFromFile(tx, batchId, in.fileId()).chain(() -> moveOn(tx, batchId, fence, v, verdict));
        }))
                .onFailure(Invalid.class).recoverWithUni(e -> invalid(batchId, fence, ((Invalid) e).errors, ((Invalid) e).model))
                .onFailure(IndexShort.class).recoverWithUni(e -> {
                    LOG.errorf("batch %s: the line index of file %s ends before its verdict; reading the file instead", batchId, in.fileId());
                    return validateByReading(batchId, fence, in);
                });
    }

    /** Reads the index a page at a time (judged on a worker thread) until its end or the verdict. */
    private Uni<Void> readIndex(Tx tx, String fileId, Validation v, int after) {
        return store.indexed(tx, fileId, after, INDEX_PAGE)
                .emitOn(Infrastructure.getDefaultWorkerPool())
                .chain(rows -> {
                    for (FileStore.IndexedLine l : rows) {
                        v.indexed(l.line(), l.customId(), l.url(), l.model(), l.error(), l.late());
                        if (v.done()) {
                            return Uni.createFrom().voidItem();
                        }
                    }
                    return rows.size() < INDEX_PAGE ? Uni.createFrom().voidItem() : readIndex(tx, fileId, v, rows.get(rows.size() - 1).line());
                });
    }

    /** Reads the file chunk by chunk, checks each line and inserts the valid ones. */
    private Uni<BatchStatus> validateByReading(String batchId, long fence, BatchStore.Input in) {
        Validation v = Validation.of(in.endpoint(), limits);
        return transactions.run(tx -> readAndInsert(tx, batchId, in.fileId(), v)
                .chain(() -> moveOn(tx, batchId, fence, v, judged(v, in.jobModel()))))
                .onFailure(Invalid.class).recoverWithUni(e -> invalid(batchId, fence, ((Invalid) e).errors, ((Invalid) e).model));
    }

    /**
     * Reads, checks and inserts chunk after chunk, as a pipeline: while chunk i's lines are being
     * inserted (PostgreSQL's work), chunk i+1 is already read and parsed (ours, on a worker thread).
     */
    private Uni<Void> readAndInsert(Tx tx, String batchId, String fileId, Validation v) {
        return store.chunkCount(fileId)
                .chain(n -> pipeline(tx, batchId, fileId, v, 0, n, n == 0 ? Uni.createFrom().item(List.of()) : parsed(fileId, v, 0)));
    }

    private Uni<Void> pipeline(Tx tx, String batchId, String fileId, Validation v, int seq, int chunks,
            Uni<List<LineValidator.Line>> current) {
        return current.chain(parsed -> {
            if (seq + 1 >= chunks || v.done()) {
                return insert(tx, batchId, parsed)
                        .chain(() -> Uni.createFrom().item(v::finish).runSubscriptionOn(Infrastructure.getDefaultWorkerPool()))
                        .chain(last -> insert(tx, batchId, last));
            }
            Uni<List<LineValidator.Line>> next = parsed(fileId, v, seq + 1).memoize().indefinitely();
            next.subscribe().with(x -> { }, e -> { }); // start reading the next chunk now
            return insert(tx, batchId, parsed).chain(() -> pipeline(tx, batchId, fileId, v, seq + 1, chunks, next));
        });
    }

    private Uni<List<LineValidator.Line>> parsed(String fileId, Validation v, int seq) {
        return store.chunk(fileId, seq)
                .emitOn(Infrastructure.getDefaultWorkerPool())
                .map(v::feed);
    }

    private Uni<Void> insert(Tx tx, String batchId, List<LineValidator.Line> valid) {
        if (valid.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return Multi.createFrom().range(0, (valid.size() + INSERT_ROWS - 1) / INSERT_ROWS)
                .onItem().transformToUniAndConcatenate(part -> lines.insert(tx, batchId,
                        valid.subList(part * INSERT_ROWS, Math.min(valid.size(), (part + 1) * INSERT_ROWS))))
                .collect().last().replaceWithVoid();
    }

    /** The verdict on a file validation read to its end; throws {@link Invalid} with its errors when it failed. */
    private Validation.Verdict judged(Validation v, String jobModel) {
        Validation.Verdict verdict = v.verdict(jobModel, upstreams);
        if (!verdict.errors().isEmpty()) {
            throw new Invalid(verdict.errors(), verdict.model());
        }
        return verdict;
    }

    /** The lines are in: the batch goes in_progress if the claim's fence still holds. */
    private Uni<BatchStatus> moveOn(Tx tx, String batchId, long fence, Validation v, Validation.Verdict verdict) {
        return batches.validated(tx, batchId, fence, v.requests(), verdict.model(), verdict.upstream(), time.seconds()).map(s -> {
            if (s == null) {
                throw new Fenced();
            }
            return s;
        });
    }

    private Uni<BatchStatus> invalid(String batchId, long fence, List<BatchError> errors, String model) {
        long now = time.millis();
        return transactions.run(tx -> WebhookOutbox.record(tx, batchId, BatchStatus.FAILED, now, time.orderingMicros())
                .chain(() -> batches.invalid(tx, batchId, fence, BatchView.errorsToJson(errors), model, now / 1000))
                .map(s -> {
                    if (s == null) {
                        throw new Fenced(); // rolls the event back with it
                    }
                    return s;
                }));
    }

    // ---- complete, expire, cancel ----

    /** Every line settled: in_progress → finalizing → completed (or on from finalizing, after a crash there). */
    public Uni<BatchStatus> complete(String batchId, long fence, BatchStatus from) {
        Uni<Boolean> finalizing = from == BatchStatus.FINALIZING ? Uni.createFrom().item(true)
                : batches.startFinalizing(batchId, fence, time.seconds());
        return finalizing.chain(ok -> ok ? end(batchId, fence, BatchStatus.FINALIZING, BatchStatus.COMPLETED) : Uni.createFrom().nullItem());
    }

    /**
     * The deadline passed: unfinished lines become {@code batch_expired} errors and the batch
     * ends expired. A batch with nothing left unfinished is completed instead: every line has
     * its result, the deadline only passed while the batch waited to be finalized.
     */
    public Uni<BatchStatus> expire(String batchId, long fence, String upstream) {
        return lines.settleUnfinished(batchId, fence, LineState.EXPIRED, "batch_expired",
                "The batch's completion window ran out before this request finished.")
                .invoke(n -> metrics.lineFinished(upstream, "expired", n))
                .chain(n -> n == 0 ? settledLate(batchId, fence)
                        : end(batchId, fence, BatchStatus.IN_PROGRESS, BatchStatus.EXPIRED));
    }

    /**
     * Every line of a batch past its deadline is settled: it ends expired when a line expired (the
     * lines in flight at the deadline are aborted as {@code batch_expired}, and those writes may
     * land before this batch's own step), completed when every line had its result in time.
     */
    public Uni<BatchStatus> settledLate(String batchId, long fence) {
        return lines.anyExpired(batchId).chain(expired -> expired ? end(batchId, fence, BatchStatus.IN_PROGRESS, BatchStatus.EXPIRED)
                : complete(batchId, fence, BatchStatus.IN_PROGRESS));
    }

    /** Queued lines of a cancelling batch become {@code batch_cancelled} errors (no claim needed; safe to repeat). */
    public Uni<Integer> cancelQueued(String batchId) {
        return lines.cancelQueued(batchId);
    }

    /** Cancelling: once nothing is running, the batch ends cancelled with the results it has. */
    public Uni<BatchStatus> cancel(String batchId, long fence) {
        return batches.settled(batchId)
                .chain(settled -> settled ? end(batchId, fence, BatchStatus.CANCELLING, BatchStatus.CANCELLED) : Uni.createFrom().nullItem());
    }

    /**
     * Writes the output and error files, records the webhook event and moves the batch from
     * {@code from} to its terminal {@code to}, all in one transaction that checks the fence; null
     * when the batch moved on.
     */
    private Uni<BatchStatus> end(String batchId, long fence, BatchStatus from, BatchStatus to) {
        long nowMillis = time.millis();
        long now = nowMillis / 1000;
        return transactions.run(tx -> batches.lockForEnding(tx, batchId, fence, from).chain(b -> {
            if (b == null) {
                return Uni.createFrom().<BatchStatus>nullItem();
            }
            Long oea = b.outputExpiresAfter();
            return outputs.write(tx, batchId, b.lineKey(), b.project(), now, oea == null ? null : now + oea, time.orderingMicros())
                    .call(() -> WebhookOutbox.record(tx, batchId, to, nowMillis, time.orderingMicros()))
                    .chain(w -> batches.end(tx, batchId, fence, to, now, w.outputFileId(), w.errorFileId()))
                    .map(done -> {
                        if (!done) {
                            throw new Fenced(); // rolls the files and the event back with it
                        }
                        return to;
                    });
        }));
    }
}
