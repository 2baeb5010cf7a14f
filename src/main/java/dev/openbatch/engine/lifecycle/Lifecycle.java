package dev.openbatch.engine.lifecycle;

import java.util.function.BooleanSupplier;
import dev.openbatch.validation.Validation;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.BatchStore;
import dev.openbatch.status.LineState;
import dev.openbatch.engine.metrics.EngineMetrics;

import java.util.ArrayList;
import java.util.List;

import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.quotas.QuotaExceeded;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.validation.BatchError;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.BatchStore.Work;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;
import dev.openbatch.upstream.Upstreams;
import dev.openbatch.validation.BatchErrors;
import dev.openbatch.validation.FileValidation;
import dev.openbatch.validation.LineValidator;
import dev.openbatch.webhooks.WebhookOutbox;
import io.smallrye.mutiny.Uni;

/**
 * A batch's life: which step a batch needs ({@link #next}), and one named method per transition.
 * <pre>
 * validating ─validate─┬─start──▶ in_progress ─finalize─▶ finalizing ─complete─▶ completed
 *                      └─fail───▶ failed           │
 *                                                  ├─expire──────────▶ expired
 *                                                  └─endPastDeadline─▶ expired, or completed
 * cancelling ─cancel─┬─▶ cancelled   (one cancelled while validating is validated first)
 *                    └─▶ finalizing ─complete─▶ completed, or expired   (every line had settled: it cancelled none)
 * </pre>
 * Each runs under the batch's claim and ends with a write that checks the claim's fence, in one
 * transaction, so a step cut short by a crash is simply done again by whoever claims next. Lines
 * settle one by one in the dispatchers; a batch whose last line settled is completed here. Every
 * terminal transition records its webhook event ({@link WebhookOutbox}) in the same transaction:
 * no terminal batch without its event, no event for a transition rolled back. Reading and judging
 * the input file is {@link FileValidation}'s; a retry batch, made by the API, starts through
 * {@link #start(BatchStore, Tx, String, int, long)}.
 */
public final class Lifecycle {
    private final Transactions transactions;
    private final Time time;
    private final BatchStore batches;
    private final LineStore lines;
    private final OutputFiles outputs;
    private final FileValidation input;
    private final EngineMetrics metrics;
    private final Quotas quotas;
    private final RetentionConfig retention;
    /** Whether the process still runs: a cancel or an expiry of many lines stops between two chunks once it stops. */
    private final BooleanSupplier running;

    public Lifecycle(Transactions transactions, Time time, LimitsConfig limits, Upstreams upstreams, BatchStore batches, LineStore lines,
            FileStore store, EngineMetrics metrics, Quotas quotas, RetentionConfig retention, BooleanSupplier running) {
        this.running = running;
        this.quotas = quotas;
        this.retention = retention;
        this.transactions = transactions;
        this.time = time;
        this.batches = batches;
        this.lines = lines;
        this.outputs = new OutputFiles(transactions, store, lines, batches);
        this.input = new FileValidation(store, limits, upstreams);
        this.metrics = metrics;
    }

    /** Thrown inside a transaction to roll it back because the claim was lost. */
    public static final class Fenced extends RuntimeException {
        public Fenced() {
            super("claim lost", null, false, false);
        }
    }

    // ---- which step a batch needs, and running it ----

    /** A batch-level step: each runs one transition (or a chain of them) under the batch's claim. */
    public enum Step {
        /** validating (or cancelling before its lines exist) → in_progress, or failed. */
        VALIDATE,
        /** cancelling → cancelled, once its queued lines are cancelled and nothing runs (→ completed if it cancelled none). */
        CANCEL,
        /** in_progress with every line settled in time, or finalizing after a crash there → completed. */
        FINALIZE,
        /** in_progress with every line settled, but past its deadline → expired if a line expired, else completed. */
        SETTLED_PAST_DEADLINE,
        /** in_progress past its deadline with lines unsettled → expired. */
        EXPIRE
    }

