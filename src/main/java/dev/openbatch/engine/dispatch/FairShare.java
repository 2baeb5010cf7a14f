package dev.openbatch.engine.dispatch;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import dev.openbatch.store.BatchStore.Eligible;

/**
 * Who gets an upstream's next slots. Between projects the slots are shared equally: each
 * project with ready work may hold {@code slots / projects} lines, whatever its jobs' priorities,
 * and what one cannot use goes to the others (least served first). Within a project, work goes
 * to the batch of the highest job priority, then the earliest deadline, then the oldest. A job
 * with a {@code max_concurrency} gets no more than its room. Plain code: no I/O, no state.
 */
final class FairShare {
    private FairShare() {
    }

    /** Within a project: job priority (highest first, over the whole int range: reversed, not negated), then deadline, then age. */
    static final Comparator<Eligible> WITHIN_PROJECT = Comparator.comparingInt(Eligible::priority).reversed()
            .thenComparing(Eligible::expiresAt, Comparator.nullsLast(Comparator.naturalOrder()))
            .thenComparingLong(Eligible::createdUs)
            .thenComparing(Eligible::id);

    /**
     * How many lines to ask of each batch.
     *
     * @param eligible       batches with lines ready
     * @param slots          the lines this dispatcher may hold in all (in flight, stock, unwritten)
     * @param want           how many more it wants now
     * @param heldByProject  what each project holds now
     * @param jobRoom        for jobs with a cap: how many more lines they may have running
     * @return batch id → lines to ask for, in the order to claim them
     */
    static Map<String, Integer> plan(List<Eligible> eligible, int slots, int want, Map<String, Integer> heldByProject,
            Map<String, Integer> jobRoom) {
        Map<String, List<Eligible>> byProject = new TreeMap<>();
        for (Eligible e : eligible) {
            byProject.computeIfAbsent(e.project(), p -> new ArrayList<>()).add(e);
        }
        if (byProject.isEmpty() || want <= 0) {
            return Map.of();
        }
        List<String> projects = new ArrayList<>(byProject.keySet());
        projects.sort(Comparator.comparingInt(p -> heldByProject.getOrDefault(p, 0))); // stable: least served first
        byProject.values().forEach(l -> l.sort(WITHIN_PROJECT));
        Map<String, Integer> room = new HashMap<>(jobRoom);
        Map<String, Integer> plan = new LinkedHashMap<>();
        int share = (slots + projects.size() - 1) / projects.size();
        int left = want;
        for (String p : projects) {
            int budget = Math.min(left, Math.max(0, share - heldByProject.getOrDefault(p, 0)));
            left -= budget - give(byProject.get(p), budget, room, plan);
        }
        for (String p : projects) { // what the others could not use
            if (left <= 0) {
                break;
            }
            left = give(byProject.get(p), left, room, plan);
        }
        return plan;
    }

    /** Gives up to {@code n} lines to the first batch of the list whose job has room; returns what was left ungiven. */
    private static int give(List<Eligible> batches, int n, Map<String, Integer> room, Map<String, Integer> plan) {
        for (Eligible e : batches) {
            if (n <= 0) {
                return 0;
            }
            Integer r = room.get(e.jobId());
            int k = r == null ? n : Math.min(n, r);
            if (k <= 0) {
                continue;
            }
            if (r != null) {
                room.put(e.jobId(), r - k);
            }
            plan.merge(e.id(), k, Integer::sum);
            n -= k;
        }
        return n;
    }
}
