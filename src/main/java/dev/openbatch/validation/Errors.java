package dev.openbatch.validation;

import java.util.List;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A batch's validation errors as the API shows them, {@code {"object":"list","data":[…]}}: in the
 * Batch object of a failed batch and in a dry run's report. The {@code batches.errors} column keeps
 * the {@code data} as a JSON array; {@link #toJson} and {@link #fromJson} are its one codec.
 */
public record Errors(String object, List<BatchError> data) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<BatchError>> LIST = new TypeReference<>() {
    };

    /** The errors as the column keeps them. */
    public static String toJson(List<BatchError> errors) {
        try {
            return JSON.writeValueAsString(errors);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The errors the column keeps, as the API shows them; null when it keeps none. */
    public static Errors fromJson(String json) {
        if (json == null) {
            return null;
        }
        try {
            return new Errors("list", JSON.readValue(json, LIST));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored batch errors are not JSON", e);
        }
    }
}
