package dev.openbatch.validation;

import java.util.List;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * A failed validation's errors as the API shows them, {@code {"object":"list","data":[…]}}, and
 * as the {@code batches.errors} column keeps them (a JSON array of {@link BatchError}).
 */
@RegisterForReflection
public record BatchErrors(String object, List<BatchError> data) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<BatchError>> LIST = new TypeReference<>() {
    };

    public static BatchErrors of(List<BatchError> errors) {
        return new BatchErrors("list", errors);
    }

    /** The errors as the {@code batches.errors} column keeps them. */
    public static String toJson(List<BatchError> errors) {
        try {
            return JSON.writeValueAsString(errors);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The errors {@link #toJson} wrote. */
    public static BatchErrors fromJson(String json) {
        try {
            return of(JSON.readValue(json, LIST));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored batch errors are not JSON", e);
        }
    }
}
