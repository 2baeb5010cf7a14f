package dev.openbatch.api;

/** The OpenAI error envelope: {@code {"error":{"message","type","param","code"}}}. */
public record ApiError(Body error) {
    public record Body(String message, String type, String param, String code) {
    }

    public static ApiError of(String message, String type, String param, String code) {
        return new ApiError(new Body(message, type, param, code));
    }
}