    /**
     * The step {@code w} needs at {@code nowMillis}, or null when it needs none. A validating
     * batch already validated needs none (the statement that validates it also moves it to
     * in_progress, so a tick reading it so has an old row).
     */
    public static Step next(Work w, long nowMillis) {
        boolean late = late(w, nowMillis);
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
        if (w.status() == BatchStatus.CANCELLING && w.validated()) {
            return LineState.CANCELLED;
        }
        return w.status() == BatchStatus.IN_PROGRESS && late(w, nowMillis) && !w.settled() ? LineState.EXPIRED : null;
    }

    private static boolean late(Work w, long nowMillis) {
        return w.expiresAt() != null && w.expiresAt() * 1000 <= nowMillis;
    }

    /** Runs {@code step} for {@code w} under the claim {@code fence}; the status it reached, or null when the claim was lost. */
    public Uni<BatchStatus> run(Step step, Work w, long fence) {
        String id = w.id();
        return switch (step) {
            case VALIDATE -> validate(id, w.project(), fence);
            case CANCEL -> cancel(id, fence, w.upstream());
            case FINALIZE -> w.status() == BatchStatus.FINALIZING ? complete(id, fence) : finalizeAndComplete(id, fence);
            case SETTLED_PAST_DEADLINE -> endPastDeadline(id, fence);
            case EXPIRE -> expire(id, fence, w.upstream());
        };
    }

    // ---- validating → in_progress, or failed ----

    /**
     * Judges the batch's input file, inserting a row per valid line (a retry batch's lines are
     * copied instead, {@link #copyRetried}), then {@link #start}s the batch, or {@link #fail}s it
     * with the file's errors (the rows rolled back), or with
     * {@code token_limit_exceeded} when its lines would take the project over a quota of enqueued
     * lines or tokens of their model. The status reached, or null when the claim was lost.
     */
    private Uni<BatchStatus> validate(String batchId, String project, long fence) {
        return batches.input(batchId).chain(in -> transactions.run(tx -> (in.retryOf() != null
                ? copyRetried(tx, batchId, in)
                : input.judge(tx, batchId, in, rows(tx, batchId)))
                .chain(valid -> start(tx, batchId, fence, valid)
                        .call(s -> s == BatchStatus.IN_PROGRESS ? admit(tx, project, batchId, valid) : Uni.createFrom().voidItem())))
                .onFailure(FileValidation.Invalid.class).recoverWithUni(e -> fail(batchId, fence, (FileValidation.Invalid) e)));
    }

    /**
     * A retry batch's lines: the retried batch's failed, expired and cancelled lines (with one of
     * its {@code retry_codes}, when given) copied into it in {@code tx}, numbered from 1 in their old order,
     * their bodies where the retried lines had them (their input file is the same). They were
     * validated with the batch they come from; what can have changed since the API took the retry
     * fails it instead: the retried batch's lines purged ({@code data_expired}), none left to take
     * ({@code nothing_to_retry}), or their bodies gone with the input file ({@code input_file_deleted}:
     * a DELETE of the file whose in-use check ran before the retry committed, then waited for its lock).
     */
    private Uni<FileValidation.Valid> copyRetried(Tx tx, String batchId, BatchStore.Input in) {
        String retriedId = in.retryOf();
        return batches.lockRetried(tx, retriedId)
                .chain(there -> there ? lines.copyForRetry(tx, batchId, retriedId, in.retryCodes()) : Uni.createFrom().failure(refused(in,
                        "data_expired", "The lines of batch " + retriedId + " were deleted (its data expired) before they were copied.")))
                .call(n -> n > 0 ? Uni.createFrom().voidItem() : Uni.createFrom().failure(refused(in, "nothing_to_retry",
                        "Batch " + retriedId + " has no failed, expired or cancelled lines" + (in.retryCodes() == null ? "" : " with those error codes")
                                + " left to retry.")))
                .call(n -> lines.bodiesGone(tx, batchId).invoke(gone -> {
                    if (gone) {
                        throw refused(in, "input_file_deleted", "The request bodies of batch " + retriedId + "'s lines were kept in its input"
                                + " file, which was deleted; upload them again in a new batch.");
                    }
                }))
                .map(n -> new FileValidation.Valid(n, in.model(), in.upstream()));
    }

    private static FileValidation.Invalid refused(BatchStore.Input in, String code, String message) {
        return FileValidation.Invalid.refused(new BatchError(code, message, null, null), in.model());
    }

