package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.api.Time;
import dev.openbatch.upstream.Upstream;
import io.vertx.mutiny.core.Vertx;

/**
 * When {@link UpstreamFlow} lets a line start: an answer frees its slot at once, so lines in flight
 * alone are held to the slots (and the adaptive limit), while answers waiting for their write have
 * their own bound beyond the slots, which is what bounds memory and the lines a crash sends again.
 */
class UpstreamFlowStartTest {
    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void close() {
        vertx.closeAndAwait();
    }

    private UpstreamFlow flow(Upstream upstream, int unwrittenMax) {
        return new UpstreamFlow(upstream, 64, unwrittenMax, vertx.getOrCreateContext(), new Time(Clock.systemUTC()), () -> { }, () -> 0,
                () -> 0);
    }

    @Test
    void linesInFlightAreHeldToTheSlotsAndUnwrittenAnswersToTheirOwnBound() {
        UpstreamFlow f = flow(UpstreamFlowLagTest.upstream(Upstream.FlowControl.FIXED), 8);
        assertTrue(f.mayStart(63, 0), "a free slot, nothing unwritten");
        assertFalse(f.mayStart(64, 0), "every slot in flight");
        assertTrue(f.mayStart(0, 71), "answers waiting for their write do not hold slots, up to their bound");
        assertFalse(f.mayStart(0, 72), "64 slots + 8 unwritten: no more sends until a write lands");
        assertTrue(f.mayStart(60, 11));
        assertFalse(f.mayStart(60, 12), "in flight and unwritten together stay within slots + bound");
    }

    @Test
    void withoutRoomForUnwrittenAnswersAnAnswerKeepsItsSlotUntilWritten() {
        UpstreamFlow f = flow(UpstreamFlowLagTest.upstream(Upstream.FlowControl.FIXED), 0);
        assertTrue(f.mayStart(32, 31));
        assertFalse(f.mayStart(32, 32));
    }

    @Test
    void theAdaptiveLimitHoldsLinesInFlightButNotUnwrittenAnswers() {
        UpstreamFlow f = flow(UpstreamFlowLagTest.adaptive(), 128);
        int limit = f.limit();
        assertEquals(16, limit, "the adaptive limit starts at adaptive-initial");
        assertTrue(f.mayStart(limit - 1, 100));
        assertFalse(f.mayStart(limit, 0), "in flight at the adaptive limit");
    }
}
