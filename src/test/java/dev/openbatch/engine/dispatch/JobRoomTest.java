package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.store.BatchStore.Eligible;

/** The room of capped jobs: which jobs are locked, and how many more lines each may take. */
class JobRoomTest {

    private static Eligible batch(String id, String job, Integer cap) {
        return new Eligible(id, "p", job, "/v1/chat/completions", null, cap, 0, 1);
    }

    @Test
    void onlyAClaimWithACappedJobLocks() {
        assertFalse(JobRoom.anyCapped(List.of()));
        assertFalse(JobRoom.anyCapped(List.of(batch("b1", "j1", null), batch("b2", "j2", null))));
        assertTrue(JobRoom.anyCapped(List.of(batch("b1", "j1", null), batch("b2", "j2", 3))));
    }

    @Test
    void cappedJobsAreLockedOnceEachInIdOrder() {
        List<Eligible> open = List.of(batch("b1", "j-c", 2), batch("b2", "j-a", 5), batch("b3", "j-b", null), batch("b4", "j-c", 2));
        assertArrayEquals(new String[] { "j-a", "j-c" }, JobRoom.cappedJobs(open), "sorted, so two processes lock in the same order");
        assertArrayEquals(new String[0], JobRoom.cappedJobs(List.of(batch("b1", "j1", null))));
    }

    @Test
    void roomIsTheCapLessTheRunningLinesNeverBelowZero() {
        List<Eligible> open = List.of(
                batch("b1", "half", 4),
                batch("b2", "full", 2),
                batch("b3", "over", 1), // the cap was lowered while lines ran
                batch("b4", "idle", 3),
                batch("b5", "free", null),
                batch("b6", "half", 4)); // two batches of one job share its room
        Map<String, Integer> running = Map.of("half", 2, "full", 2, "over", 5, "free", 40);
        assertEquals(Map.of("half", 2, "full", 0, "over", 0, "idle", 3), JobRoom.room(open, running),
                "a job with no running lines has its whole cap; an uncapped job has no room entry at all");
    }

    @Test
    void aCapOfZeroGivesNoRoom() {
        assertEquals(Map.of("j", 0), JobRoom.room(List.of(batch("b", "j", 0)), Map.of()));
    }

    @Test
    void fairShareGivesACappedJobNoMoreThanItsRoom() {
        List<Eligible> open = List.of(batch("b1", "capped", 3), batch("b2", "free", null));
        Map<String, Integer> room = JobRoom.room(open, Map.of("capped", 1));
        Map<String, Integer> plan = FairShare.plan(open, 100, 50, Map.of(), room);
        assertEquals(2, plan.get("b1"));
        assertEquals(48, plan.get("b2"), "what the capped job cannot take goes to the other");
    }
}
