package dev.openbatch.batches;

import java.util.Map;
import java.util.Set;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Metadata;
import dev.openbatch.api.Params;
import dev.openbatch.jobs.CompletionWindow;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * The body of {@code POST /v1/batches}, and of its dry run {@code POST /v1/batches/validate}: both
 * check it with {@link #check}, so a dry run answers the same 400s as the create it stands for.
 */
@RegisterForReflection(targets = { CreateBatch.class, CreateBatch.OutputExpiresAfter.class })
public record CreateBatch(String input_file_id, String endpoint, String completion_window, Map<String, Object> metadata,
        String job_id, OutputExpiresAfter output_expires_after) {

    /** Endpoints a batch may target. */
    static final Set<String> ENDPOINTS = Set.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses");

    public record OutputExpiresAfter(String anchor, Long seconds) {
    }

    /** The body's own checks (nothing read from the database): a 400 naming the first parameter that is wrong. */
    static void check(CreateBatch req) {
        if (req == null) {
            throw ApiException.invalid("The request body must be a JSON object.", null, "invalid_json");
        }
        Params.text("input_file_id", req.input_file_id());
        Params.text("job_id", req.job_id());
        if (req.input_file_id() == null || req.input_file_id().isBlank()) {
            throw ApiException.invalid("Missing required parameter: 'input_file_id'.", "input_file_id", "missing_required_parameter");
        }
        if (req.endpoint() == null) {
            throw ApiException.invalid("Missing required parameter: 'endpoint'.", "endpoint", "missing_required_parameter");
        }
        if (!ENDPOINTS.contains(req.endpoint())) {
            throw ApiException.invalid("Invalid 'endpoint': '" + ApiException.clip(req.endpoint())
                    + "'. Supported: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses.", "endpoint", "invalid_value");
        }
        if (req.completion_window() != null) {
            CompletionWindow.seconds(req.completion_window(), "completion_window");
        }
        Metadata.check(req.metadata());
        var oea = req.output_expires_after();
        if (oea != null) {
            if (!"created_at".equals(oea.anchor())) {
                throw ApiException.invalid("Invalid 'output_expires_after.anchor': only 'created_at' is supported.",
                        "output_expires_after.anchor", "invalid_value");
            }
            if (oea.seconds() == null || oea.seconds() < 3600 || oea.seconds() > 2_592_000) {
                throw ApiException.invalid("'output_expires_after.seconds' must be between 3600 (1 hour) and 2592000 (30 days).",
                        "output_expires_after.seconds", "invalid_value");
            }
        }
    }
}
