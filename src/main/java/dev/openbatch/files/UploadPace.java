package dev.openbatch.files;

import java.util.ArrayDeque;

/**
 * Whether an upload's body arrives at least at {@code openbatch.limits.upload-min-bytes-per-second}:
 * a client that sends a few bytes and then a trickle (slowloris) would otherwise keep its slot for
 * as long as the deadline allows. Only the time the server wants bytes counts: while it holds the
 * body back itself (its writes are behind, see {@code Upload}), the client cannot send, and that
 * is not the client's slowness. The first check comes one window after the body starts to flow (a
 * slow start is forgiven), then each check judges the bytes of the last window.
 * <p>
 * Plain code, fed the times of a monotonic clock; not thread-safe (the upload's event loop owns it).
 * Holds one sample per check within a window.
 */
final class UploadPace {
    private final long minBytesPerSecond;
    private final long windowMillis;
    /** Time counted before the current stretch of wanting bytes. */
    private long counted;
    /** Start of the current stretch of wanting bytes, or -1 while the server holds the body back. */
    private long wantingSince = -1;
    private long bytes;
    /** (time counted, bytes) at earlier checks, oldest first; the first is the start. */
    private final ArrayDeque<long[]> samples = new ArrayDeque<>();

    /** A pace for a body that starts to flow now (held back until {@link #wanting}). */
    UploadPace(long minBytesPerSecond, long windowMillis) {
        this.minBytesPerSecond = minBytesPerSecond;
        this.windowMillis = Math.max(1, windowMillis);
        samples.add(new long[] { 0, 0 });
    }

    /** From {@code now} the server reads the body: the time counts. */
    void wanting(long now) {
        if (wantingSince < 0) {
            wantingSince = now;
        }
    }

    /** From {@code now} the server holds the body back: the time does not count. */
    void holding(long now) {
        if (wantingSince >= 0) {
            counted += Math.max(0, now - wantingSince);
            wantingSince = -1;
        }
    }

    /** {@code n} more bytes of the body arrived. */
    void received(long n) {
        bytes += n;
    }

    /** The time counted up to {@code now}. */
    private long counted(long now) {
        return counted + (wantingSince >= 0 ? Math.max(0, now - wantingSince) : 0);
    }

    /**
     * A check at {@code now}: the bytes that arrived over the last window when they are fewer than
     * the minimum asks for, else -1 (fast enough, or not a whole window counted yet).
     */
    long tooSlow(long now) {
        long t = counted(now);
        // the latest sample a whole window back is where the last window starts
        long[] from = null;
        while (!samples.isEmpty() && samples.peekFirst()[0] <= t - windowMillis) {
            from = samples.pollFirst();
        }
        if (from != null) {
            samples.addFirst(from); // it starts the next window, or one after it
        }
        if (samples.isEmpty() || samples.peekLast()[0] < t) {
            samples.addLast(new long[] { t, bytes });
        }
        if (from == null || minBytesPerSecond <= 0) {
            return -1;
        }
        long got = bytes - from[1];
        return got * 1000 < minBytesPerSecond * (t - from[0]) ? got : -1;
    }
}
