package dev.openbatch.batches;

import org.jboss.logging.Logger;

import dev.openbatch.jobs.JobRepository;

import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.vertx.core.runtime.context.VertxContextSafetyToggle;
import io.smallrye.common.vertx.VertxContext;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Opens one Hibernate Reactive session at start-up, so that the first client request does not
 * pay for booting the session machinery (about a second on a cold JVM), and runs the cancel's
 * update once on no batch, so that the first cancel, which matters most while a big batch keeps
 * the box busy, does not pay for translating its query either; and loads a batch and a job by
 * id (none found) for the retry, which does.
 */
@ApplicationScoped
public class Warmup {
    private static final Logger LOG = Logger.getLogger(Warmup.class);

    void warm(@Observes StartupEvent ev, Vertx vertx, BatchRepository batches, JobRepository jobs) {
        Context context = VertxContext.getOrCreateDuplicatedContext(vertx);
        VertxContextSafetyToggle.setContextSafe(context, true);
        context.runOnContext(v -> Panache.withSession(() -> batches.findOwned("warmup", "warmup")
                .call(() -> batches.markCancelling("warmup", "warmup", 0))
                .call(() -> batches.findById("warmup"))
                .call(() -> jobs.findById("warmup")))
                .subscribe().with(b -> LOG.debug("Hibernate Reactive warmed up"),
                        e -> LOG.debugf("warm-up query failed: %s", e.getMessage())));
    }
}
