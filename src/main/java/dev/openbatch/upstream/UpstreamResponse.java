package dev.openbatch.upstream;

/**
 * One HTTP answer from an upstream.
 *
 * @param status     the HTTP status
 * @param body       the response body as text (JSON for any well-behaved server)
 * @param requestId  the upstream's request id ({@code x-request-id}), or null
 * @param retryAfter the {@code Retry-After} header as sent (seconds or an HTTP date), or null; the engine reads it
 */
public record UpstreamResponse(int status, String body, String requestId, String retryAfter) {
    public boolean ok() {
        return status >= 200 && status < 300;
    }
}
