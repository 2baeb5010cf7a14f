package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.openbatch.store.BatchStore.Eligible;

/** When an overflow upstream helps a batch. */
class OverflowTest {
    private static final long NOW = 1_700_000_000_000L;

    /** A batch that went in_progress {@code ago} seconds before NOW, due {@code left} seconds after it. */
    private static Eligible batch(long ago, Long left, int total, int settled) {
        return new Eligible("b", "p", "j", "/v1/chat/completions", left == null ? null : NOW / 1000 + left, null, 0, 1, "m", total,
                settled, NOW / 1000 - ago);
    }

    @Test
    void aComfortableDeadlineNeedsNoHelp() {
        // 100 settled in 100 s, 900 left: 900 s more at this rate, 24 h left
        assertFalse(Overflow.atRisk(batch(100, 86_400L, 1000, 100), NOW));
    }

    @Test
    void aDeadlineTheRateWouldMissGetsHelp() {
        // 100 settled in 100 s, 900 left: 900 s more, but 10 minutes left
        assertTrue(Overflow.atRisk(batch(100, 600L, 1000, 100), NOW));
    }

    @Test
    void theMarginCountsTooAndSoDoesTheLastMinute() {
        // 900 s needed, 1,000 s left: 900 × 1.2 = 1,080 > 1,000 − 60
        assertTrue(Overflow.atRisk(batch(100, 1000L, 1000, 100), NOW));
        // 900 s needed, 1,200 s left: 1,080 < 1,140
        assertFalse(Overflow.atRisk(batch(100, 1200L, 1000, 100), NOW));
    }

    @Test
    void aYoungBatchHasNoRateYetUnlessItsDeadlineIsNear() {
        assertFalse(Overflow.atRisk(batch(5, 3600L, 1000, 0), NOW), "too early to judge");
        assertTrue(Overflow.atRisk(batch(5, 30L, 1000, 0), NOW), "its last minute");
        assertTrue(Overflow.atRisk(batch(40, 3600L, 1000, 0), NOW), "nothing settled after the warm-up");
    }

    @Test
    void nothingLeftOrNoDeadlineNeedsNoHelp() {
        assertFalse(Overflow.atRisk(batch(100, 10L, 1000, 1000), NOW));
        assertFalse(Overflow.atRisk(batch(100, null, 1000, 1), NOW));
    }
}
