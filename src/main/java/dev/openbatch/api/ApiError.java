package dev.openbatch.api;

import io.quarkus.runtime.annotations.RegisterForReflection;

/** The OpenAI error envelope: {@code {"error":{"message","type","param","code"}}}. */
@RegisterForReflection(targets = { ApiError.class, ApiError.Body.class })
public record ApiError(Body error) {
    public record Body(String message, String type, String param, String code) {
    }

    public static ApiError of(String message, String type, String param, String code) {
        return new ApiError(new Body(message, type, param, code));
    }
}
