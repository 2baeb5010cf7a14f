package dev.openbatch.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** Equal-jitter exponential backoff: bounds per attempt, growth, the cap, no overflow, a seeded source. */
class BackoffTest {
    private static final long HOUR = 3_600_000;

    @Test
    void eachDelayIsBetweenHalfAndTheWholeOfItsStep() {
        Backoff b = new Backoff(1000, 60_000, 30);
        for (int i = 0; i < 500; i++) {
            for (int attempt = 1; attempt <= 12; attempt++) {
                long step = Math.min(60_000, 1000L << (attempt - 1));
                assertEquals(step, b.step(attempt));
                long d = b.delay(attempt);
                assertTrue(d >= step / 2 && d <= step, "attempt " + attempt + ": " + d);
            }
        }
    }

    @Test
    void theStepDoublesUntilTheMaximum() {
        Backoff b = new Backoff(5_000, HOUR, 30);
        assertEquals(5_000, b.step(1));
        assertEquals(10_000, b.step(2));
        assertEquals(20_000, b.step(3));
        assertEquals(5_000L << 9, b.step(10)); // 2 560 000 ms, still under an hour
        assertEquals(HOUR, b.step(11)); // 5 120 000 ms would pass it
        assertEquals(HOUR, b.step(40));
        // attempt 0 or less: the first step
        assertEquals(5_000, b.step(0));
        assertEquals(5_000, b.step(-3));
    }

    @Test
    void theStepStopsDoublingAfterMaxDoublings() {
        Backoff b = new Backoff(1, Long.MAX_VALUE, 20);
        assertEquals(1L << 20, b.step(21));
        assertEquals(1L << 20, b.step(22));
        assertEquals(1L << 20, b.step(Integer.MAX_VALUE));
        assertEquals(1, new Backoff(1, 100, -5).step(10), "a negative limit means no doubling");
    }

    @Test
    void hugeAttemptsOrStepsSaturateAtTheMaximumInsteadOfOverflowing() {
        Backoff unbounded = new Backoff(1, Long.MAX_VALUE, Integer.MAX_VALUE);
        assertEquals(1L << 62, unbounded.step(63));
        assertEquals(Long.MAX_VALUE, unbounded.step(64));
        assertEquals(Long.MAX_VALUE, unbounded.step(65));
        assertEquals(Long.MAX_VALUE, unbounded.step(Integer.MAX_VALUE));
        long d = unbounded.delay(Integer.MAX_VALUE);
        assertTrue(d >= Long.MAX_VALUE / 2, "delay " + d);

        // a minimum so large that one doubling overflows a long
        Backoff huge = new Backoff(Long.MAX_VALUE / 2 + 1, Long.MAX_VALUE, 30);
        assertEquals(Long.MAX_VALUE / 2 + 1, huge.step(1));
        assertEquals(Long.MAX_VALUE, huge.step(2));
        assertEquals(Long.MAX_VALUE, huge.step(31));
        // where a plain shift would wrap round to a small positive number: 2^40 + 1 shifted by 30
        Backoff wraps = new Backoff((1L << 40) + 1, Long.MAX_VALUE, 30);
        assertEquals(Long.MAX_VALUE, wraps.step(31));

        Backoff capped = new Backoff(1000, HOUR, Integer.MAX_VALUE);
        for (int attempt : new int[] { 100, 1000, Integer.MAX_VALUE }) {
            long delay = capped.delay(attempt);
            assertTrue(delay >= HOUR / 2 && delay <= HOUR, "attempt " + attempt + ": " + delay);
        }
    }

    @Test
    void minimumAndMaximumAreMadeSane() {
        assertEquals(1, new Backoff(0, 0, 30).step(1), "at least 1 ms");
        assertEquals(1, new Backoff(-50, -10, 30).step(5));
        assertEquals(500, new Backoff(500, 100, 30).step(3), "a maximum under the minimum is the minimum");
        long d = new Backoff(0, 0, 30).delay(1);
        assertTrue(d == 0 || d == 1, "delay " + d);
    }

    @Test
    void aSeededSourceGivesTheSameDelaysTwiceAndTheEqualJitterFormula() {
        assertEquals(delays(new Random(42)), delays(new Random(42)));

        Random expected = new Random(7);
        Random given = new Random(7);
        Backoff b = new Backoff(1000, 60_000, 20, () -> given);
        for (int attempt = 1; attempt <= 10; attempt++) {
            long step = b.step(attempt);
            assertEquals(step / 2 + expected.nextLong(step / 2 + 1), b.delay(attempt), "attempt " + attempt);
        }
    }

    @Test
    void theJitterCoversTheWholeRange() {
        Backoff b = new Backoff(8, 8, 0, () -> new Random(1));
        // a fresh generator with the same seed each time: the same delay every time
        long first = b.delay(1);
        for (int i = 0; i < 10; i++) {
            assertEquals(first, b.delay(1));
        }
        Random shared = new Random(3);
        Backoff spread = new Backoff(8, 8, 0, () -> shared);
        boolean[] seen = new boolean[9];
        for (int i = 0; i < 1000; i++) {
            seen[(int) spread.delay(1)] = true;
        }
        for (int v = 4; v <= 8; v++) {
            assertTrue(seen[v], "never drew " + v);
        }
        for (int v = 0; v < 4; v++) {
            assertTrue(!seen[v], "drew " + v + ", under half the step");
        }
    }

    /**
     * The steps the engine's retry policy (at most 20 doublings) and the webhook schedule (at most
     * 30, a non-positive shift result meaning the maximum) computed before they shared this class,
     * wherever that arithmetic did not overflow: the same, so is every delay drawn from them.
     */
    @Test
    void theStepsAreThoseOfTheFormerRetryPolicyAndDeliverySchedule() {
        long[] values = { 1, 2, 50, 400, 999, 1000, 5_000, 60_000, HOUR, 24 * HOUR, 1L << 31, 1L << 40, Long.MAX_VALUE };
        for (long min : values) {
            for (long max : values) {
                Backoff engine = new Backoff(min, max, 20);
                Backoff webhooks = new Backoff(min, max, 30);
                long lo = Math.max(1, min);
                long hi = Math.max(lo, max);
                for (int attempt = -1; attempt <= 70; attempt++) {
                    int d20 = Math.min(20, Math.max(0, attempt - 1));
                    if (Long.numberOfLeadingZeros(lo) > d20) { // the old shift kept every bit
                        assertEquals(Math.min(hi, lo << d20), engine.step(attempt), min + " " + max + " " + attempt);
                    }
                    int d30 = Math.min(30, Math.max(0, attempt - 1));
                    if (Long.numberOfLeadingZeros(lo) > d30) {
                        long exp = lo << d30;
                        assertEquals(exp <= 0 ? hi : Math.min(hi, exp), webhooks.step(attempt), min + " " + max + " " + attempt);
                    }
                }
            }
        }
    }

    private static List<Long> delays(Random random) {
        Backoff b = new Backoff(250, 30_000, 30, () -> random);
        List<Long> out = new ArrayList<>();
        for (int attempt = 1; attempt <= 15; attempt++) {
            out.add(b.delay(attempt));
        }
        return out;
    }
}
