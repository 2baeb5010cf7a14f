package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.store.LineStore;

/** A batch's claims read past the lines claimed before, and from its first line again at least every RESCAN_MILLIS. */
class QueueFloorsTest {

    private static List<LineStore.Taken> lines(String batch, int from, int to) {
        List<LineStore.Taken> out = new ArrayList<>();
        for (int l = from; l <= to; l++) {
            out.add(new LineStore.Taken(batch, l, 1, 1, "{}"));
        }
        return out;
    }

    @Test
    void aFullClaimMovesTheFloorPastItsLastLine() {
        QueueFloors f = new QueueFloors();
        assertArrayEquals(new Integer[] { 0, 0 }, f.after(new String[] { "a", "b" }, 0));
        List<LineStore.Taken> taken = lines("a", 1, 100);
        taken.addAll(lines("b", 5, 54));
        f.claimed(Map.of("a", 100, "b", 50), QueueFloors.Got.of(taken), 0);
        assertArrayEquals(new Integer[] { 100, 54 }, f.after(new String[] { "a", "b" }, 10));

        f.claimed(Map.of("a", 100), QueueFloors.Got.of(lines("a", 101, 200)), 20);
        assertArrayEquals(new Integer[] { 200 }, f.after(new String[] { "a" }, 30));
    }

    @Test
    void aClaimThatGotLessThanItAskedForReadsFromTheFirstLineNext() {
        QueueFloors f = new QueueFloors();
        f.claimed(Map.of("a", 100), QueueFloors.Got.of(lines("a", 1, 100)), 0);
        f.claimed(Map.of("a", 100), QueueFloors.Got.of(lines("a", 101, 130)), 10); // the batch's end, or lines another claim holds
        assertArrayEquals(new Integer[] { 0 }, f.after(new String[] { "a" }, 20));
        f.claimed(Map.of("a", 100), QueueFloors.Got.of(List.of()), 30);
        assertArrayEquals(new Integer[] { 0 }, f.after(new String[] { "a" }, 40));
        assertEquals(0, f.size());
    }

    @Test
    void theFloorIsForgottenRescanMillisAfterItWasSetFromAFullRead() {
        QueueFloors f = new QueueFloors();
        f.claimed(Map.of("a", 10), QueueFloors.Got.of(lines("a", 1, 10)), 1000);
        f.claimed(Map.of("a", 10), QueueFloors.Got.of(lines("a", 11, 20)), 1000 + QueueFloors.RESCAN_MILLIS - 1); // moves it, keeps its age
        assertArrayEquals(new Integer[] { 20 }, f.after(new String[] { "a" }, 1000 + QueueFloors.RESCAN_MILLIS - 1));
        assertArrayEquals(new Integer[] { 0 }, f.after(new String[] { "a" }, 1000 + QueueFloors.RESCAN_MILLIS));
        assertEquals(0, f.size());
    }

    @Test
    void batchesNoLongerClaimedLeaveNoFloorBehind() {
        QueueFloors f = new QueueFloors();
        f.claimed(Map.of("gone", 10), QueueFloors.Got.of(lines("gone", 1, 10)), 0);
        f.claimed(Map.of("b", 10), QueueFloors.Got.of(lines("b", 1, 10)), QueueFloors.RESCAN_MILLIS);
        assertEquals(1, f.size(), "only b's");
    }
}
