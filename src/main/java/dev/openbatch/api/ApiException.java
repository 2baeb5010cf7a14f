package dev.openbatch.api;

/**
 * A failure the client caused or can act on. Mapped to the OpenAI error envelope in
 * {@link ErrorMappers}; the message is shown to the client as it is.
 */
public class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String type, String message, String param, String code) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    public int status() { return status; }
    public String type() { return type; }
    public String param() { return param; }
    public String code() { return code; }

    public ApiError toError() {
        return new ApiError(new ApiError.Body(getMessage(), type, param, code));
    }

    /** 400: the request is malformed or names an invalid value. */
    public static ApiException invalid(String message, String param) {
        return new ApiException(400, "invalid_request_error", message, param, "invalid_request");
    }

    /** 400 with a specific code. */
    public static ApiException invalid(String message, String param, String code) {
        return new ApiException(400, "invalid_request_error", message, param, code);
    }

    /** 404: unknown, or belongs to another project (never 403). */
    public static ApiException notFound(String what, String id) {
        return new ApiException(404, "invalid_request_error", "No " + what + " found with id '" + clip(id) + "'.", null, "not_found");
    }

    /** 409: the object is in a state that does not allow the operation. */
    public static ApiException conflict(String message, String code) {
        return new ApiException(409, "invalid_request_error", message, null, code);
    }

    /** 410: the object is there but what was asked of it is gone for good (its data expired). */
    public static ApiException gone(String message, String code) {
        return new ApiException(410, "invalid_request_error", message, null, code);
    }

    /** 413: a body or file over the configured limit. */
    public static ApiException tooLarge(String message, String param) {
        return new ApiException(413, "invalid_request_error", message, param, "file_too_large");
    }

    /** 422: well-formed but semantically invalid. */
    public static ApiException unprocessable(String message, String param, String code) {
        return new ApiException(422, "invalid_request_error", message, param, code);
    }

    /** 403: the key is valid but may not do this (a project key on the admin API, the admin writing a project's data). */
    public static ApiException forbidden(String message) {
        return new ApiException(403, "invalid_request_error", message, null, "insufficient_permissions");
    }

    public static ApiException unauthorized(String message) {
        return new ApiException(401, "invalid_request_error", message, null, "invalid_api_key");
    }

    /** Keeps client-supplied text short in messages (a 5,000-character id stays readable). */
    public static String clip(String s) {
        if (s == null) {
            return "";
        }
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
