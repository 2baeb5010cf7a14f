package dev.openbatch.engine.dispatch;
import dev.openbatch.engine.config.EngineConfig;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

import org.jboss.logging.Logger;

import dev.openbatch.api.Ids;
import dev.openbatch.api.LogText;
import dev.openbatch.outbound.Backoff;
import dev.openbatch.upstream.InvalidAnswerException;
import dev.openbatch.upstream.ResponseTooLargeException;
import dev.openbatch.upstream.UpstreamResponse;

/**
 * Decides what an answer (or its absence) means for a line: success, a retry later, or a
 * failure for the error file. Retryable are connection errors, timeouts, 408, 429 and 5xx, up to
 * {@code maxAttempts} and never past the batch's deadline; the delay is exponential backoff with
 * jitter, or the upstream's {@code Retry-After} (seconds or an HTTP date, read against the
 * injected clock), never more than {@code retryAfterMax}. Credentials refused (401, 403, 407) and
 * answers over {@code max-response-bytes} fail at once. Plain code: no I/O but the operator's log,
 * no state.
 */
final class RetryPolicy {
    private static final Logger LOG = Logger.getLogger(RetryPolicy.class);
    /** Doublings of the backoff's step at most: attempts after the 21st wait as long as it, even when that is below the maximum. */
    private static final int MAX_DOUBLINGS = 20;
    private final int maxAttempts;
    private final Backoff backoff;
    private final long retryAfterMax;

    RetryPolicy(int maxAttempts, long backoffMinMillis, long backoffMaxMillis, long retryAfterMaxMillis) {
        this.maxAttempts = maxAttempts;
        this.backoff = new Backoff(backoffMinMillis, backoffMaxMillis, MAX_DOUBLINGS);
        this.retryAfterMax = Math.max(0, retryAfterMaxMillis);
    }

    static RetryPolicy of(EngineConfig c) {
        return new RetryPolicy(c.maxAttempts(), c.backoffMin().toMillis(), c.backoffMax().toMillis(), c.retryAfterMax().toMillis());
    }

    /**
     * The result for a line answered with {@code resp}, or not answered at all ({@code resp}
     * null, {@code err} why), at {@code now} (epoch ms).
     * <p>
     * What the tenant reads (the error file) never holds the upstream's host, the exception's text
     * or an answer to the operator's credentials: those go to the operator's log, with the batch
     * id and line number, and the tenant gets a fixed message by kind.
     */
    Result decide(Claimed c, UpstreamResponse resp, Throwable err, long now, String upstream) {
        if (resp != null && resp.ok()) {
            Answers.Scan s = Answers.scan(resp.body());
            return Result.succeeded(c, resp.status(), requestId(resp), Answers.oneLine(resp.body(), s.json()), s.usage());
        }
        if (resp == null && err instanceof ResponseTooLargeException big) {
            LOG.warnf("batch %s line %d (project %s): upstream %s %s; the line fails with response_too_large", c.batchId(), c.line(),
                    c.project(), upstream, big.getMessage());
            return Result.failed(c, null, null, null, "response_too_large", "The upstream's answer was larger than "
                    + big.limit() + " bytes, the most this service reads (openbatch.engine.max-response-bytes); it was not kept.");
        }
        if (resp == null && malformedAnswer(err)) {
            // an answer HTTP itself refuses (a NUL or another control character in a header such as x-request-id):
            // the same request would get the same answer, and nothing of it can be kept
            LOG.warnf("batch %s line %d (project %s): upstream %s sent an answer that is not valid HTTP; the line fails with"
                    + " upstream_invalid_response: %s", c.batchId(), c.line(), c.project(), upstream, detail(err));
            return Result.failed(c, null, null, null, "upstream_invalid_response", "The upstream server's answer was not valid HTTP"
                    + " (a header held a character HTTP forbids), so it could not be read or kept; the request was not retried.");
        }
        if (resp != null && credentialsRefused(resp.status())) {
            // the upstream rejects the operator's key: its answer may quote the key, and the tenant can do nothing about it
            LOG.warnf("batch %s line %d (project %s): upstream %s refused the configured credentials (HTTP %d, request id %s): %s",
                    c.batchId(), c.line(), c.project(), upstream, resp.status(), resp.requestId() == null ? "none" : resp.requestId(),
                    clip(resp.body()));
            return Result.failed(c, null, null, null, "upstream_auth_failed", "The upstream server refused this service's credentials"
                    + " (HTTP " + resp.status() + "). The operator has to fix the upstream's configuration; the request was not processed.");
        }
        boolean retryable = resp == null || retryable(resp.status());
        if (retryable && c.attempts() < maxAttempts) {
            long at = now + delay(c.attempts(), resp == null ? null : retryAfterMillis(resp.retryAfter(), now));
            if (c.deadlineMillis() == null || at < c.deadlineMillis()) {
                if (resp == null) {
                    LOG.debugf("batch %s line %d (project %s): no answer from upstream %s on attempt %d, retrying: %s", c.batchId(),
                            c.line(), c.project(), upstream, c.attempts(), detail(err));
                    return Result.retry(c, at, null, null, null, "upstream_unreachable", Unanswered.of(err).message);
                }
                return Result.retry(c, at, resp.status(), requestId(resp), Answers.oneLine(resp.body()), null, null);
            }
        }
        if (resp != null) {
            return Result.failed(c, resp.status(), requestId(resp), Answers.oneLine(resp.body()), null, null);
        }
        LOG.warnf("batch %s line %d (project %s): no answer from upstream %s after %d attempt(s), the line fails: %s", c.batchId(),
                c.line(), c.project(), upstream, c.attempts(), detail(err));
        return Result.failed(c, null, null, null, "upstream_unreachable",
                Unanswered.of(err).message + " Gave up after " + c.attempts() + " attempt(s).");
    }