    /** The batch's request rows, inserted in {@code tx}. */
    private FileValidation.Rows rows(Tx tx, String batchId) {
        return new FileValidation.Rows() {
            @Override
            public Uni<Void> insert(List<LineValidator.Line> valid) {
                List<LineStore.NewLine> rows = new ArrayList<>(valid.size());
                for (LineValidator.Line l : valid) {
                    rows.add(new LineStore.NewLine(l.line(), l.customId(), l.body()));
                }
                return lines.insert(tx, batchId, rows);
            }

            @Override
            public Uni<Void> insertIndexed(String fileId) {
                return lines.insertFromFile(tx, batchId, fileId);
            }
        };
    }

    /**
     * validating → in_progress, its lines in: the batch records how many, their model and the
     * upstream that serves it (one cancelled meanwhile stays cancelling, for {@link #cancel}).
     * Throws {@link Fenced}, rolling the lines back, when the claim was lost.
     */
    private Uni<BatchStatus> start(Tx tx, String batchId, long fence, FileValidation.Valid valid) {
        return batches.validated(tx, batchId, fence, valid.requests(), valid.model(), valid.upstream(), time.seconds()).map(s -> {
            if (s == null) {
                throw new Fenced();
            }
            return s;
        });
    }

    /**
     * The project's quotas of enqueued lines and tokens, counted in the transaction that starts the
     * batch (under the project's quota lock, so two engines validating at once count each other):
     * over one, the batch fails validation as OpenAI's does over its batch queue limit.
     */
    private Uni<Void> admit(Tx tx, String project, String batchId, FileValidation.Valid valid) {
        return quotas.admitLines(tx, project, batchId, valid.model(), valid.requests())
                .onFailure(QuotaExceeded.class).transform(e -> FileValidation.Invalid.refused(
                        new BatchError(QuotaExceeded.BATCH_ERROR, e.getMessage(), null, null), valid.model()));
    }

    /** validating (or cancelling) → failed, with the file's errors; null when the claim was lost. */
    private Uni<BatchStatus> fail(String batchId, long fence, FileValidation.Invalid invalid) {
        long now = time.millis();
        return transactions.run(tx -> WebhookOutbox.record(tx, batchId, BatchStatus.FAILED, now, time.orderingMicros())
                .chain(() -> batches.invalid(tx, batchId, fence, BatchErrors.toJson(invalid.errors()), invalid.model(), now / 1000,
                        now / 1000 + retention.batchData().toSeconds()))
                .map(s -> {
                    if (s == null) {
                        throw new Fenced(); // rolls the event back with it
                    }
                    return s;
                }));
    }

    // ---- in_progress → finalizing → completed, or expired ----

    /** in_progress → finalizing, every line settled; null when the batch moved on. */
    private Uni<BatchStatus> finalize(String batchId, long fence) {
        return batches.startFinalizing(batchId, fence, time.seconds(), BatchStatus.IN_PROGRESS).map(ok -> ok ? BatchStatus.FINALIZING : null);
    }

    /** finalizing → completed: the output and error files written. */
    private Uni<BatchStatus> complete(String batchId, long fence) {
        return end(batchId, fence, BatchStatus.FINALIZING, BatchStatus.COMPLETED);
    }

    private Uni<BatchStatus> finalizeAndComplete(String batchId, long fence) {
        return finalize(batchId, fence).chain(s -> s == null ? Uni.createFrom().nullItem() : complete(batchId, fence));
    }

    /**
     * in_progress → expired, the deadline passed: unfinished lines become {@code batch_expired}
     * errors. A batch with nothing left unfinished ends as {@link #endPastDeadline} says.
     */
    private Uni<BatchStatus> expire(String batchId, long fence, String upstream) {
        return lines.settleUnfinished(batchId, fence, LineState.EXPIRED, "batch_expired",
                "The batch's completion window ran out before this request finished.", time.seconds(), running,
                c -> counted(upstream, LineState.EXPIRED, c))
                .chain(c -> {
                    if (c == null) {
                        return Uni.createFrom().<BatchStatus>nullItem(); // the claim was lost, or the process stops: the rest is the next holder's
                    }
                    return c.failed() == 0 ? endPastDeadline(batchId, fence) : end(batchId, fence, BatchStatus.IN_PROGRESS, BatchStatus.EXPIRED);
                });
    }

