package dev.openbatch.webhooks;

import java.util.concurrent.ConcurrentHashMap;

/**
 * At most {@code perMinute} takes per key in any minute, in this process: a sliding window of the
 * last 60 s, kept as the times of the takes (a key has at most {@code perMinute} of them). Keys
 * with no take in the last minute are dropped as they are next touched, and all at once when the
 * map grows past {@link #SWEEP_AT} keys.
 */
final class PerMinute {
    static final long WINDOW_MILLIS = 60_000;
    static final int SWEEP_AT = 10_000;

    private final int perMinute;
    private final ConcurrentHashMap<String, long[]> takes = new ConcurrentHashMap<>();

    PerMinute(int perMinute) {
        this.perMinute = Math.max(1, perMinute);
    }

    int perMinute() {
        return perMinute;
    }

    /**
     * One take for {@code key} at {@code nowMillis}: 0 when allowed (and counted), else how many
     * milliseconds until the oldest take in the window leaves it.
     */
    long take(String key, long nowMillis) {
        if (takes.size() > SWEEP_AT) {
            takes.values().removeIf(ring -> ring[ring.length - 1] <= nowMillis - WINDOW_MILLIS);
        }
        long[] wait = new long[1];
        takes.compute(key, (k, ring) -> {
            // ring: the last perMinute take times, oldest first; 0 where none was made
            long[] r = ring == null ? new long[perMinute] : ring;
            long oldest = r[0];
            if (oldest != 0 && oldest > nowMillis - WINDOW_MILLIS) {
                wait[0] = oldest + WINDOW_MILLIS - nowMillis;
                return r;
            }
            System.arraycopy(r, 1, r, 0, r.length - 1);
            r[r.length - 1] = Math.max(1, nowMillis);
            return r;
        });
        return wait[0];
    }
}
