package dev.openbatch.engine.housekeeping;

import io.smallrye.mutiny.Uni;

/**
 * One of an engine's periodic jobs, run by {@link Housekeeping}. Its name labels its failures in
 * {@code openbatch_housekeeping_failures_total{job=...}}: dashboards and alerts read it, so a name,
 * once shipped, does not change.
 */
public interface Job {
    String name();

    /** How long from one run to the next. */
    long periodMillis();

    /** Whether the first run is at the start, rather than one period after it. */
    default boolean atStart() {
        return false;
    }

    /** One run. A failure is logged and counted by {@link Housekeeping}; the job runs again at its next period. */
    Uni<?> run();
}
