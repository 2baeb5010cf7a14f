package dev.openbatch.engine.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.openbatch.engine.lifecycle.Lifecycle.Step;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.status.LineState;
import dev.openbatch.store.BatchStore.Work;

/**
 * The decision table of {@link Lifecycle#next} and {@link Lifecycle#abortInFlight}, over every
 * status × validated × settled × past the deadline. Plain code: no database.
 */
class LifecycleStepsTest {
    private static final long NOW = 1_000_000_000L;

    /**
     * One row: a status, then validated, settled and late as yes, no or * (either), then the step
     * and what becomes of the lines in flight (- for none). The first row that matches decides;
     * every combination matches one.
     */
    private static final List<String> TABLE = List.of(
            "validating   no  *   *    VALIDATE               -",
            "validating   yes *   *    -                      -", // a retry batch inside the transaction that starts it
            "cancelling   no  *   *    VALIDATE               -", // cancelled while validating: its lines first
            "cancelling   yes *   *    CANCEL                 cancelled",
            "in_progress  *   no  no   -                      -",
            "in_progress  *   no  yes  EXPIRE                 expired",
            "in_progress  *   yes no   FINALIZE               -",
            "in_progress  *   yes yes  SETTLED_PAST_DEADLINE  -",
            "finalizing   *   *   *    FINALIZE               -",
            "completed    *   *   *    -                      -",
            "failed       *   *   *    -                      -",
            "expired      *   *   *    -                      -",
            "cancelled    *   *   *    -                      -");

    private static Work work(BatchStatus status, boolean validated, boolean settled, Long expiresAt) {
        return new Work("batch_1", status, validated, "local", "p", 1, settled, expiresAt);
    }

    @Test
    void everyStatusValidatedSettledAndLateGetsTheStepAndAbortOfItsRow() {
        List<String> wrong = new ArrayList<>();
        for (BatchStatus status : BatchStatus.values()) {
            for (boolean validated : new boolean[] { false, true }) {
                for (boolean settled : new boolean[] { false, true }) {
                    for (boolean late : new boolean[] { false, true }) {
                        String[] row = row(status, validated, settled, late);
                        Step step = row[4].equals("-") ? null : Step.valueOf(row[4]);
                        LineState abort = row[5].equals("-") ? null : LineState.valueOf(row[5].toUpperCase());
                        Work w = work(status, validated, settled, late ? NOW / 1000 - 1 : NOW / 1000 + 1);
                        if (Lifecycle.next(w, NOW) != step || Lifecycle.abortInFlight(w, NOW) != abort) {
                            wrong.add(w + ": " + Lifecycle.next(w, NOW) + ", " + Lifecycle.abortInFlight(w, NOW) + "; expected " + step + ", " + abort);
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), wrong);
    }

    private static String[] row(BatchStatus status, boolean validated, boolean settled, boolean late) {
        for (String line : TABLE) {
            String[] r = line.trim().split("\\s+");
            if (r[0].equals(status.wire()) && matches(r[1], validated) && matches(r[2], settled) && matches(r[3], late)) {
                return r;
            }
        }
        throw new AssertionError("no row for " + status + " " + validated + " " + settled + " " + late);
    }

    private static boolean matches(String cell, boolean value) {
        return cell.equals("*") || cell.equals(value ? "yes" : "no");
    }

    @Test
    void theDeadlineIsPastFromItsVerySecond() {
        long deadline = NOW / 1000;
        assertEquals(Step.EXPIRE, Lifecycle.next(work(BatchStatus.IN_PROGRESS, true, false, deadline), deadline * 1000));
        assertNull(Lifecycle.next(work(BatchStatus.IN_PROGRESS, true, false, deadline), deadline * 1000 - 1));
        assertEquals(LineState.EXPIRED, Lifecycle.abortInFlight(work(BatchStatus.IN_PROGRESS, true, false, deadline), deadline * 1000));
        assertNull(Lifecycle.abortInFlight(work(BatchStatus.IN_PROGRESS, true, false, deadline), deadline * 1000 - 1));
    }

    @Test
    void aBatchWithoutADeadlineIsNeverLate() {
        assertNull(Lifecycle.next(work(BatchStatus.IN_PROGRESS, true, false, null), Long.MAX_VALUE));
        assertEquals(Step.FINALIZE, Lifecycle.next(work(BatchStatus.IN_PROGRESS, true, true, null), Long.MAX_VALUE));
        assertNull(Lifecycle.abortInFlight(work(BatchStatus.IN_PROGRESS, true, false, null), Long.MAX_VALUE));
    }
}
