package dev.openbatch.engine.housekeeping;

import java.util.function.BooleanSupplier;

import org.jboss.logging.Logger;

import dev.openbatch.api.Time;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.NodeStore;
import io.smallrye.mutiny.Uni;

/**
 * Renews this process's heartbeat, and with it the claims of the batch-level steps it runs: a
 * line's claim lasts as long as its holder's heartbeat, so keeping thousands alive costs one row.
 * When the row is gone, another process declared this one dead and took its lines: everything
 * still held is given back before a new life begins, so no line is sent twice from here. It goes
 * on while a graceful stop lets lines in flight finish, so that the process stays alive meanwhile.
 */
public final class Heartbeat implements Job {
    private static final Logger LOG = Logger.getLogger(Heartbeat.class);

    private final String node;
    private final Time time;
    private final long leaseMillis;
    private final NodeStore nodes;
    private final BatchStore batches;
    private final BooleanSupplier stopping;
    private final Runnable forgetClaims;

    /**
     * @param stopping whether the engine is stopping (then a lost row starts no new life)
     * @param forgetClaims makes the engine's dispatchers abort and forget every line they hold
     */
    public Heartbeat(String node, Time time, long leaseMillis, NodeStore nodes, BatchStore batches, BooleanSupplier stopping,
            Runnable forgetClaims) {
        this.node = node;
        this.time = time;
        this.leaseMillis = leaseMillis;
        this.nodes = nodes;
        this.batches = batches;
        this.stopping = stopping;
        this.forgetClaims = forgetClaims;
    }

    @Override
    public String name() { return "heartbeat"; }

    /** Three beats a lease: one late or failed beat does not let the lease lapse. */
    @Override
    public long periodMillis() { return Math.max(100, leaseMillis / 3); }

    @Override
    public Uni<Void> run() {
        long now = time.millis();
        return nodes.beat(node, now, leaseMillis).chain(alive -> {
            if (alive) {
                return batches.renewSteps(node, now + leaseMillis);
            }
            if (stopping.getAsBoolean()) {
                return Uni.createFrom().voidItem(); // said goodbye (or buried while stopping): no new life
            }
            LOG.warnf("engine %s was declared dead by another process (its heartbeat lapsed): giving back what it held", node);
            forgetClaims.run();
            return nodes.register(node, now, leaseMillis).replaceWithVoid();
        });
    }
}
