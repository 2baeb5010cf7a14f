package dev.openbatch.webhooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Exponential backoff with jitter between attempts, and the end of the retry window. */
class DeliveryScheduleTest {
    private static final long HOUR = 3_600_000;
    private final DeliverySchedule s = new DeliverySchedule(5_000, HOUR, 24 * HOUR);

    @Test
    void delaysDoubleWithJitterUpToTheMaximum() {
        for (int i = 0; i < 200; i++) {
            long d1 = s.delay(1);
            assertTrue(d1 >= 2_500 && d1 <= 5_000, "attempt 1: " + d1);
            long d3 = s.delay(3);
            assertTrue(d3 >= 10_000 && d3 <= 20_000, "attempt 3: " + d3);
            long d40 = s.delay(40);
            assertTrue(d40 >= HOUR / 2 && d40 <= HOUR, "capped: " + d40);
        }
    }

    @Test
    void retriesLastUntilTheWindowEndsAndTheLastAttemptIsAtItsEnd() {
        long event = 1_000_000;
        Long next = s.nextAttempt(1, event, event + 1_000);
        assertTrue(next != null && next > event + 1_000 && next <= event + 6_000);
        // close to the end: the next attempt is at the end of the window, not after it
        long end = event + 24 * HOUR;
        assertEquals(end, s.nextAttempt(30, event, end - 1_000));
        // an attempt that fails at or after the end is the last one
        assertNull(s.nextAttempt(31, event, end));
        assertNull(s.nextAttempt(2, event, end + HOUR));
    }
}
