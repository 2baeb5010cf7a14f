package dev.openbatch.batches;

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
 * answer the first one's batch, see {@link Idempotency}), get, list and cancel. A batch is created
 * {@code validating} and the engine takes it on; a cancel moves it to {@code cancelling} and the
 * engine finishes the job.
 * Each change is logged and announced with {@link BatchChanged}, so the engine looks at it at once.
 */
@ApplicationScoped
public class BatchService {
    private final BatchRepository batches;
    private final Owned owned;
    private final JobService jobService;
    private final Time time;
    private final Event<BatchChanged> changed;
    private final Quotas quotas;
    private final Idempotency idempotency;
    private final SpendCaps caps;

    public BatchService(BatchRepository batches, Owned owned, JobService jobService, Time time, Event<BatchChanged> changed, Quotas quotas,
            Idempotency idempotency, SpendCaps caps) {
        this.quotas = quotas;
        this.caps = caps;
        this.idempotency = idempotency;
        this.batches = batches;
        this.owned = owned;
        this.jobService = jobService;
        this.time = time;
        this.changed = changed;
    }

    public Uni<BatchView> create(String project, CreateBatch req, String idempotencyKey) {
        CreateBatch.check(req);
        Idempotency.check(idempotencyKey);
        String hash = Idempotency.fingerprint(req);
        // the live batches are counted in the transaction that inserts the new one, under the project's quota lock
        return idempotency.once(project, idempotencyKey, hash, () -> jobService.ensureDefault(project)
                .chain(() -> quotas.prepare(project, Quota.LIVE_BATCHES))
                .chain(limit -> Panache.withTransaction(() -> quotas.admit(project, Quota.LIVE_BATCHES, limit, () -> batches.countLive(project))
                        .chain(() -> insert(project, req, idempotencyKey, hash))))
                .invoke(b -> {
                    BatchLog.log(b.id(), project, b.status(), 0, 0, 0, b.model());
                    changed.fire(new BatchChanged(b.id()));
                }));
    }

    private Uni<BatchView> insert(String project, CreateBatch req, String idempotencyKey, String hash) {
        return owned.input(project, req.input_file_id(), true)
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

    public Uni<BatchView> get(String project, String id) {
        return Panache.withSession(() -> owned.batch(project, id)).map(BatchView::of);
    }

    /**
     * Why an in_progress batch sends no lines now, for the {@code openbatch-paused} header of its
     * GET (the Batch object keeps exactly its fields): its project reached a spend cap. A JSON
     * object, {@code {"reason":"spend_cap","quota","message","since","resumes_at"}}; null when the
     * batch is not paused.
     */
    public Uni<String> paused(String project, BatchView b) {
        if (!BatchStatus.IN_PROGRESS.wire().equals(b.status())) {
            return Uni.createFrom().nullItem();
        }
        return caps.pause(project).map(p -> p == null ? null
                : new io.vertx.core.json.JsonObject().put("reason", "spend_cap").put("quota", p.quota()).put("message", p.message())
                        .put("since", p.since()).put("resumes_at", p.resumesAt()).encode());
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
     * validating|in_progress -> cancelling (the engine takes it to cancelled, or to completed when
     * every line had settled before the cancel, so that it cancelled none); a batch already
     * cancelling is answered as it is; 409 from finalizing and every terminal state, cancelled included.
     */
    public Uni<BatchView> cancel(String project, String id) {
        // two statements, each its own transaction (no begin and commit around them: a cancel
        // answers fast while the engine keeps the box busy); the read sees the update or later
        return Panache.withSession(() -> batches.markCancelling(project, id, time.seconds())
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
