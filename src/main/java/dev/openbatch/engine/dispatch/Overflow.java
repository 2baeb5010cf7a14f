package dev.openbatch.engine.dispatch;

import dev.openbatch.store.BatchStore.Eligible;

/**
 * When an {@code overflow} upstream may take a batch's lines: when the batch would miss its
 * deadline at its rate so far. Its rate is the lines settled since it went in_progress over the
 * time since; the lines left at that rate must end, with {@value #MARGIN}× the time they need,
 * at least {@value #SLACK_MS} ms before its deadline. A batch younger than {@value #WARMUP_MS} ms
 * has no rate yet and is not helped (unless its deadline is that close); one that has settled no
 * line after it is. Once an overflow upstream helps, the rate rises and it may stop helping: it
 * takes what the deadline needs, no more. Plain code.
 */
final class Overflow {
    static final double MARGIN = 1.2;
    static final long SLACK_MS = 60_000;
    static final long WARMUP_MS = 30_000;

    private Overflow() {
    }

    /** Whether {@code e}, read at {@code now} (epoch ms), would miss its deadline without help. */
    static boolean atRisk(Eligible e, long now) {
        Long deadline = e.deadlineMillis();
        if (deadline == null || e.inProgressAt() == null) {
            return false;
        }
        long left = deadline - now - SLACK_MS;
        long remaining = (long) e.total() - e.settled();
        if (remaining <= 0) {
            return false;
        }
        if (left <= 0) {
            return true;
        }
        long elapsed = now - e.inProgressAt() * 1000;
        if (elapsed < WARMUP_MS) {
            return false;
        }
        if (e.settled() <= 0) {
            return true;
        }
        double needed = (double) remaining * elapsed / e.settled();
        return needed * MARGIN > left;
    }
}
