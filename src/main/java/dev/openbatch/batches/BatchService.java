package dev.openbatch.batches;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Metadata;
import dev.openbatch.api.Params;
import dev.openbatch.api.Time;
import dev.openbatch.files.FileRepository;
import dev.openbatch.jobs.CompletionWindow;
import dev.openbatch.jobs.JobEntity;
import dev.openbatch.jobs.JobRepository;
import dev.openbatch.jobs.JobService;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;

@ApplicationScoped
public class BatchService {
    /** Endpoints a batch may target. */
    public static final Set<String> ENDPOINTS = Set.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BatchRepository batches;
    private final FileRepository files;
    private final JobRepository jobs;
    private final JobService jobService;
    private final Time time;
    private final Event<BatchChanged> changed;

    public BatchService(BatchRepository batches, FileRepository files, JobRepository jobs, JobService jobService, Time time,
            Event<BatchChanged> changed) {
        this.batches = batches;
        this.files = files;
        this.jobs = jobs;
        this.jobService = jobService;
        this.time = time;
        this.changed = changed;
    }

    /** The body of POST /v1/batches. */
    @RegisterForReflection(targets = { CreateBatch.class, OutputExpiresAfter.class })
    public record CreateBatch(String input_file_id, String endpoint, String completion_window, Map<String, Object> metadata,
            String job_id, OutputExpiresAfter output_expires_after) {
    }

    public record OutputExpiresAfter(String anchor, Long seconds) {
    }

    public Uni<BatchView> create(String project, CreateBatch req, String idempotencyKey) {
        check(req);
        if (idempotencyKey != null && (idempotencyKey.isBlank() || idempotencyKey.length() > 255)) {
            throw ApiException.invalid("The Idempotency-Key header must be 1 to 255 characters.", "Idempotency-Key", "invalid_value");
        }
        String hash = hash(req);
        Uni<BatchView> create = jobService.ensureDefault(project)
                .chain(() -> Panache.withTransaction(() -> insert(project, req, idempotencyKey, hash)))
                .invoke(b -> {
                    BatchLog.log(b.id(), project, b.status(), 0, 0, 0, b.model());
                    changed.fire(new BatchChanged(b.id()));
                });
        if (idempotencyKey == null) {
            return create;
        }
        // A repeated request returns the batch the first one made; a concurrent twin loses the
        // unique index race and reads the winner's batch.
        return existing(project, idempotencyKey, hash)
                .onItem().ifNull().switchTo(() -> create
                        .onFailure(BatchService::isIdempotencyRace).recoverWithUni(() -> existing(project, idempotencyKey, hash)));
    }

    private Uni<BatchView> existing(String project, String key, String hash) {
        return Panache.withSession(() -> batches.findByIdempotencyKey(project, key)).map(b -> {
            if (b == null) {
                return null;
            }
            if (!hash.equals(b.requestHash)) {
                throw ApiException.conflict("This Idempotency-Key was already used with different parameters (batch "
                        + b.id + "). Use a new key for a new batch.", "idempotency_key_reused");
            }
            return BatchView.of(b);
        });
    }

