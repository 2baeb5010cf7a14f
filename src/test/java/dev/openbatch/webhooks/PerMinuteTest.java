package dev.openbatch.webhooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** The per-project limit on webhook URL checks: a sliding minute, per key. */
class PerMinuteTest {
    @Test
    void atMostNInAnyMinutePerKey() {
        PerMinute limit = new PerMinute(3);
        long t = 1_000_000;
        assertEquals(0, limit.take("a", t));
        assertEquals(0, limit.take("a", t + 10_000));
        assertEquals(0, limit.take("a", t + 20_000));
        assertEquals(30_000, limit.take("a", t + 30_000), "the 4th within a minute waits for the 1st to leave the window");
        assertEquals(0, limit.take("b", t + 30_000), "another key has its own");
        assertEquals(0, limit.take("a", t + 60_000), "the 1st has left");
        assertTrue(limit.take("a", t + 60_001) > 0, "the 2nd has not");
        assertEquals(0, limit.take("a", t + 70_000));
    }

    @Test
    void noSlidingMinuteEverHoldsMoreThanNTakes() {
        Random random = new Random(7);
        for (int round = 0; round < 50; round++) {
            int n = 1 + random.nextInt(5);
            PerMinute limit = new PerMinute(n);
            long t = 5_000_000L + random.nextInt(1000);
            java.util.List<Long> allowed = new java.util.ArrayList<>();
            for (int i = 0; i < 300; i++) {
                t += random.nextInt(25_000);
                if (limit.take("p", t) == 0) {
                    allowed.add(t);
                }
            }
            for (int i = n; i < allowed.size(); i++) {
                assertTrue(allowed.get(i) - allowed.get(i - n) >= PerMinute.WINDOW_MILLIS,
                        "n=" + n + ": takes " + (i - n) + " and " + i + " within a minute");
            }
            assertTrue(allowed.size() > n, "some are allowed after the first minute");
        }
    }
}
