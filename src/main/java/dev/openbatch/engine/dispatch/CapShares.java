package dev.openbatch.engine.dispatch;

import java.util.Collection;
import java.util.TreeMap;

/**
 * The arithmetic of one upstream cap shared by every live process: how many lines this process
 * may have in flight to the upstream (its allowance), and what it publishes for the others (its
 * row of {@code upstream_shares}). Plain arithmetic on what the live processes' rows said; the
 * reads and writes are the caller's ({@code engine.housekeeping.UpstreamShares}, every second).
 * <p>
 * The target share is the cap split evenly over the live processes, the remainder going to the
 * first ones in id order, so the targets add up to exactly the cap. The allowance is the target,
 * bounded by what the others leave: {@code cap − Σ others' published allowances}, never below 0.
 * A newcomer so starts at 0 and grows only as the others publish smaller allowances; a dead
 * process's share comes back once its row is gone.
 * <p>
 * A process publishes {@link #toPublish max(in flight, allowance)}: one that must shrink keeps
 * publishing what it still holds until its lines finish. The sum of what is in flight stays within
 * the cap, even while processes see different live sets and stale values, if every process keeps
 * this order: publish, then read, then use no more than {@link #usable min(allowance,
 * published)}. A raise is thus announced before it is used, and of two processes raising at once
 * at least the one that reads last sees the other's raise (each read follows its own publication),
 * so their uses cannot both count on the same room. {@code CapSharesTest} checks this over random
 * interleavings, and shows that using the allowance straight from the read can go over the cap.
 */
public final class CapShares {
    private CapShares() {
    }

    /** A live process as its row says: its id, and the allowance it last published for this upstream. */
    public record Node(String id, int published) {
    }

    /**
     * This process's even share of {@code cap} among the live processes ({@code self} counts even
     * if its row is not among them yet), the remainder to the first ids in their natural order.
     */
    public static int target(int cap, String self, Collection<Node> live) {
        if (cap <= 0) {
            return 0;
        }
        TreeMap<String, Boolean> ids = new TreeMap<>();
        for (Node n : live) {
            ids.put(n.id(), true);
        }
        ids.put(self, true);
        int n = ids.size();
        int rank = ids.headMap(self).size();
        return cap / n + (rank < cap % n ? 1 : 0);
    }

    /**
     * This process's allowance: its {@link #target} bounded by {@code cap} less what the others
     * published, never below 0. {@code live} is what a read of the live processes' rows returned; this
     * process's own row in it, if any, is not counted as another's.
     */
    public static int allowance(int cap, String self, Collection<Node> live) {
        long others = 0;
        TreeMap<String, Integer> byId = new TreeMap<>();
        for (Node n : live) {
            if (!n.id().equals(self)) {
                byId.merge(n.id(), Math.max(0, n.published()), Math::max);
            }
        }
        for (int p : byId.values()) {
            others += p;
        }
        long room = Math.max(0, (long) Math.max(0, cap) - others);
        return (int) Math.min(target(cap, self, live), room);
    }

    /** What to publish in the next heartbeat: the allowance, or more while more lines are still in flight. */
    public static int toPublish(int inFlight, int allowance) {
        return Math.max(Math.max(0, inFlight), Math.max(0, allowance));
    }

    /**
     * What may be used (the ceiling to give {@link AdaptiveLimit#setCeiling}) after a read made
     * once {@code published} was written: a raise is usable only once it has been published and
     * read back after.
     */
    public static int usable(int allowance, int published) {
        return Math.max(0, Math.min(allowance, published));
    }
}