    /**
     * in_progress with every line settled, past the deadline: expired when a line expired (the
     * lines in flight at the deadline are aborted as {@code batch_expired}, and those writes may
     * land before this step), completed when every line had its result in time and only the
     * finalizing came late.
     */
    private Uni<BatchStatus> endPastDeadline(String batchId, long fence) {
        return lines.anyExpired(batchId).chain(expired -> expired ? end(batchId, fence, BatchStatus.IN_PROGRESS, BatchStatus.EXPIRED)
                : finalizeAndComplete(batchId, fence));
    }

    // ---- cancelling → cancelled ----

    /**
     * cancelling → cancelled: queued lines become {@code batch_cancelled} errors (no claim
     * needed; safe to repeat), and once nothing runs the batch ends with the results it has.
     */
    private Uni<BatchStatus> cancel(String batchId, long fence, String upstream) {
        return lines.cancelQueued(batchId, time.seconds(), running, c -> counted(upstream, LineState.CANCELLED, c))
                .chain(() -> batches.settled(batchId))
                .chain(settled -> settled ? endCancelling(batchId, fence) : Uni.createFrom().nullItem());
    }

    /** The metrics of lines a chunk of a cancel or an expiry settled. */
    private void counted(String upstream, LineState state, LineStore.Counted c) {
        metrics.lineFinished(upstream, state.wire(), c.failed());
        metrics.projectUsage(c.project(), c.model(), 0, c.failed(), 0, 0);
    }

    /**
     * A cancelling batch whose lines have all settled: cancelled when the cancel cancelled a line.
     * One that came after every line had settled cancelled nothing, and the batch ends as it would
     * have without it (as OpenAI's does): expired when a line expired at its deadline (as
     * {@link #endPastDeadline}), else cancelling → finalizing → completed.
     */
    private Uni<BatchStatus> endCancelling(String batchId, long fence) {
        return lines.anyCancelled(batchId).chain(cancelled -> cancelled ? end(batchId, fence, BatchStatus.CANCELLING, BatchStatus.CANCELLED)
                : lines.anyExpired(batchId).chain(expired -> expired ? end(batchId, fence, BatchStatus.CANCELLING, BatchStatus.EXPIRED)
                        : batches.startFinalizing(batchId, fence, time.seconds(), BatchStatus.CANCELLING)
                                .chain(ok -> ok ? complete(batchId, fence) : Uni.createFrom().<BatchStatus>nullItem())));
    }

    /**
     * Appends to the output and error files the lines settled since they were last written (in
     * steps of their own: {@link OutputFiles#catchUp}, so that a batch whose many lines settled at
     * once, as at a cancel or its deadline, does not end in one long transaction), then, in one
     * transaction that checks the fence, appends what settled meanwhile, makes the files visible,
     * records the webhook event and moves the batch from {@code from} to its terminal {@code to};
     * null when the batch moved on.
     */
    private Uni<BatchStatus> end(String batchId, long fence, BatchStatus from, BatchStatus to) {
        return outputs.catchUp(batchId, true, Integer.MAX_VALUE).chain(() -> {
            long nowMillis = time.millis();
            long now = nowMillis / 1000;
            return transactions.run(tx -> outputs.open(tx, batchId).chain(files -> batches.lockForEnding(tx, batchId, fence, from).chain(b -> {
                if (b == null) {
                    return Uni.createFrom().<BatchStatus>nullItem();
                }
                // its files expire after output_expires_after, or as any file; its lines with its output, or after batch-data
                Long oea = b.outputExpiresAfter();
                long filesExpire = now + (oea != null ? oea : retention.files().toSeconds());
                long dataExpires = now + (oea != null ? oea : retention.batchData().toSeconds());
                return files.finish(now, filesExpire, time.orderingMicros())
                        .call(() -> WebhookOutbox.record(tx, batchId, to, nowMillis, time.orderingMicros()))
                        .chain(w -> batches.end(tx, batchId, fence, to, now, w.outputFileId(), w.errorFileId(), dataExpires))
                        .map(done -> {
                            if (!done) {
                                throw new Fenced(); // rolls the files' tail and the event back with it
                            }
                            return to;
                        });
            })));
        });
    }
}
