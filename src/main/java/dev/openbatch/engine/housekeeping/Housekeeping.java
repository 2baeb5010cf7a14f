package dev.openbatch.engine.housekeeping;
import dev.openbatch.engine.metrics.EngineMetrics;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;

/**
 * An engine's periodic jobs (heartbeat, the sweep of dead processes, file retention, gauges),
 * each on its own timer. A job never overlaps itself, and a failing one logs and counts its own
 * failure and runs again at its next period: one job failing never stops the others.
 */
public final class Housekeeping {
    private static final Logger LOG = Logger.getLogger(Housekeeping.class);

    private final Context context;
    private final EngineMetrics metrics;
    private final List<Job> jobs = new ArrayList<>();

    private static final class Job {
        final String name;
        final long periodMillis;
        final Supplier<Uni<?>> run;
        boolean running;
        long timer = -1;

        Job(String name, long periodMillis, Supplier<Uni<?>> run) {
            this.name = name;
            this.periodMillis = periodMillis;
            this.run = run;
        }
    }

    public Housekeeping(Context context, EngineMetrics metrics) {
        this.context = context;
        this.metrics = metrics;
    }

    /** Adds a job that runs every {@code periodMillis} once {@link #start()} is called. */
    public Housekeeping every(long periodMillis, String name, Supplier<Uni<?>> run) {
        jobs.add(new Job(name, Math.max(10, periodMillis), run));
        metrics.housekeepingJob(name);
        return this;
    }

    public void start() {
        context.runOnContext(() -> jobs.forEach(j -> j.timer = context.owner().setPeriodic(j.periodMillis, id -> runOnce(j))));
    }

    /** Runs the named job now (on the engine's context) and completes when it is done. */
    public Uni<Void> runNow(String name) {
        Job j = jobs.stream().filter(x -> x.name.equals(name)).findFirst().orElseThrow();
        return Uni.createFrom().emitter(em -> context.runOnContext(() -> j.run.get().subscribe().with(x -> em.complete(null), em::fail)));
    }

    private void runOnce(Job j) {
        if (j.running) {
            return;
        }
        j.running = true;
        Uni<?> u;
        try {
            u = j.run.get();
        } catch (RuntimeException e) {
            u = Uni.createFrom().failure(e);
        }
        u.subscribe().with(x -> j.running = false, e -> {
            j.running = false;
            metrics.housekeepingFailed(j.name);
            LOG.warnf("engine job '%s' failed, will run again in %d ms: %s", j.name, j.periodMillis, LogText.of(e.getMessage(), 1000));
        });
    }

    public void stop() {
        context.runOnContext(() -> jobs.forEach(j -> {
            if (j.timer >= 0) {
                context.owner().cancelTimer(j.timer);
                j.timer = -1;
            }
        }));
    }
}
