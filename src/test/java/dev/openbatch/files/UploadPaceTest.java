package dev.openbatch.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The pace an upload must keep: judged over the last window, once a whole window has passed, and only while the server wants bytes. */
class UploadPaceTest {
    private static final long WINDOW = 30_000;

    @Test
    void aTrickleAfterAFastStartIsTooSlowOnceTheStartIsAWindowBehind() {
        UploadPace pace = new UploadPace(16_384, WINDOW);
        pace.wanting(0);
        pace.received(10_000_000); // a fast start
        long t = 0;
        long verdict = -1;
        while (verdict < 0 && t < 5 * WINDOW) {
            t += 1000;
            pace.received(10); // then 10 bytes a second
            verdict = pace.tooSlow(t);
        }
        assertTrue(t > WINDOW, "the fast start counts for a whole window: cut at " + t);
        assertTrue(t <= 2 * WINDOW + 1000, "the trickle is judged on its own once the start is a window behind: cut at " + t);
        assertTrue(verdict < 16_384L * WINDOW / 1000, "what the last window got: " + verdict);
    }

    @Test
    void nothingIsJudgedBeforeAWholeWindow() {
        UploadPace pace = new UploadPace(16_384, WINDOW);
        pace.wanting(0);
        for (long t = 1000; t < WINDOW; t += 1000) {
            assertEquals(-1, pace.tooSlow(t), "a slow start is forgiven at " + t);
        }
        assertEquals(0, pace.tooSlow(WINDOW), "a whole window without a byte");
    }

    @Test
    void theTimeTheServerHoldsTheBodyBackDoesNotCount() {
        UploadPace pace = new UploadPace(16_384, WINDOW);
        pace.wanting(0);
        pace.received(16_384L * 20); // 20 s of the minimum in the first 20 s
        pace.holding(20_000);
        for (long t = 21_000; t < 20 * WINDOW; t += 1000) {
            assertEquals(-1, pace.tooSlow(t), "held back at " + t);
        }
        pace.wanting(20 * WINDOW);
        pace.received(16_384L * 10);
        assertEquals(-1, pace.tooSlow(20 * WINDOW + 10_000), "30 s counted, at the minimum");
        assertEquals(16_384L * 30, pace.tooSlow(20 * WINDOW + 11_000), "31 s counted, 30 s worth of bytes: too slow by a hair");
    }

    @Test
    void aSteadyUploadAtTheMinimumIsNeverCut() {
        UploadPace pace = new UploadPace(16_384, WINDOW);
        pace.wanting(0);
        for (long t = 500; t < 20 * WINDOW; t += 500) {
            pace.received(8192);
            assertEquals(-1, pace.tooSlow(t), "at " + t);
            if (t % 7000 == 0) {
                pace.holding(t); // held back now and then: a stretch that does not count
                pace.wanting(t + 3000);
                t += 3000;
            }
        }
    }

    @Test
    void noMinimumNeverCuts() {
        UploadPace pace = new UploadPace(0, WINDOW);
        pace.wanting(0);
        assertEquals(-1, pace.tooSlow(10 * WINDOW));
    }
}
