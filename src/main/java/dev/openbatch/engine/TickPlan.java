package dev.openbatch.engine;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

import dev.openbatch.engine.lifecycle.Lifecycle;
import dev.openbatch.status.LineState;
import dev.openbatch.store.BatchStore.Work;

/**
 * What one tick does with the batches that need work, as {@link Lifecycle} decides it batch by
 * batch: the step each batch not already busy here takes next (validations apart: they wait for
 * a slot), and which batches' lines in flight to abort, and how. Plain code: no I/O.
 *
 * @param steps the steps to run now, by batch, in the order the batches came
 * @param toValidate the batches waiting for a validation slot
 * @param aborts the batches whose lines in flight settle now, by the state they settle as
 */
record TickPlan(Map<Work, Lifecycle.Step> steps, List<Work> toValidate, Map<LineState, Set<String>> aborts) {

    /**
     * @param rows the batches that need work; a batch may come twice (settled, and past its
     *     deadline): settled wins, so that a batch that settled before its deadline completes
     * @param busy whether a batch already has a step running here
     */
    static TickPlan of(List<Work> rows, long nowMillis, Predicate<String> busy) {
        Map<String, Work> work = new LinkedHashMap<>();
        for (Work w : rows) {
            work.merge(w.id(), w, (a, b) -> a.settled() ? a : b);
        }
        Map<Work, Lifecycle.Step> steps = new LinkedHashMap<>();
        List<Work> toValidate = new ArrayList<>();
        Map<LineState, Set<String>> aborts = new EnumMap<>(LineState.class);
        for (Work w : work.values()) {
            LineState abort = Lifecycle.abortInFlight(w, nowMillis);
            if (abort != null) {
                aborts.computeIfAbsent(abort, k -> new HashSet<>()).add(w.id());
            }
            Lifecycle.Step next = busy.test(w.id()) ? null : Lifecycle.next(w, nowMillis);
            if (next == Lifecycle.Step.VALIDATE) {
                toValidate.add(w);
            } else if (next != null) {
                steps.put(w, next);
            }
        }
        return new TickPlan(steps, toValidate, aborts);
    }
}
