package dev.openbatch.engine.dispatch;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.store.LineStore;

/**
 * Where a dispatcher's next claim of each batch starts reading the batch's never-tried lines
 * ({@link LineStore#CLAIM}'s {@code after}): past the last line it claimed.
 * <p>
 * The queue's index ({@code requests_queue}) keeps an entry for every line that was queued until
 * a vacuum removes it, and a btree drops the entries of rows that left the queue only then (or
 * when a page it inserts into is full, which a batch's range, filled once at validation, never
 * is). Read from the batch's first line, a claim steps over every line claimed before it: at a
 * million-line batch's end, 8,000 index pages a claim. Measured in a 1,000,000-line run
 * ({@code bench/million.sh}): 192 million index entries read by 20,160 claims, and PostgreSQL's CPU
 * per line twice the 40,000-line batch's.
 * <p>
 * A line can come back to the queue behind the floor, due at once: a process's lines recovered
 * after it died, a line given back when its upstream is drained. Such a line is claimed no later
 * than the next full read, and there is one at least every {@link #RESCAN_MILLIS}: the floor is
 * forgotten that long after it was set, and at once when a claim got fewer lines than it asked for
 * (the end of the batch, or lines held by another claim). Lines retried later are due after 0 and
 * come after every never-tried line in the index, so the floor never hides them. Not thread-safe:
 * its dispatcher's event loop owns it.
 */
final class QueueFloors {
    /** At least this often a batch's claim reads its queue from the first line (a line put back behind the floor waits no longer). */
    static final long RESCAN_MILLIS = 2000;

    /** What one claim got of each batch: how many lines, and the last of them. */
    record Got(Map<String, Integer> count, Map<String, Integer> last) {
        static Got of(List<LineStore.Taken> taken) {
            Map<String, Integer> count = new HashMap<>();
            Map<String, Integer> last = new HashMap<>();
            for (LineStore.Taken t : taken) {
                count.merge(t.batchId(), 1, Integer::sum);
                last.merge(t.batchId(), t.line(), Math::max);
            }
            return new Got(count, last);
        }
    }

    /** A batch's floor: the last line claimed, and when the batch's queue was last read from its first line. */
    private static final class Floor {
        int line;
        final long since;

        Floor(long since) {
            this.since = since;
        }

        boolean old(long nowMillis) {
            return nowMillis - since >= RESCAN_MILLIS;
        }
    }

    private final Map<String, Floor> floors = new HashMap<>();

    /** For each batch, in order, the line after which its claim reads (0: from the first). */
    Integer[] after(String[] batchIds, long nowMillis) {
        Integer[] out = new Integer[batchIds.length];
        for (int i = 0; i < batchIds.length; i++) {
            Floor f = floors.get(batchIds[i]);
            if (f != null && f.old(nowMillis)) {
                floors.remove(batchIds[i]);
                f = null;
            }
            out[i] = f == null ? 0 : f.line;
        }
        return out;
    }

    /** A claim asked for {@code plan} and {@code got} that: each batch's floor moves past its lines, or is forgotten. */
    void claimed(Map<String, Integer> plan, Got got, long nowMillis) {
        plan.forEach((id, asked) -> {
            if (got.count().getOrDefault(id, 0) < asked) {
                floors.remove(id);
            } else {
                Floor f = floors.computeIfAbsent(id, k -> new Floor(nowMillis));
                f.line = Math.max(f.line, got.last().get(id));
            }
        });
        // batches no longer claimed (ended, paused) leave no entry behind for long
        floors.values().removeIf(f -> f.old(nowMillis));
    }

    /** Batches with a floor (for tests). */
    int size() {
        return floors.size();
    }
}