    /**
     * Whether the request failed because the answer's headers broke HTTP's rules (Vert.x's client
     * validates every header it decodes and fails the request with this exception), as opposed to
     * a connection that failed.
     */
    static boolean malformedAnswer(Throwable err) {
        int depth = 0;
        for (Throwable t = err; t != null && depth++ < 10; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof InvalidAnswerException) {
                return true;
            }
            if (t instanceof IllegalArgumentException && t.getMessage() != null && t.getMessage().startsWith("Validation failed for header")) {
                return true;
            }
        }
        return false;
    }

    /** 401, 403, 407: the upstream (or a proxy before it) does not accept the credentials the operator configured. */
    static boolean credentialsRefused(int status) {
        return status == 401 || status == 403 || status == 407;
    }

    /**
     * Why no answer came, in words a tenant may read: a fixed sentence per kind, never the
     * exception's text (it names hosts, ports and addresses of the operator's network).
     */
    enum Unanswered {
        TIMED_OUT("The upstream server did not answer in time."),
        TLS("A secure (TLS) connection to the upstream server could not be established."),
        CLOSED("The upstream server closed the connection before it answered."),
        UNREACHABLE("The upstream server could not be reached.");

        final String message;

        Unanswered(String message) {
            this.message = message;
        }

        /** The kind of {@code err}, from its class and those of its causes (connect timeouts are ConnectExceptions too). */
        static Unanswered of(Throwable err) {
            Unanswered kind = UNREACHABLE;
            int depth = 0;
            for (Throwable t = err; t != null && depth++ < 10; t = t.getCause() == t ? null : t.getCause()) {
                String type = t.getClass().getSimpleName();
                if (t instanceof java.util.concurrent.TimeoutException || type.contains("Timeout")) {
                    return TIMED_OUT;
                }
                if (t instanceof javax.net.ssl.SSLException) {
                    kind = TLS;
                } else if (kind == UNREACHABLE && (type.equals("HttpClosedException") || type.equals("StreamResetException")
                        || t instanceof java.nio.channels.ClosedChannelException)) {
                    kind = CLOSED;
                }
            }
            return kind;
        }
    }

    /** The whole story of a failure for the operator's log: each exception's type and message, causes included. */
    static String detail(Throwable err) {
        if (err == null) {
            return "no answer";
        }
        StringBuilder sb = new StringBuilder();
        int depth = 0;
        for (Throwable t = err; t != null && depth++ < 5; t = t.getCause() == t ? null : t.getCause()) {
            sb.append(depth > 1 ? " <- " : "").append(t);
        }
        return LogText.of(sb.toString(), 2000); // upstream answers and exception texts: one log line whatever they hold
    }

    private static String clip(String body) {
        if (body == null) {
            return "(no body)";
        }
        return body.length() <= 2000 ? LogText.of(body, 2000)
                : LogText.of(body.substring(0, 2000), 2000) + "... (" + body.length() + " characters)";
    }

    /** Delay before attempt {@code attempt + 1}, given {@code attempt} attempts were made; a Retry-After wins. */
    long delay(int attempt, Long retryAfterMillis) {
        if (retryAfterMillis != null) {
            return Math.min(retryAfterMillis, retryAfterMax);
        }
        return backoff.delay(attempt);
    }

    /** Connection errors, timeouts, 408, 429 and 5xx are worth another try. */
    static boolean retryable(int status) {
        return status == 408 || status == 429 || status >= 500;
    }

    /**
     * {@code Retry-After} in milliseconds from {@code now}: delta-seconds (a finite, non-negative
     * number; huge values saturate instead of overflowing) or an HTTP date. Null when absent or
     * unreadable, so the backoff applies.
     */
    static Long retryAfterMillis(String header, long now) {
        if (header == null || header.isBlank()) {
            return null;
        }
        String h = header.trim();
        try {
            double seconds = Double.parseDouble(h);
            if (Double.isNaN(seconds) || seconds < 0) {
                return null;
            }
            double ms = seconds * 1000;
            return ms >= Long.MAX_VALUE / 4 ? Long.MAX_VALUE / 4 : (long) ms; // Infinity and 1e17 saturate
        } catch (NumberFormatException e) {
            try {
                long at = ZonedDateTime.parse(h, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
                return Math.max(0, at - now);
            } catch (RuntimeException ignored) {
                return null;
            }
        }
    }

    private static String requestId(UpstreamResponse r) {
        return r.requestId() != null ? r.requestId() : Ids.request();
    }
}
