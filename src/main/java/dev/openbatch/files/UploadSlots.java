package dev.openbatch.files;

import java.util.ArrayDeque;
import java.util.Queue;

import dev.openbatch.api.LimitsConfig;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * How many uploads this process stores at once ({@code openbatch.limits.concurrent-uploads}):
 * each holds a database connection for as long as its body takes to arrive, so they are counted,
 * and the next waits its turn (first come, first served) instead of taking the engine's.
 */
@ApplicationScoped
public class UploadSlots {
    private final int slots;
    private int taken;
    private final Queue<Runnable> waiting = new ArrayDeque<>();

    public UploadSlots(LimitsConfig limits) {
        this.slots = limits.concurrentUploads();
    }

    /** Runs {@code granted} once a slot is ours (now, or when one is given back); every grant is given back with {@link #release}. */
    void acquire(Runnable granted) {
        synchronized (this) {
            if (taken >= slots) {
                waiting.add(granted);
                return;
            }
            taken++;
        }
        granted.run();
    }

    /** Gives a slot back: to the first upload waiting, if any. */
    void release() {
        Runnable next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                taken--;
            }
        }
        if (next != null) {
            next.run();
        }
    }

    /** Uploads holding a slot now. */
    synchronized int taken() {
        return taken;
    }
}
