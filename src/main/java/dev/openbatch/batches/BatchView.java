package dev.openbatch.batches;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.util.Map;

import dev.openbatch.api.Metadata;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.SpendStore;
import dev.openbatch.validation.BatchErrors;

/**
 * The Batch object of the API: every field of the reference page, plus {@code model}, {@code usage}
 * and openbatch's own {@code paused} (null unless the batch is in_progress and its project is
 * paused at its spend cap).
 */
@RegisterForReflection(targets = { BatchView.class, BatchView.RequestCounts.class, BatchView.Usage.class, BatchView.InputDetails.class,
        BatchView.OutputDetails.class, BatchView.Paused.class })
public record BatchView(String id, String object, String endpoint, BatchErrors errors, String input_file_id,
        String completion_window, String status, String output_file_id, String error_file_id, long created_at,
        Long in_progress_at, Long expires_at, Long finalizing_at, Long completed_at, Long failed_at, Long expired_at,
        Long cancelling_at, Long cancelled_at, RequestCounts request_counts, Map<String, String> metadata,
        String job_id, String model, Usage usage, Paused paused) {

    public record RequestCounts(int total, int completed, int failed) {
    }

    public record Usage(long input_tokens, InputDetails input_tokens_details, long output_tokens,
            OutputDetails output_tokens_details, long total_tokens) {
    }

    public record InputDetails(long cached_tokens) {
    }

    public record OutputDetails(long reasoning_tokens) {
    }

    /**
     * Why an in_progress batch sends no lines now: {@code reason} {@code spend_cap} (its project
     * reached {@code quota}), the {@code message} that says so, {@code since} when (unix seconds),
     * and {@code resumes_at}, when the cap's period ends and the batch resumes by itself (sooner if
     * the cap is raised).
     */
    public record Paused(String reason, String quota, String message, long since, long resumes_at) {
        public static final String SPEND_CAP = "spend_cap";
    }

    /** The batch as it is, not paused: for answers about a batch that cannot be (validating, cancelling, ended). */
    public static BatchView of(BatchEntity b) {
        return of(b, null);
    }

    /** The batch, paused by {@code pause} (its project's, or null) if it is in_progress. */
    public static BatchView of(BatchEntity b, SpendStore.Pause pause) {
        Paused paused = pause == null || !BatchStatus.IN_PROGRESS.wire().equals(b.status) ? null
                : new Paused(Paused.SPEND_CAP, pause.quota(), pause.message(), pause.since(), pause.resumesAt());
        return new BatchView(b.id, "batch", b.endpoint, b.errors == null ? null : BatchErrors.fromJson(b.errors), b.inputFileId,
                b.completionWindow, b.status, b.outputFileId, b.errorFileId, b.createdAt, b.inProgressAt, b.expiresAt, b.finalizingAt, b.completedAt,
                b.failedAt, b.expiredAt, b.cancellingAt, b.cancelledAt, new RequestCounts(b.total, b.completed, b.failed),
                Metadata.fromJson(b.metadata), b.jobId, b.model,
                new Usage(b.inputTokens, new InputDetails(0), b.outputTokens, new OutputDetails(0), b.totalTokens), paused);
    }
}
