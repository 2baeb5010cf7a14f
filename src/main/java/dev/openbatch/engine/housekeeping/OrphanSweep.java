package dev.openbatch.engine.housekeeping;

import dev.openbatch.store.NodeStore;
import io.smallrye.mutiny.Uni;

/**
 * Returns to the queue the lines held in the name of a process that has no heartbeat row (it was
 * declared dead while a claim of its was committing): no lease of theirs can lapse any more, so
 * the {@link LeaseSweep} never sees them. Once a minute; it reads the running lines only.
 */
public final class OrphanSweep implements Job {
    private final NodeStore nodes;

    public OrphanSweep(NodeStore nodes) {
        this.nodes = nodes;
    }

    @Override
    public String name() { return "orphans"; }

    @Override
    public long periodMillis() { return 60_000; }

    @Override
    public Uni<Integer> run() {
        return nodes.recoverOrphans();
    }
}
