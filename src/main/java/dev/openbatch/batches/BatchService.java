package dev.openbatch.batches;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Metadata;
import dev.openbatch.api.Time;
import dev.openbatch.engine.BatchChanged;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.jobs.CompletionWindow;
import dev.openbatch.jobs.JobService;
import dev.openbatch.quotas.Quota;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.quotas.SpendCaps;
import dev.openbatch.status.BatchStatus;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;

/**
 * The batches themselves: create (with the {@code Idempotency-Key} that makes a repeated create
 * answer the first one's batch), get, list and cancel. A batch is created {@code validating} and
 * the engine takes it on; a cancel moves it to {@code cancelling} and the engine finishes the job.
 * Each change is logged and announced with {@link BatchChanged}, so the engine looks at it at once.
 */
@ApplicationScoped
public class BatchService {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BatchRepository batches;
    private final Owned owned;
    private final JobService jobService;
    private final Time time;
    private final Event<BatchChanged> changed;
    private final Quotas quotas;
    private final SpendCaps caps;

    public BatchService(BatchRepository batches, Owned owned, JobService jobService, Time time, Event<BatchChanged> changed, Quotas quotas,
            SpendCaps caps) {
        this.quotas = quotas;
        this.caps = caps;
        this.batches = batches;
        this.owned = owned;
        this.jobService = jobService;
        this.time = time;
        this.changed = changed;
    }

    public Uni<BatchView> create(String project, CreateBatch req, String idempotencyKey) {
        CreateBatch.check(req);
        if (idempotencyKey != null && (idempotencyKey.isBlank() || idempotencyKey.length() > 255)) {
            throw ApiException.invalid("The Idempotency-Key header must be 1 to 255 characters.", "Idempotency-Key", "invalid_value");
        }
        String hash = hash(req);
        // the live batches are counted in the transaction that inserts the new one, under the project's quota lock
        Uni<BatchView> create = jobService.ensureDefault(project)
                .chain(() -> quotas.prepare(project, Quota.LIVE_BATCHES))
                .chain(limit -> Panache.withTransaction(() -> quotas.admit(project, Quota.LIVE_BATCHES, limit, () -> batches.countLive(project))
                        .chain(() -> insert(project, req, idempotencyKey, hash))))
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
        return Panache.withSession(() -> batches.findByIdempotencyKey(project, key)).chain(b -> {
            if (b == null) {
                return Uni.createFrom().<BatchView>nullItem();
            }
            if (!hash.equals(b.requestHash)) {
                throw ApiException.conflict("This Idempotency-Key was already used with different parameters (batch "
                        + b.id + "). Use a new key for a new batch.", "idempotency_key_reused");
            }
            return view(project, List.of(b)).map(l -> l.get(0));
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

    private Uni<BatchView> insert(String project, CreateBatch req, String idempotencyKey, String hash) {
        return owned.input(project, req.input_file_id())
                .chain(f -> owned.jobOrDefault(project, req.job_id()))
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

    /** The body's fingerprint: a repeated Idempotency-Key must come with the same one. */
    private static String hash(CreateBatch req) {
        try {
            byte[] json = JSON.writeValueAsBytes(req);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(json));
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Uni<BatchView> get(String project, String id) {
        return Panache.withSession(() -> owned.batch(project, id)).chain(b -> view(project, List.of(b))).map(l -> l.get(0));
    }

    /** The batches of the project as the API shows them: an in_progress one with its project's pause, if it is paused. */
    Uni<List<BatchView>> view(String project, List<BatchEntity> rows) {
        if (rows.stream().noneMatch(b -> BatchStatus.IN_PROGRESS.wire().equals(b.status))) {
            return Uni.createFrom().item(rows.stream().map(BatchView::of).toList());
        }
        return caps.pause(project).map(pause -> rows.stream().map(b -> BatchView.of(b, pause)).toList());
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
        }).chain(rows -> view(project, rows)).map(views -> ListPage.of(views, n, BatchView::id));
    }

    /**
     * validating|in_progress -> cancelling (the engine takes it to cancelled); a batch already
     * cancelling is answered as it is; 409 from finalizing and every terminal state, cancelled included.
     */
    public Uni<BatchView> cancel(String project, String id) {
        return Panache.withTransaction(() -> batches.markCancelling(project, id, time.seconds())
                .chain(moved -> owned.batch(project, id).invoke(b -> {
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
}
