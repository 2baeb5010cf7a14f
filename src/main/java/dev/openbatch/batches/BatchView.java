package dev.openbatch.batches;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.util.Map;

import dev.openbatch.api.Metadata;
import dev.openbatch.validation.BatchErrors;

/** The Batch object of the API: every field of the reference page, plus {@code model} and {@code usage}. */
@RegisterForReflection(targets = { BatchView.class, BatchView.RequestCounts.class, BatchView.Usage.class, BatchView.InputDetails.class,
        BatchView.OutputDetails.class })
public record BatchView(String id, String object, String endpoint, BatchErrors errors, String input_file_id,
        String completion_window, String status, String output_file_id, String error_file_id, long created_at,
        Long in_progress_at, Long expires_at, Long finalizing_at, Long completed_at, Long failed_at, Long expired_at,
        Long cancelling_at, Long cancelled_at, RequestCounts request_counts, Map<String, String> metadata,
        String job_id, String model, Usage usage) {

    public record RequestCounts(int total, int completed, int failed) {
    }

    public record Usage(long input_tokens, InputDetails input_tokens_details, long output_tokens,
            OutputDetails output_tokens_details, long total_tokens) {
    }

    public record InputDetails(long cached_tokens) {
    }

    public record OutputDetails(long reasoning_tokens) {
    }

    public static BatchView of(BatchEntity b) {
        return new BatchView(b.id, "batch", b.endpoint, b.errors == null ? null : BatchErrors.fromJson(b.errors), b.inputFileId,
                b.completionWindow, b.status, b.outputFileId, b.errorFileId, b.createdAt, b.inProgressAt, b.expiresAt, b.finalizingAt, b.completedAt,
                b.failedAt, b.expiredAt, b.cancellingAt, b.cancelledAt, new RequestCounts(b.total, b.completed, b.failed),
                Metadata.fromJson(b.metadata), b.jobId, b.model,
                new Usage(b.inputTokens, new InputDetails(0), b.outputTokens, new OutputDetails(0), b.totalTokens));
    }
}
