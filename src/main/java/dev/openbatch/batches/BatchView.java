package dev.openbatch.batches;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.api.Metadata;

/** The Batch object of the API: every field of the reference page, plus {@code model} and {@code usage}. */
@RegisterForReflection(targets = { BatchView.class, BatchView.RequestCounts.class, BatchView.Usage.class, BatchView.InputDetails.class,
        BatchView.OutputDetails.class, BatchView.Errors.class, BatchView.BatchError.class })
public record BatchView(String id, String object, String endpoint, Errors errors, String input_file_id,
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

    /** {@code {"object":"list","data":[...]}} */
    public record Errors(String object, List<BatchError> data) {
    }

    /** One validation error: what is wrong, at which 1-based line, in which field. */
    public record BatchError(String code, String message, String param, Integer line) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<BatchError>> ERRORS = new TypeReference<>() {
    };

    public static String errorsToJson(List<BatchError> errors) {
        try {
            return JSON.writeValueAsString(errors);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static BatchView of(BatchEntity b) {
        Errors errors = null;
        if (b.errors != null) {
            try {
                errors = new Errors("list", JSON.readValue(b.errors, ERRORS));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("stored batch errors are not JSON", e);
            }
        }
        return new BatchView(b.id, "batch", b.endpoint, errors, b.inputFileId, b.completionWindow, b.status,
                b.outputFileId, b.errorFileId, b.createdAt, b.inProgressAt, b.expiresAt, b.finalizingAt, b.completedAt,
                b.failedAt, b.expiredAt, b.cancellingAt, b.cancelledAt, new RequestCounts(b.total, b.completed, b.failed),
                Metadata.fromJson(b.metadata), b.jobId, b.model,
                new Usage(b.inputTokens, new InputDetails(0), b.outputTokens, new OutputDetails(0), b.totalTokens));
    }
}
