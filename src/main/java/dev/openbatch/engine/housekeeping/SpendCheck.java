package dev.openbatch.engine.housekeeping;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.quotas.SpendCaps;
import io.smallrye.mutiny.Uni;

/**
 * The spend caps, as this engine keeps them: each run judges the projects with running batches
 * (pausing those at a cap, resuming those under every cap again, see {@link SpendCaps}), reads
 * which projects are paused (whichever replica paused them) and tells the dispatchers, which send
 * none of their lines until they resume. Three or four small statements a run, whatever the lines.
 */
public final class SpendCheck implements Job {
    private final SpendCaps caps;
    private final EngineMetrics metrics;
    private final Executor onContext;
    private final Consumer<Set<String>> dispatchers;
    private final long periodMillis;

    /**
     * @param dispatchers given the projects paused now, after every run (on the engine's context)
     * @param onContext   runs a task on the engine's context, where the dispatchers live
     */
    public SpendCheck(SpendCaps caps, EngineMetrics metrics, Executor onContext, Consumer<Set<String>> dispatchers, long periodMillis) {
        this.caps = caps;
        this.metrics = metrics;
        this.onContext = onContext;
        this.dispatchers = dispatchers;
        this.periodMillis = periodMillis;
    }

    @Override
    public String name() { return "spend caps"; }

    @Override
    public long periodMillis() { return periodMillis; }

    /** A paused project's lines must not go out in the first second of a new process. */
    @Override
    public boolean atStart() { return true; }

    @Override
    public Uni<Void> run() {
        return caps.check().emitOn(onContext).invoke(pauses -> {
            Set<String> paused = new HashSet<>();
            pauses.forEach(p -> paused.add(p.project()));
            dispatchers.accept(paused);
            metrics.projectsPaused(paused);
        }).replaceWithVoid();
    }
}
