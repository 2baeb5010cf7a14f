package dev.openbatch.engine.housekeeping;

import java.util.List;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.engine.metrics.EngineMetrics;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;

/**
 * Runs an engine's periodic {@link Job}s, each on its own timer on the engine's context. A job
 * never overlaps itself, and a failing one logs and counts its own failure and runs again at its
 * next period: one job failing never stops the others (as db-scheduler's {@code RunAndLogErrors}).
 */
public final class Housekeeping {
    private static final Logger LOG = Logger.getLogger(Housekeeping.class);

    private final Context context;
    private final EngineMetrics metrics;
    private final List<Timed> jobs;

    /** A job, with whether it is running and the timer that runs it. Read and changed on the context only. */
    private static final class Timed {
        final Job job;
        final long periodMillis;
        boolean running;
        long timer = -1;

        Timed(Job job) {
            this.job = job;
            this.periodMillis = Math.max(10, job.periodMillis());
        }
    }

    /** Each job's failure counter is exported from now on, at 0, so that increase() sees its first failure. */
    public Housekeeping(Context context, EngineMetrics metrics, List<Job> jobs) {
        this.context = context;
        this.metrics = metrics;
        this.jobs = jobs.stream().map(Timed::new).toList();
        jobs.forEach(j -> metrics.housekeepingJob(j.name()));
    }

    /** Every job runs once per period from now on, and those that ask for it at once too. */
    public void start() {
        context.runOnContext(() -> jobs.forEach(j -> {
            j.timer = context.owner().setPeriodic(j.periodMillis, id -> runOnce(j));
            if (j.job.atStart()) {
                runOnce(j);
            }
        }));
    }

    private void runOnce(Timed j) {
        if (j.running) {
            return;
        }
        j.running = true;
        Uni<?> u;
        try {
            u = j.job.run();
        } catch (RuntimeException e) {
            u = Uni.createFrom().failure(e);
        }
        u.subscribe().with(x -> j.running = false, e -> {
            j.running = false;
            metrics.housekeepingFailed(j.job.name());
            LOG.warnf("engine job '%s' failed, will run again in %d ms: %s", j.job.name(), j.periodMillis, LogText.of(e.getMessage(), 1000));
        });
    }

    /** No job runs again (a run under way finishes). */
    public void stop() {
        context.runOnContext(() -> jobs.forEach(j -> {
            if (j.timer >= 0) {
                context.owner().cancelTimer(j.timer);
                j.timer = -1;
            }
        }));
    }
}
