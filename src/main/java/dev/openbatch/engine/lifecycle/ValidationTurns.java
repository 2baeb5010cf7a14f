package dev.openbatch.engine.lifecycle;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.store.BatchStore.Work;

/**
 * Which waiting validations to start when slots free up. Projects take turns: the next slot goes
 * to the project with the fewest validations running here, then to the one served longest ago,
 * and within a project to its oldest batch. One tenant's many large files do not delay another's.
 * Plain code: no I/O.
 */
public final class ValidationTurns {
    private ValidationTurns() {
    }

    public static List<Work> pick(List<Work> waiting, int free, Map<String, Integer> runningByProject, Map<String, Long> lastServed) {
        List<Work> left = new ArrayList<>(waiting);
        left.sort(Comparator.comparingLong(Work::createdUs).thenComparing(Work::id));
        Map<String, Integer> running = new HashMap<>(runningByProject);
        List<Work> out = new ArrayList<>();
        while (out.size() < free && !left.isEmpty()) {
            Work next = left.get(0);
            for (Work w : left) {
                int c = Integer.compare(running.getOrDefault(w.project(), 0), running.getOrDefault(next.project(), 0));
                if (c == 0) {
                    c = Long.compare(lastServed.getOrDefault(w.project(), Long.MIN_VALUE), lastServed.getOrDefault(next.project(), Long.MIN_VALUE));
                }
                if (c < 0) {
                    next = w; // the list is oldest first, so ties keep the oldest batch
                }
            }
            left.remove(next);
            out.add(next);
            running.merge(next.project(), 1, Integer::sum);
        }
        return out;
    }
}
