package dev.openbatch.batches;
import dev.openbatch.validation.ValidationReport;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.engine.BatchChanged;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
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
import dev.openbatch.batches.BatchLines;
import dev.openbatch.validation.DryRun;
import dev.openbatch.status.LineState;
import dev.openbatch.files.FileEntity;
import dev.openbatch.files.FileRepository;
import dev.openbatch.jobs.CompletionWindow;
import dev.openbatch.jobs.JobEntity;
import dev.openbatch.jobs.JobRepository;
import dev.openbatch.jobs.JobService;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;
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
    private final BatchLines lines;
    private final DryRun dryRun;
    private final Upstreams upstreams;

    public BatchService(BatchRepository batches, FileRepository files, JobRepository jobs, JobService jobService, Time time,
            Event<BatchChanged> changed, BatchLines lines, DryRun dryRun, Upstreams upstreams) {
        this.batches = batches;
        this.files = files;
        this.jobs = jobs;
        this.jobService = jobService;
        this.time = time;
        this.changed = changed;
        this.lines = lines;
        this.dryRun = dryRun;
        this.upstreams = upstreams;
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
        Uni<JobEntity> job = req.job_id() == null ? jobs.findDefault(project) : ownedJob(project, req.job_id());
        return input(project, req.input_file_id())
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

    /** The project's file that a batch would read: 404 when it is not one, 400 when its purpose is not {@code batch}. */
    private Uni<FileEntity> input(String project, String fileId) {
        return files.findOwned(project, fileId)
                .onItem().ifNull().failWith(() -> ApiException.notFound("file", fileId))
                .invoke(f -> {
                    if (!"batch".equals(f.purpose)) {
                        throw ApiException.invalid("File " + f.id + " has purpose '" + f.purpose
                                + "'; only files uploaded with purpose 'batch' can start a batch.", "input_file_id", "invalid_file_purpose");
                    }
                });
    }

    private Uni<JobEntity> ownedJob(String project, String jobId) {
        return jobs.findOwned(project, jobId).onItem().ifNull().failWith(() -> ApiException.notFound("job", jobId));
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

    // ---- while it runs: results, the lines' states; afterwards: retries; before: dry runs ----

    /** Most lines per page of GET /v1/batches/{id}/requests, and the default. */
    static final int MAX_LINES_PAGE = 1000;
    static final int DEFAULT_LINES_PAGE = 100;
    /** Most error codes a retry may name. */
    static final int MAX_ERROR_CODES = 100;

    /** The next settled lines of the batch after the cursor {@code after}, for GET /v1/batches/{id}/results. */
    public Uni<BatchLines.Results> results(String project, String id, String after, String outcome, Integer limit) {
        BatchLines.Position from = BatchLines.Position.parse(Params.text("after", after));
        BatchLines.Outcome which = BatchLines.Outcome.of(outcome);
        int n = limit == null ? BatchLines.DEFAULT_RESULTS : limit;
        if (n < 1 || n > BatchLines.MAX_RESULTS) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and " + BatchLines.MAX_RESULTS + ".", "limit", "invalid_value");
        }
        return Panache.withSession(() -> owned(project, id)).chain(b -> lines.results(b.id, b.lineKey, from, which, n));
    }

    /** A page of the batch's lines in line order, for GET /v1/batches/{id}/requests. */
    public Uni<ListPage<LineView>> requests(String project, String id, String after, Integer limit, String state, String errorCode) {
        int n = limit == null ? DEFAULT_LINES_PAGE : limit;
        if (n < 1 || n > MAX_LINES_PAGE) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and " + MAX_LINES_PAGE + ".", "limit", "invalid_value");
        }
        Set<LineState> states = EnumSet.noneOf(LineState.class);
        for (String s : list("state", state)) {
            try {
                states.add(LineState.of(s));
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("Invalid 'state': '" + ApiException.clip(s)
                        + "'. Use queued, running, succeeded, failed, expired or cancelled (or several, comma-separated).", "state", "invalid_value");
            }
        }
        List<String> codes = list("error_code", errorCode);
        return Panache.withSession(() -> owned(project, id)).chain(b -> {
            int afterLine = 0;
            if (after != null) {
                Integer line = new Ids.LineIds(b.lineKey).line(after);
                if (line == null) {
                    throw ApiException.invalid("Invalid 'after': '" + ApiException.clip(after) + "' is not the id of one of this batch's lines.",
                            "after", "invalid_value");
                }
                afterLine = line;
            }
            return lines.states(b.id, b.lineKey, afterLine, states, codes, n + 1);
        }).map(rows -> ListPage.of(rows, n, LineView::id));
    }

    /** A comma-separated query value as its items (none when absent); a blank item or a NUL is a 400 naming {@code param}. */
    private static List<String> list(String param, String value) {
        List<String> out = new ArrayList<>();
        if (value == null) {
            return out;
        }
        for (String item : Params.text(param, value).split(",", -1)) {
            String v = item.trim();
            if (v.isEmpty()) {
                throw ApiException.invalid("Invalid '" + param + "': an empty value.", param, "invalid_value");
            }
            out.add(v);
        }
        return out;
    }

    /** The body of POST /v1/batches/{id}/retry (every field optional). */
    @RegisterForReflection
    public record RetryBatch(List<String> error_codes, String job_id, String completion_window, Map<String, Object> metadata) {
    }

    /**
     * A new batch over the failed, expired and cancelled lines of a terminal batch (only those
     * with one of {@code error_codes}, when given): same custom_ids and bodies, same endpoint and
     * model, the retried batch's job and window unless given, its metadata (or the one given) with
     * {@code retry_of} naming it. It starts in_progress at once. 409 when the batch is not
     * terminal or has no such line.
     */
    public Uni<BatchView> retry(String project, String id, RetryBatch body) {
        RetryBatch req = body != null ? body : new RetryBatch(null, null, null, null);
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
        return Panache.withSession(() -> owned(project, id).chain(b -> {
            BatchStatus status = BatchStatus.of(b.status);
            if (!status.terminal()) {
                throw ApiException.conflict("Batch " + b.id + " is " + b.status + "; only a batch that has ended (completed, expired,"
                        + " cancelled) can be retried.", "batch_not_terminal");
            }
            if (status == BatchStatus.FAILED) {
                throw ApiException.conflict("Batch " + b.id + " failed validation and has no lines to retry; fix its input file and create"
                        + " a new batch.", "nothing_to_retry");
            }
            return (req.job_id() == null ? jobs.findById(b.jobId) : ownedJob(project, req.job_id())).map(j -> retryOf(b, j, req, given, codes));
        })).chain(r -> lines.retry(r).replaceWith(r.id()))
                .chain(newId -> Panache.withSession(() -> batches.findById(newId)))
                .map(BatchView::of)
                .invoke(v -> {
                    BatchLog.log(v.id(), project, v.status(), v.request_counts().total(), 0, 0, v.model());
                    changed.fire(new BatchChanged(v.id(), true));
                });
    }

    /** The retry batch's values, checked: its job takes the lines' model, an upstream serves it, its metadata fits. */
    private BatchLines.Retry retryOf(BatchEntity b, JobEntity job, RetryBatch req, Map<String, String> given, List<String> codes) {
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
                Metadata.toJson(metadata), now, time.orderingMicros(), codes);
    }

    /** The metadata key of a retry batch that names the batch it retries. */
    public static final String RETRY_OF = "retry_of";

    private static Map<String, String> orEmpty(Map<String, String> m) {
        return m == null ? Map.of() : m;
    }

    /**
     * A dry run of POST /v1/batches with this body: the same checks of the body, the file and the
     * job (the same HTTP errors), then the file read as its validation would read it, creating
     * nothing (not even the project's default job).
     */
    public Uni<ValidationReport> validate(String project, CreateBatch req) {
        check(req);
        return Panache.withSession(() -> input(project, req.input_file_id())
                .chain(f -> (req.job_id() == null ? jobs.findDefault(project) : ownedJob(project, req.job_id()))
                        .map(j -> new DryRunInput(f.id, f.bytes, j == null ? null : j.model))))
                .chain(in -> dryRun.run(req.endpoint(), in.fileId(), in.bytes(), in.jobModel()));
    }

    /** What a dry run reads: the file, its size, and the model of the batch's job (null: any). */
    private record DryRunInput(String fileId, long bytes, String jobModel) {
    }
}
