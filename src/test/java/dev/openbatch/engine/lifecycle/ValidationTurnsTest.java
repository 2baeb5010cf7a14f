package dev.openbatch.engine.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.BatchStore.Work;

/** Which waiting validations start when a slot frees. */
class ValidationTurnsTest {
    private static Work w(String id, String project, long created) {
        return new Work(id, BatchStatus.VALIDATING, false, null, project, created, false, null);
    }

    @Test
    void anotherProjectsFileGoesBeforeTheNextOfABusyOne() {
        List<Work> waiting = List.of(w("a2", "a", 2), w("a3", "a", 3), w("b1", "b", 4));
        // a1 is being validated: the free slot goes to b, although a's files came first
        assertEquals(List.of(w("b1", "b", 4)), ValidationTurns.pick(waiting, 1, Map.of("a", 1), Map.of("a", 10L)));
    }

    @Test
    void projectsTakeTurnsAndEachTakesItsOldestFirst() {
        List<Work> waiting = List.of(w("a1", "a", 1), w("a2", "a", 2), w("a3", "a", 3), w("b1", "b", 5), w("b2", "b", 6));
        List<Work> picked = ValidationTurns.pick(waiting, 4, Map.of(), Map.of());
        assertEquals(List.of("a1", "b1", "a2", "b2"), picked.stream().map(Work::id).toList());
    }

    @Test
    void theProjectServedLongestAgoGoesFirst() {
        List<Work> waiting = List.of(w("a1", "a", 1), w("b1", "b", 2));
        assertEquals("b1", ValidationTurns.pick(waiting, 1, Map.of(), Map.of("a", 50L, "b", 10L)).get(0).id());
        assertEquals(List.of(), ValidationTurns.pick(waiting, 0, Map.of(), Map.of()));
    }
}
