package dev.openbatch.upstream;

/**
 * An upstream's answer was larger than {@code openbatch.engine.max-response-bytes}: it was cut
 * off, not read to its end. The line fails for good (the same request would get the same answer).
 */
public class ResponseTooLargeException extends RuntimeException {
    private final int status;
    private final long limit;
    private final long declared;

    /**
     * @param status   the answer's HTTP status
     * @param limit    the configured cap, in bytes
     * @param declared the answer's {@code Content-Length}, or -1 when it came chunked (cut while streaming)
     */
    public ResponseTooLargeException(int status, long limit, long declared) {
        super("answer (HTTP " + status + ") over the limit of " + limit + " bytes"
                + (declared >= 0 ? ": Content-Length " + declared : ", cut off while streaming"), null, false, false);
        this.status = status;
        this.limit = limit;
        this.declared = declared;
    }

    public int status() { return status; }

    public long limit() { return limit; }

    public long declared() { return declared; }
}
