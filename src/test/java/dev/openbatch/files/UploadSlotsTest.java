package dev.openbatch.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** Upload slots: no project above half of them while another project waits, and every slot given back is used. */
class UploadSlotsTest {
    @Test
    void oneProjectsSlowUploadsLeaveHalfTheSlotsToOthers() {
        UploadSlots slots = new UploadSlots(8);
        List<String> granted = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            slots.acquire("a", () -> granted.add("a"));
        }
        assertEquals(8, slots.taken("a"), "alone, a project may use every slot");
        slots.acquire("a", () -> granted.add("a"));
        slots.acquire("b", () -> granted.add("b"));
        slots.acquire("b", () -> granted.add("b"));
        assertEquals(8, granted.size());
        slots.release("a");
        assertEquals("b", granted.get(8), "b waits, so a slot a gives back goes to b, though a asked first");
        slots.release("a");
        slots.release("a");
        slots.release("a");
        assertEquals(2, slots.taken("b"));
        assertEquals(5, slots.taken("a"), "a got one back once b waited no more");
        assertEquals(0, slots.waiting());
    }

    @Test
    void aProjectAtItsShareWaitsBehindOthersButNeverBlocksThem() {
        UploadSlots slots = new UploadSlots(4);
        List<String> granted = new ArrayList<>();
        slots.acquire("a", () -> granted.add("a"));
        slots.acquire("a", () -> granted.add("a"));
        slots.acquire("b", () -> granted.add("b"));
        slots.acquire("a", () -> granted.add("a")); // a is at its share (2) and b has not waited: a takes the 4th
        slots.acquire("c", () -> granted.add("c")); // full: c waits
        slots.acquire("a", () -> granted.add("a")); // a waits behind c
        assertEquals(List.of("a", "a", "b", "a"), granted);
        slots.release("b");
        assertEquals("c", granted.get(4), "c is under its share: the freed slot is its");
        slots.release("a");
        assertEquals(6, granted.size(), "a holds 2 of 4 with no other project waiting: it may take one more");
    }

    @Test
    void anUploadThatGaveUpWaitingLeavesTheQueueAndOneThatHasItsSlotCannot() {
        UploadSlots slots = new UploadSlots(1);
        List<String> granted = new ArrayList<>();
        Runnable first = () -> granted.add("first");
        Runnable second = () -> granted.add("second");
        Runnable third = () -> granted.add("third");
        slots.acquire("a", first);
        slots.acquire("b", second);
        slots.acquire("c", third);
        assertFalse(slots.withdraw("a", first), "it has its slot: it gives it back with release");
        assertTrue(slots.withdraw("b", second));
        assertFalse(slots.withdraw("b", second), "once");
        assertEquals(1, slots.waiting());
        slots.release("a");
        assertEquals(List.of("first", "third"), granted, "the slot goes to the one still waiting");
        assertEquals(0, slots.waiting());
    }

    @Test
    void randomArrivalsAndReleasesNeverExceedTheSlotsAndLeaveNoSlotIdleWhileSomeoneMayUseIt() {
        Random random = new Random(11);
        for (int round = 0; round < 200; round++) {
            int n = 1 + random.nextInt(8);
            UploadSlots slots = new UploadSlots(n);
            Map<String, Integer> holding = new HashMap<>();
            List<String> held = new ArrayList<>();
            for (int step = 0; step < 200; step++) {
                if (held.isEmpty() || random.nextInt(3) > 0) {
                    String p = "p" + random.nextInt(3);
                    slots.acquire(p, () -> {
                        held.add(p);
                        holding.merge(p, 1, Integer::sum);
                    });
                } else {
                    String p = held.remove(random.nextInt(held.size()));
                    holding.merge(p, -1, Integer::sum);
                    slots.release(p);
                }
                assertTrue(held.size() <= n, "never more than " + n + " held");
                assertEquals(held.size(), slots.taken());
                assertTrue(slots.waiting() == 0 || held.size() == n, "a slot is idle while an upload waits");
                for (Map.Entry<String, Integer> e : holding.entrySet()) {
                    assertEquals((int) e.getValue(), slots.taken(e.getKey()));
                }
            }
        }
    }
}
