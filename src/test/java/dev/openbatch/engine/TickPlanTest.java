package dev.openbatch.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.openbatch.engine.lifecycle.Lifecycle.Step;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.status.LineState;
import dev.openbatch.store.BatchStore.Work;

/** The tick's plan: one step per batch not busy here, validations apart, and the aborts of lines in flight. */
class TickPlanTest {
    private static final long NOW = 1_000_000_000L;

    private static Work work(String id, BatchStatus status, boolean validated, boolean settled, Long expiresAt) {
        return new Work(id, status, validated, "fake", "p", 0, settled, expiresAt);
    }

    @Test
    void eachBatchTakesTheStepLifecycleDecidesAndValidationsWaitForASlot() {
        Work validating = work("v", BatchStatus.VALIDATING, false, false, null);
        Work done = work("d", BatchStatus.IN_PROGRESS, true, true, NOW / 1000 + 60);
        Work late = work("l", BatchStatus.IN_PROGRESS, true, false, NOW / 1000 - 1);
        Work cancelling = work("c", BatchStatus.CANCELLING, true, false, null);
        TickPlan plan = TickPlan.of(List.of(validating, done, late, cancelling), NOW, id -> false);
        assertEquals(Map.of(done, Step.FINALIZE, late, Step.EXPIRE, cancelling, Step.CANCEL), plan.steps());
        assertEquals(List.of(validating), plan.toValidate());
        assertEquals(Map.of(LineState.EXPIRED, Set.of("l"), LineState.CANCELLED, Set.of("c")), plan.aborts());
    }

    @Test
    void aBatchBusyHereTakesNoStepButItsLinesInFlightAreStillAborted() {
        Work late = work("l", BatchStatus.IN_PROGRESS, true, false, NOW / 1000 - 1);
        TickPlan plan = TickPlan.of(List.of(late), NOW, "l"::equals);
        assertEquals(Map.of(), plan.steps());
        assertEquals(Map.of(LineState.EXPIRED, Set.of("l")), plan.aborts());
    }

    @Test
    void aBatchThatCameTwiceCountsAsSettledWhenEitherRowSaysSo() {
        Work unsettled = work("b", BatchStatus.IN_PROGRESS, true, false, NOW / 1000 - 1);
        Work settled = work("b", BatchStatus.IN_PROGRESS, true, true, NOW / 1000 - 1);
        assertEquals(Map.of(settled, Step.SETTLED_PAST_DEADLINE), TickPlan.of(List.of(settled, unsettled), NOW, id -> false).steps());
        assertEquals(Map.of(settled, Step.SETTLED_PAST_DEADLINE), TickPlan.of(List.of(unsettled, settled), NOW, id -> false).steps());
        assertEquals(Map.of(), TickPlan.of(List.of(unsettled, settled), NOW, id -> false).aborts());
    }
}
