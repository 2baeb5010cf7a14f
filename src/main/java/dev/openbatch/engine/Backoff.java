package dev.openbatch.engine;

import java.util.concurrent.ThreadLocalRandom;

/** Exponential backoff with jitter; a Retry-After from the upstream wins. */
final class Backoff {
    private Backoff() {
    }

    /** Delay before attempt {@code attempt + 1}, given {@code attempt} attempts were made. */
    static long delayMillis(int attempt, long minMillis, long maxMillis, Long retryAfterMillis) {
        if (retryAfterMillis != null) {
            return retryAfterMillis;
        }
        long exp = minMillis << Math.min(20, Math.max(0, attempt - 1));
        long capped = Math.min(maxMillis, exp);
        // "equal jitter": between half and the whole of the step, so retries spread but still grow
        return capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1);
    }

    /** Connection errors, timeouts, 408, 429 and 5xx are worth another try. */
    static boolean retryable(int status) {
        return status == 408 || status == 429 || status >= 500;
    }
}
