package dev.openbatch.batches;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.api.Metadata;
import dev.openbatch.files.FileRepository;
import dev.openbatch.status.BatchStatus;
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
 * id (none found) for the retry, which does; and runs the create's queries (the project's live
 * batches counted, its input file read for share, its default job found: none of them there),
 * and reads a create's body and writes its answer once: the first {@code POST /v1/batches} of a
 * cold JVM took 170–190 ms, later ones 25–60 ms.
 */
@ApplicationScoped
public class Warmup {
    private static final Logger LOG = Logger.getLogger(Warmup.class);

    void warm(@Observes StartupEvent ev, Vertx vertx, BatchRepository batches, JobRepository jobs, FileRepository files, ObjectMapper json) {
        warmJson(json);
        Context context = VertxContext.getOrCreateDuplicatedContext(vertx);
        VertxContextSafetyToggle.setContextSafe(context, true);
        context.runOnContext(v -> Panache.withSession(() -> batches.findOwned("warmup", "warmup")
                .call(() -> batches.markCancelling("warmup", "warmup", 0))
                .call(() -> batches.findById("warmup"))
                .call(() -> jobs.findById("warmup"))
                // the create's queries, in a transaction as there (the file is read for share)
                .call(() -> Panache.withTransaction(() -> batches.countLive("warmup")
                        .call(() -> files.findOwnedForShare("warmup", "warmup"))
                        .call(() -> jobs.findDefault("warmup")))))
                .subscribe().with(b -> LOG.debug("Hibernate Reactive warmed up"),
                        e -> LOG.debugf("warm-up query failed: %s", e.getMessage())));
    }

    /** A create's body read and its answer written once, so that the first create does not build their (de)serializers. */
    private static void warmJson(ObjectMapper json) {
        try {
            CreateBatch req = json.readValue("{\"input_file_id\":\"file-warmup\",\"endpoint\":\"/v1/chat/completions\","
                    + "\"completion_window\":\"24h\",\"metadata\":{\"k\":\"v\"}}", CreateBatch.class);
            BatchEntity b = new BatchEntity();
            b.id = "batch-warmup";
            b.endpoint = req.endpoint();
            b.inputFileId = req.input_file_id();
            b.completionWindow = req.completion_window();
            b.status = BatchStatus.VALIDATING.wire();
            b.metadata = Metadata.toJson(Metadata.check(req.metadata()));
            json.writeValueAsString(BatchView.of(b));
        } catch (Exception e) {
            LOG.debugf("warm-up of the create's JSON failed: %s", e.getMessage());
        }
    }
}