    private static boolean isIdempotencyRace(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && c.getMessage().contains("batches_idempotency")) {
                return true;
            }
        }
        return false;
    }

    private static void check(CreateBatch req) {
        if (req == null) {
            throw ApiException.invalid("The request body must be a JSON object.", null, "invalid_json");
        }
        Params.text("input_file_id", req.input_file_id());
        Params.text("job_id", req.job_id());
        if (req.input_file_id() == null || req.input_file_id().isBlank()) {
            throw ApiException.invalid("Missing required parameter: 'input_file_id'.", "input_file_id", "missing_required_parameter");
        }
        if (req.endpoint() == null) {
            throw ApiException.invalid("Missing required parameter: 'endpoint'.", "endpoint", "missing_required_parameter");
        }
        if (!ENDPOINTS.contains(req.endpoint())) {
            throw ApiException.invalid("Invalid 'endpoint': '" + ApiException.clip(req.endpoint())
                    + "'. Supported: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses.", "endpoint", "invalid_value");
        }
        if (req.completion_window() != null) {
            CompletionWindow.seconds(req.completion_window(), "completion_window");
        }
        Metadata.check(req.metadata());
        var oea = req.output_expires_after();
        if (oea != null) {
            if (!"created_at".equals(oea.anchor())) {
                throw ApiException.invalid("Invalid 'output_expires_after.anchor': only 'created_at' is supported.",
                        "output_expires_after.anchor", "invalid_value");
            }
            if (oea.seconds() == null || oea.seconds() < 3600 || oea.seconds() > 2_592_000) {
                throw ApiException.invalid("'output_expires_after.seconds' must be between 3600 (1 hour) and 2592000 (30 days).",
                        "output_expires_after.seconds", "invalid_value");
            }
        }
    }

    private Uni<BatchView> insert(String project, CreateBatch req, String idempotencyKey, String hash) {
        Uni<JobEntity> job = req.job_id() == null ? jobs.findDefault(project)
                : jobs.findOwned(project, req.job_id()).onItem().ifNull().failWith(() -> ApiException.notFound("job", req.job_id()));
        return files.findOwned(project, req.input_file_id())
                .onItem().ifNull().failWith(() -> ApiException.notFound("file", req.input_file_id()))
                .invoke(f -> {
                    if (!"batch".equals(f.purpose)) {
                        throw ApiException.invalid("File " + f.id + " has purpose '" + f.purpose
                                + "'; only files uploaded with purpose 'batch' can start a batch.", "input_file_id", "invalid_file_purpose");
                    }
                })
                .chain(f -> job)
                .chain(j -> {
                    String window = req.completion_window() != null ? req.completion_window() : j.completionWindow;
                    Long seconds = CompletionWindow.seconds(window, "completion_window");
                    long now = time.seconds();
                    BatchEntity b = new BatchEntity();
                    b.id = Ids.batch();
                    b.project = project;
                    b.jobId = j.id;
                    b.endpoint = req.endpoint();
                    b.inputFileId = req.input_file_id();
                    b.completionWindow = window;
                    b.status = BatchStatus.VALIDATING.wire();
                    b.metadata = Metadata.toJson(Metadata.check(req.metadata()));
                    b.outputExpiresAfter = req.output_expires_after() == null ? null : req.output_expires_after().seconds();
                    b.createdAt = now;
                    b.createdUs = time.orderingMicros();
                    b.expiresAt = seconds == null ? null : now + seconds;
                    b.idempotencyKey = idempotencyKey;
                    b.requestHash = hash;
                    return batches.persist(b).map(BatchView::of);
                });
    }

    public Uni<BatchView> get(String project, String id) {
        return Panache.withSession(() -> owned(project, id)).map(BatchView::of);
    }

    private Uni<BatchEntity> owned(String project, String id) {
        return batches.findOwned(project, id).onItem().ifNull().failWith(() -> ApiException.notFound("batch", id));
    }

    public Uni<ListPage<BatchView>> list(String project, Integer limit, String after) {
        int n = limit == null ? 20 : limit;
        if (n < 1 || n > 100) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and 100.", "limit", "invalid_value");
        }
        return Panache.withSession(() -> {
            Uni<BatchEntity> cursor = after == null ? Uni.createFrom().nullItem()
                    : batches.findOwned(project, after).onItem().ifNull().failWith(() -> ApiException.invalid(
                            "Invalid 'after': '" + ApiException.clip(after) + "' is not one of your batches.", "after", "invalid_value"));
            return cursor.chain(c -> batches.page(project, c, n + 1));
        }).map(rows -> ListPage.of(rows.stream().map(BatchView::of).toList(), n, BatchView::id));
    }

    /**
     * validating|in_progress -> cancelling (the engine takes it to cancelled); a batch already
     * cancelling is answered as it is; 409 from finalizing and every terminal state, cancelled included.
     */
    public Uni<BatchView> cancel(String project, String id) {
        return Panache.withTransaction(() -> batches.markCancelling(project, id, time.seconds())
                .chain(moved -> owned(project, id).invoke(b -> {
                    if (moved == 0 && BatchStatus.of(b.status) != BatchStatus.CANCELLING) {
                        throw ApiException.conflict("Batch " + b.id + " is " + b.status + "; only a validating or in_progress batch can be cancelled.",
                                "batch_not_cancellable");
                    }
                })))
                .map(BatchView::of)
                .invoke(b -> {
                    BatchLog.log(b.id(), project, b.status(), b.request_counts().total(), b.request_counts().completed(),
                            b.request_counts().failed(), b.model());
                    changed.fire(new BatchChanged(b.id()));
                });
    }

    private static String hash(CreateBatch req) {
        try {
            byte[] json = JSON.writeValueAsBytes(req);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(json));
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
