package dev.openbatch.engine;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.ThreadLocalRandom;

import dev.openbatch.api.Ids;
import dev.openbatch.upstream.UpstreamResponse;

/**
 * Decides what an answer (or its absence) means for a line: success, a retry later, or a
 * failure for the error file. Retryable are connection errors, timeouts, 408, 429 and 5xx, up to
 * {@code maxAttempts} and never past the batch's deadline; the delay is exponential backoff with
 * jitter, or the upstream's {@code Retry-After} (seconds or an HTTP date, read against the
 * injected clock), never more than {@code retryAfterMax}. Plain code: no I/O, no state.
 */
final class RetryPolicy {
    private final int maxAttempts;
    private final long backoffMin;
    private final long backoffMax;
    private final long retryAfterMax;

    RetryPolicy(int maxAttempts, long backoffMinMillis, long backoffMaxMillis, long retryAfterMaxMillis) {
        this.maxAttempts = maxAttempts;
        this.backoffMin = Math.max(1, backoffMinMillis);
        this.backoffMax = Math.max(backoffMin, backoffMaxMillis);
        this.retryAfterMax = Math.max(0, retryAfterMaxMillis);
    }

    static RetryPolicy of(EngineConfig c) {
        return new RetryPolicy(c.maxAttempts(), c.backoffMin().toMillis(), c.backoffMax().toMillis(), c.retryAfterMax().toMillis());
    }

    /**
     * The result for a line answered with {@code resp}, or not answered at all ({@code resp}
     * null, {@code err} why), at {@code now} (epoch ms).
     */
    Result decide(Claimed c, UpstreamResponse resp, Throwable err, long now, String upstream) {
        if (resp != null && resp.ok()) {
            Answers.Scan s = Answers.scan(resp.body());
            return Result.succeeded(c, resp.status(), requestId(resp), Answers.oneLine(resp.body(), s.json()), s.usage());
        }
        boolean retryable = resp == null || retryable(resp.status());
        if (retryable && c.attempts() < maxAttempts) {
            long at = now + delay(c.attempts(), resp == null ? null : retryAfterMillis(resp.retryAfter(), now));
            if (c.deadlineMillis() == null || at < c.deadlineMillis()) {
                return resp == null
                        ? Result.retry(c, at, null, null, null, "upstream_unreachable", describe(err))
                        : Result.retry(c, at, resp.status(), requestId(resp), Answers.oneLine(resp.body()), null, null);
            }
        }
        if (resp != null) {
            return Result.failed(c, resp.status(), requestId(resp), Answers.oneLine(resp.body()), null, null);
        }
        return Result.failed(c, null, null, null, "upstream_unreachable",
                "No answer from upstream '" + upstream + "' after " + c.attempts() + " attempt(s): " + describe(err));
    }

    /** Delay before attempt {@code attempt + 1}, given {@code attempt} attempts were made; a Retry-After wins. */
    long delay(int attempt, Long retryAfterMillis) {
        if (retryAfterMillis != null) {
            return Math.min(retryAfterMillis, retryAfterMax);
        }
        long exp = backoffMin << Math.min(20, Math.max(0, attempt - 1));
        long capped = Math.min(backoffMax, exp);
        // "equal jitter": between half and the whole of the step, so retries spread but still grow
        return capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1);
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

    static String describe(Throwable err) {
        if (err == null) {
            return "no answer";
        }
        String m = err.getMessage();
        if (err instanceof java.util.concurrent.TimeoutException || (m != null && m.contains("timeout"))) {
            return "timed out";
        }
        if (err instanceof java.net.ConnectException || (m != null && m.toLowerCase().contains("connection refused"))) {
            return "connection refused";
        }
        return m == null ? "connection failed" : (m.length() > 200 ? m.substring(0, 200) : m);
    }
}
