package dev.openbatch.webhooks;

import java.util.concurrent.ThreadLocalRandom;

/**
 * What a failed attempt leads to: another attempt after an exponential backoff with jitter, or,
 * once the event is older than {@code retry-for}, the end (the delivery is failed). The last
 * attempt is made at the end of the window, so a receiver that comes back within it gets the event.
 */
final class DeliverySchedule {
    private final long backoffMin;
    private final long backoffMax;
    private final long retryFor;

    DeliverySchedule(long backoffMinMillis, long backoffMaxMillis, long retryForMillis) {
        this.backoffMin = Math.max(1, backoffMinMillis);
        this.backoffMax = Math.max(backoffMin, backoffMaxMillis);
        this.retryFor = Math.max(0, retryForMillis);
    }

    static DeliverySchedule of(WebhooksConfig c) {
        return new DeliverySchedule(c.backoffMin().toMillis(), c.backoffMax().toMillis(), c.retryFor().toMillis());
    }

    /**
     * When to try again after {@code attempts} failed attempts of an event made at
     * {@code eventMillis}, the last failing at {@code nowMillis}; null when the window is over.
     */
    Long nextAttempt(int attempts, long eventMillis, long nowMillis) {
        long end = eventMillis + retryFor;
        if (nowMillis >= end) {
            return null;
        }
        return Math.min(end, nowMillis + delay(attempts));
    }

    /** Delay after {@code attempts} failed attempts: min · 2^(attempts−1), at most max, between half and the whole of it. */
    long delay(int attempts) {
        long exp = backoffMin << Math.min(30, Math.max(0, attempts - 1));
        long capped = exp <= 0 ? backoffMax : Math.min(backoffMax, exp);
        return capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1);
    }
}
