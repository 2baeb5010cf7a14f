package dev.openbatch.files;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Queue;

import dev.openbatch.api.LimitsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * How many uploads this process stores at once ({@code openbatch.limits.concurrent-uploads}):
 * each holds memory and a worker's time for as long as its body takes to arrive, so they are
 * counted, and the next waits its turn (at most {@code openbatch.limits.upload-slot-wait}, then it
 * {@link #withdraw}s). No project holds more than half of
 * them (at least one) while another project's upload waits: the first waiting upload whose
 * project is under that share goes next, so one tenant's slow uploads cannot take every slot.
 * A project alone may use them all, and no slot idles while an upload waits.
 */
@ApplicationScoped
public class UploadSlots {
    private final int slots;
    private final int share;
    private int taken;
    private final Map<String, Integer> byProject = new HashMap<>();
    private final Queue<Waiting> waiting = new ArrayDeque<>();

    private record Waiting(String project, Runnable granted) {
    }

    @Inject
    public UploadSlots(LimitsConfig limits) {
        this(limits.concurrentUploads());
    }

    UploadSlots(int slots) {
        this.slots = Math.max(1, slots);
        this.share = Math.max(1, this.slots / 2);
    }

    /**
     * Runs {@code granted} once a slot is {@code project}'s (now, or when one is given back); every
     * grant is given back with {@link #release(String)}.
     */
    void acquire(String project, Runnable granted) {
        List<Runnable> go;
        synchronized (this) {
            waiting.add(new Waiting(project, granted));
            go = grant();
        }
        go.forEach(Runnable::run);
    }

    /**
     * Takes {@code granted} out of the queue, if it still waits there (true); false when it has its
     * slot already (or is about to run): then it must be given back with {@link #release(String)}.
     * No slot is free while an upload waits, so none is granted by this.
     */
    synchronized boolean withdraw(String project, Runnable granted) {
        return waiting.removeIf(w -> w.granted() == granted && w.project().equals(project));
    }

    /** Gives {@code project}'s slot back: to the first uploads waiting that may take one. */
    void release(String project) {
        List<Runnable> go;
        synchronized (this) {
            taken--;
            byProject.merge(project, -1, Integer::sum);
            byProject.remove(project, 0);
            go = grant();
        }
        go.forEach(Runnable::run);
    }

    /** Takes slots for the waiting uploads that may have one, in the order they came; what to run (outside the lock). */
    private List<Runnable> grant() {
        List<Runnable> go = new ArrayList<>(1);
        for (Iterator<Waiting> it = waiting.iterator(); it.hasNext() && taken < slots;) {
            Waiting w = it.next();
            if (mayTake(w.project())) {
                it.remove();
                take(w.project());
                go.add(w.granted());
            }
        }
        // every project waiting is at its share (an odd number of slots): a slot never idles while an upload waits
        while (taken < slots && !waiting.isEmpty()) {
            Waiting w = waiting.poll();
            take(w.project());
            go.add(w.granted());
        }
        return go;
    }

    /** Whether {@code project} may take a free slot: it is under its share, or no other project's upload waits. */
    private boolean mayTake(String project) {
        if (byProject.getOrDefault(project, 0) < share) {
            return true;
        }
        for (Waiting w : waiting) {
            if (!w.project().equals(project)) {
                return false;
            }
        }
        return true;
    }

    private void take(String project) {
        taken++;
        byProject.merge(project, 1, Integer::sum);
    }

    /** Uploads holding a slot now. */
    synchronized int taken() {
        return taken;
    }

    /** Uploads of {@code project} holding a slot now. */
    synchronized int taken(String project) {
        return byProject.getOrDefault(project, 0);
    }

    /** Uploads waiting for a slot. */
    synchronized int waiting() {
        return waiting.size();
    }
}
