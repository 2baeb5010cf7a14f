package dev.openbatch.batches;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.Metadata;
import dev.openbatch.api.Params;
import dev.openbatch.api.Time;
import dev.openbatch.engine.BatchChanged;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.jobs.CompletionWindow;
import dev.openbatch.jobs.JobEntity;
import dev.openbatch.jobs.JobRepository;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;

/**
 * {@code POST /v1/batches/{id}/retry}: a new batch over the lines an ended batch did not get
 * answered. It checks the body, the batch, the job and the model here; {@link BatchLines#retry}
 * creates the batch, validating, and the engine copies the lines and starts it.
 */
@ApplicationScoped
public class RetryService {
    /** Most error codes a retry may name. */
    static final int MAX_ERROR_CODES = 100;
    /** The metadata key of a retry batch that names the batch it retries. */
    private static final String RETRY_OF = "retry_of";

    private final BatchRepository batches;
    private final Owned owned;
    private final JobRepository jobs;
    private final BatchLines lines;
    private final Upstreams upstreams;
    private final Time time;
    private final Event<BatchChanged> changed;
    private final Idempotency idempotency;

    public RetryService(BatchRepository batches, Owned owned, JobRepository jobs, BatchLines lines, Upstreams upstreams, Time time,
            Event<BatchChanged> changed, Idempotency idempotency) {
        this.idempotency = idempotency;
        this.batches = batches;
        this.owned = owned;
        this.jobs = jobs;
        this.lines = lines;
        this.upstreams = upstreams;
        this.time = time;
        this.changed = changed;
    }

    /** The body of POST /v1/batches/{id}/retry (every field optional). */
    @RegisterForReflection
    public record RetryBatch(List<String> error_codes, String job_id, String completion_window, Map<String, Object> metadata) {
    }

    /** What an {@code Idempotency-Key} of a retry stands for: the batch retried and the body (no body counts as {@code {}}). */
    @RegisterForReflection
    record RetryRequest(String retry_of, RetryBatch body) {
    }

    /**
     * A new batch over the failed, expired and cancelled lines of a terminal batch (only those
     * with one of {@code error_codes}, when given): same custom_ids and bodies, same endpoint and
     * model, the retried batch's job and window unless given, its metadata (or the one given) with
     * {@code retry_of} naming it. It is validating until the engine has copied its lines (one
     * transaction, as a created batch's file is validated), then in_progress. 409 when the batch
     * is not terminal or has no such line. With an {@code Idempotency-Key}, a repeat of the request
     * answers the batch the first one made instead of making another ({@link Idempotency}).
     */
    public Uni<BatchView> retry(String project, String id, RetryBatch body, String idempotencyKey) {
        RetryBatch req = body != null ? body : new RetryBatch(null, null, null, null);
        Idempotency.check(idempotencyKey);
        List<String> codes = new ArrayList<>();
        if (req.error_codes() != null) {
            if (req.error_codes().size() > MAX_ERROR_CODES) {
                throw ApiException.invalid("Invalid 'error_codes': at most " + MAX_ERROR_CODES + " codes.", "error_codes", "invalid_value");
            }
            for (String c : req.error_codes()) {
                if (c == null || c.isBlank() || c.length() > 256) {
                    throw ApiException.invalid("Invalid 'error_codes': each must be a code of 1 to 256 characters.", "error_codes", "invalid_value");
                }
                codes.add(Params.text("error_codes", c));
            }
        }
        Params.text("job_id", req.job_id());
        if (req.completion_window() != null) {
            CompletionWindow.seconds(req.completion_window(), "completion_window");
        }
        Map<String, String> given = Metadata.check(req.metadata());
        String hash = Idempotency.fingerprint(new RetryRequest(id, req));
        return idempotency.once(project, idempotencyKey, hash, () -> Panache.withSession(() -> owned.batch(project, id).chain(b -> {
            BatchStatus status = BatchStatus.of(b.status);
            if (!status.terminal()) {
                throw ApiException.conflict("Batch " + b.id + " is " + b.status + "; only a batch that has ended (completed, expired,"
                        + " cancelled) can be retried.", "batch_not_terminal");
            }
            if (b.dataPurgedAt != null) {
                throw BatchLines.dataExpired(b.id);
            }
            if (status == BatchStatus.FAILED) {
                throw ApiException.conflict("Batch " + b.id + " failed validation and has no lines to retry; fix its input file and create"
                        + " a new batch.", "nothing_to_retry");
            }
            return (req.job_id() == null ? jobs.findById(b.jobId) : owned.job(project, req.job_id()))
                    .map(j -> retryOf(b, j, req, given, codes, idempotencyKey, hash));
        })).chain(r -> lines.retry(r).replaceWith(r.id()))
                .chain(newId -> Panache.withSession(() -> batches.findById(newId)))
                .map(BatchView::of)
                .invoke(v -> {
                    BatchLog.log(v.id(), project, v.status(), v.request_counts().total(), 0, 0, v.model());
                    changed.fire(new BatchChanged(v.id()));
                }));
    }

    /** The retry batch's values, checked: its job takes the lines' model, an upstream serves it, its metadata fits. */
    private BatchLines.Retry retryOf(BatchEntity b, JobEntity job, RetryBatch req, Map<String, String> given, List<String> codes,
            String idempotencyKey, String hash) {
        if (job.model != null && !job.model.equals(b.model)) {
            throw ApiException.unprocessable("Job " + job.id + " is for model \"" + job.model + "\" but the lines of batch " + b.id
                    + " ask for \"" + b.model + "\".", "job_id", "mismatched_model");
        }
        String upstream = upstreams.forModel(b.model).map(Upstream::name).orElseThrow(() -> ApiException.unprocessable(
                "No upstream serves model \"" + b.model + "\" now. Configured models: " + String.join(", ", upstreams.models()) + ".",
                null, "model_not_found"));
        Map<String, String> metadata = new LinkedHashMap<>(given != null ? given : orEmpty(Metadata.fromJson(b.metadata)));
        metadata.remove(RETRY_OF);
        if (metadata.size() >= Metadata.MAX_PAIRS) {
            throw ApiException.invalid("Invalid 'metadata': at most " + (Metadata.MAX_PAIRS - 1) + " pairs, since the retry adds '"
                    + RETRY_OF + "'" + (given == null ? " (the retried batch's metadata is taken when none is given)" : "") + ".",
                    "metadata", "invalid_value");
        }
        metadata.put(RETRY_OF, b.id);
        String window = req.completion_window() != null ? req.completion_window() : b.completionWindow;
        Long seconds = CompletionWindow.seconds(window, "completion_window");
        long now = time.seconds();
        return new BatchLines.Retry(Ids.batch(), b.id, job.id, window, seconds == null ? null : now + seconds, upstream,
                Metadata.toJson(metadata), now, time.orderingMicros(), codes, b.project, idempotencyKey, hash);
    }

    private static Map<String, String> orEmpty(Map<String, String> m) {
        return m == null ? Map.of() : m;
    }
}
