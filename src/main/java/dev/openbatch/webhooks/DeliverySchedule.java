package dev.openbatch.webhooks;

import dev.openbatch.outbound.Backoff;

/**
 * What a failed attempt leads to: another attempt after an exponential backoff with jitter, or,
 * once the event is older than {@code retry-for}, the end (the delivery is failed). The last
 * attempt is made at the end of the window, so a receiver that comes back within it gets the event.
 */
final class DeliverySchedule {
    /** Doublings of the backoff's step at most: attempts after the 31st wait as long as it, even when that is below the maximum. */
    private static final int MAX_DOUBLINGS = 30;
    private final Backoff backoff;
    private final long retryFor;

    DeliverySchedule(long backoffMinMillis, long backoffMaxMillis, long retryForMillis) {
        this.backoff = new Backoff(backoffMinMillis, backoffMaxMillis, MAX_DOUBLINGS);
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
        return backoff.delay(attempts);
    }
}
