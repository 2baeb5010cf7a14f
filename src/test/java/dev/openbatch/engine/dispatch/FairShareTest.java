package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.store.BatchStore.Eligible;

/** Who gets an upstream's slots. */
class FairShareTest {

    private static Eligible batch(String id, String project, String job, int priority, Long expiresAt, long created, Integer cap) {
        return new Eligible(id, project, job, "/v1/chat/completions", expiresAt, cap, priority, created);
    }

    private static int forProject(Map<String, Integer> plan, List<Eligible> batches, String project) {
        return batches.stream().filter(b -> b.project().equals(project)).mapToInt(b -> plan.getOrDefault(b.id(), 0)).sum();
    }

    @Test
    void projectsShareEquallyWhateverTheirPriorities() {
        List<Eligible> batches = List.of(
                batch("a1", "a", "ja", 1000, 100L, 1, null),
                batch("b1", "b", "jb", 0, 999L, 2, null));
        Map<String, Integer> plan = FairShare.plan(batches, 400, 400, Map.of(), Map.of());
        assertEquals(200, forProject(plan, batches, "a"), "a large priority buys no more than a fair share");
        assertEquals(200, forProject(plan, batches, "b"));
    }

    @Test
    void withinAProjectPriorityThenDeadlineThenAgeDecide() {
        List<Eligible> batches = List.of(
                batch("old-low", "a", "j1", 0, 100L, 1, null),
                batch("new-high", "a", "j2", 5, 900L, 3, null),
                batch("urgent-high", "a", "j2", 5, 200L, 4, null));
        Map<String, Integer> plan = FairShare.plan(batches, 100, 100, Map.of(), Map.of());
        assertEquals(List.of("urgent-high"), new ArrayList<>(plan.keySet()), "all of the project's share goes to its most urgent high-priority batch first");
    }

    @Test
    void priorityOrdersOverTheWholeIntRange() {
        // -Integer.MIN_VALUE is Integer.MIN_VALUE: negated, the lowest priority would sort first
        List<Eligible> batches = List.of(
                batch("lowest", "a", "j1", Integer.MIN_VALUE, null, 1, null),
                batch("low", "a", "j2", Integer.MIN_VALUE + 1, null, 2, null),
                batch("zero", "a", "j3", 0, null, 3, null),
                batch("highest", "a", "j4", Integer.MAX_VALUE, null, 4, null));
        List<Eligible> sorted = new ArrayList<>(batches);
        sorted.sort(FairShare.WITHIN_PROJECT);
        assertEquals(List.of("highest", "zero", "low", "lowest"), sorted.stream().map(Eligible::id).toList());
        Map<String, Integer> plan = FairShare.plan(List.of(batches.get(0), batches.get(2)), 100, 100, Map.of(), Map.of());
        assertEquals(List.of("zero"), new ArrayList<>(plan.keySet()), "the share goes to priority 0 before Integer.MIN_VALUE");
    }

    @Test
    void whatAProjectAlreadyHoldsCountsAgainstItsShare() {
        List<Eligible> batches = List.of(batch("a1", "a", "ja", 0, null, 1, null), batch("b1", "b", "jb", 0, null, 2, null));
        Map<String, Integer> plan = FairShare.plan(batches, 400, 150, Map.of("a", 200, "b", 50), Map.of());
        assertEquals(0, forProject(plan, batches, "a"));
        assertEquals(150, forProject(plan, batches, "b"));
    }

    @Test
    void whatOneProjectCannotUseGoesToTheOthers() {
        List<Eligible> batches = List.of(batch("a1", "a", "ja", 0, null, 1, 10), batch("b1", "b", "jb", 0, null, 2, null));
        Map<String, Integer> plan = FairShare.plan(batches, 400, 400, Map.of(), Map.of("ja", 10));
        assertEquals(10, forProject(plan, batches, "a"), "the job's cap holds");
        assertEquals(390, forProject(plan, batches, "b"), "the rest of the upstream is not left idle");
    }

    @Test
    void aJobWithNoRoomGetsNothingAndItsProjectsOtherJobsStillRun() {
        List<Eligible> batches = List.of(batch("capped", "a", "full", 9, null, 1, 4), batch("free", "a", "other", 0, null, 2, null));
        Map<String, Integer> plan = FairShare.plan(batches, 100, 100, Map.of(), Map.of("full", 0));
        assertEquals(Map.of("free", 100), plan);
    }

    @Test
    void manyProjectsEachGetAShareAndNothingMoreThanWanted() {
        List<Eligible> batches = new ArrayList<>();
        for (int p = 0; p < 20; p++) {
            for (int b = 0; b < 50; b++) {
                batches.add(batch("p" + p + "-b" + b, "p" + p, "j" + p, 0, null, p * 100L + b, null));
            }
        }
        Map<String, Integer> plan = FairShare.plan(batches, 400, 400, Map.of(), Map.of());
        assertEquals(400, plan.values().stream().mapToInt(Integer::intValue).sum());
        for (int p = 0; p < 20; p++) {
            assertEquals(20, forProject(plan, batches, "p" + p));
        }
        assertTrue(plan.size() <= 20, "a project's share goes to one batch at a time, so a claim touches few batches: " + plan.size());
        assertEquals(Map.of(), FairShare.plan(batches, 400, 0, Map.of(), Map.of()));
    }
}
