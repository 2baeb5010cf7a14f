package dev.openbatch.engine;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.engine.lifecycle.ValidationTurns;
import dev.openbatch.store.BatchStore.Work;

/**
 * This process's validation slots ({@code openbatch.engine.validations}): which batches are being
 * validated here and for which project, and when each project last got a slot, so that
 * {@link ValidationTurns} hands the free slots to the projects in turn. Used on the engine's
 * context only.
 */
final class ValidationSlots {
    private final int slots;
    /** Validations running here, by batch, with their project. */
    private final Map<String, String> validating = new HashMap<>();
    /** When each project last got a validation slot here. */
    private final Map<String, Long> lastServed = new HashMap<>();

    ValidationSlots(int slots) {
        this.slots = slots;
    }

    /** Of the batches waiting for a validation, those that start now; each holds its slot until {@link #free}. */
    List<Work> take(List<Work> waiting, long now) {
        Map<String, Integer> running = new HashMap<>();
        validating.values().forEach(p -> running.merge(p, 1, Integer::sum));
        List<Work> chosen = ValidationTurns.pick(waiting, slots - validating.size(), running, lastServed);
        for (Work w : chosen) {
            validating.put(w.id(), w.project());
            lastServed.put(w.project(), now);
        }
        return chosen;
    }

    /** The batch's validation ended, however it ended. */
    void free(String batchId) {
        validating.remove(batchId);
    }
}
