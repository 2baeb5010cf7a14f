package dev.openbatch.engine.dispatch;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.LongFunction;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.store.BatchStore.Eligible;
import io.smallrye.mutiny.Uni;

/**
 * One dispatcher's list of the batches it may claim from: its upstream's {@code in_progress}
 * batches with ready lines, as last read, less those set aside. Reading the list costs one index
 * probe per live batch, so a busy dispatcher trusts it for {@link #TTL_MS} and then reads it
 * again in the background while its claims go on from the list it has. A batch that gave a claim
 * fewer lines than it asked for is set aside until the next read (nothing more is ready there for
 * now, or another process holds the rest); once every batch is set aside, the next claim waits
 * for a new read. A batch that starts joins the list at once, and anything else that may have made
 * lines ready (a retry due, lines given back) makes the list stale. The batches of a paused project
 * (at its spend cap) are passed over as long as it is paused, whatever the list says. The decisions are plain
 * methods; the one piece of I/O, the read, is given to it. Confined to the engine's event-loop
 * context: no locks.
 */
final class EligibleBatches {
    /**
     * How long a busy dispatcher trusts its list before it reads it again. Batches that start,
     * retries that fall due and lines given back wake it sooner; an idle one looks every tick.
     */
    static final long TTL_MS = 5000;
    private static final long NEVER = Long.MIN_VALUE / 2;
    /** Its warnings keep the category they had inside the dispatcher. */
    private static final Logger LOG = Logger.getLogger(Dispatcher.class);

    /** What a claim takes lines from. */
    record Choice(boolean fresh, Uni<List<Eligible>> open) {
    }

    private final String upstream;
    private final LongFunction<Uni<List<Eligible>>> reader;
    private final Executor context;
    private List<Eligible> list = List.of();
    private final Set<String> setAside = new HashSet<>();
    /** The projects paused at their spend cap: none of their batches is taken from. */
    private Set<String> paused = Set.of();
    private long readAt = NEVER;
    private boolean reading;

    /**
     * @param upstream  the upstream's name, for the log
     * @param reader    reads the list at a time (epoch ms)
     * @param context   where a background read's end is handled: the engine's event loop
     */
    EligibleBatches(String upstream, LongFunction<Uni<List<Eligible>>> reader, Executor context) {
        this.upstream = upstream;
        this.reader = reader;
        this.context = context;
    }

    /**
     * What a claim at {@code now} takes lines from. When every batch is set aside (or there are
     * none), the list is read first: the choice is {@code fresh}, and finding nothing in it means
     * there is nothing to do. Otherwise the claim takes from the batches not set aside now, and a
     * stale list is read again in the background meanwhile.
     */
    Choice choose(long now) {
        boolean fresh = exhausted();
        if (fresh) {
            return new Choice(true, read(now).map(this::open));
        }
        if (stale(now)) {
            readInBackground(now);
        }
        return new Choice(false, Uni.createFrom().item(open(list)));
    }

    /** The list is older than {@link #TTL_MS} at {@code now}. */
    boolean stale(long now) {
        return now - readAt >= TTL_MS;
    }

    /** Every batch on the list is set aside (or the list is empty): nothing left to take from until the next read. */
    boolean exhausted() {
        for (Eligible e : list) {
            if (takes(e)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The projects paused now: their batches are passed over from now on; true when one that was
     * paused is not any more (its batches may be taken from again: the caller looks for work).
     */
    boolean paused(Set<String> projects) {
        boolean resumed = !projects.containsAll(paused);
        paused = Set.copyOf(projects);
        return resumed;
    }

    /** Whether the project is paused now. */
    boolean paused(String project) {
        return paused.contains(project);
    }

    /** Something may have become ready that the list does not show: the next claim reads it again. */
    void invalidate() {
        readAt = NEVER;
    }

    /** A batch has just started: it joins the list (once), without the list being read again. */
    void started(Eligible batch) {
        if (list.stream().noneMatch(e -> e.id().equals(batch.id()))) {
            List<Eligible> more = new ArrayList<>(list.size() + 1);
            more.addAll(list);
            more.add(batch);
            list = more;
        }
        setAside.remove(batch.id());
    }

    /**
     * A claim asked batch id → lines of these batches and got so many of each: a batch that gave
     * fewer than asked is set aside until the next read.
     */
    void claimed(Map<String, Integer> asked, Map<String, Integer> got) {
        asked.forEach((id, n) -> {
            if (got.getOrDefault(id, 0) < n) {
                setAside.add(id);
            }
        });
    }

    /** The list as read at {@code now}: it replaces the one held, and nothing is set aside any more. */
    void replace(List<Eligible> read, long now) {
        list = read;
        readAt = now;
        setAside.clear();
    }

    /** The batches of {@code from} neither set aside nor of a paused project, in its order. */
    List<Eligible> open(List<Eligible> from) {
        List<Eligible> open = new ArrayList<>(from.size());
        for (Eligible e : from) {
            if (takes(e)) {
                open.add(e);
            }
        }
        return open;
    }

    private boolean takes(Eligible e) {
        return !setAside.contains(e.id()) && !paused.contains(e.project());
    }

    private Uni<List<Eligible>> read(long now) {
        return reader.apply(now).invoke(read -> replace(read, now));
    }

    /** One read at a time; a failed one leaves the list as it was, and the next claim tries again. */
    private void readInBackground(long now) {
        if (reading) {
            return;
        }
        reading = true;
        read(now).emitOn(context).subscribe().with(l -> reading = false, e -> {
            reading = false;
            LOG.warnf("reading the batches of upstream %s failed, will retry: %s", upstream, LogText.of(e.getMessage(), 1000));
        });
    }
}
