package dev.openbatch.validation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.LimitsConfig;
import dev.openbatch.validation.ValidationReport;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import dev.openbatch.store.FileStore;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * {@code POST /v1/batches/validate}: reads an input file as a batch's validation would, with the
 * same {@link Validation} and the same limits, and says what it would find, inserting nothing.
 * One chunk at a time (the validation's memory: a chunk and at most one line), on a worker
 * thread; at most {@code openbatch.limits.dry-runs} at once in this process.
 */
@ApplicationScoped
public class DryRun {
    private final FileStore files;
    private final LimitsConfig limits;
    private final Upstreams upstreams;
    private final AtomicInteger running = new AtomicInteger();

    public DryRun(FileStore files, LimitsConfig limits, Upstreams upstreams) {
        this.files = files;
        this.limits = limits;
        this.upstreams = upstreams;
    }

    /**
     * The report on the file {@code fileId} ({@code fileBytes} its size) read as a batch for
     * {@code endpoint} of a job for {@code jobModel} (null: any model).
     */
    public Uni<ValidationReport> run(String endpoint, String fileId, long fileBytes, String jobModel) {
        if (running.incrementAndGet() > limits.dryRuns()) {
            running.decrementAndGet();
            throw new ApiException(429, "requests", "Too many dry runs at once on this server (openbatch.limits.dry-runs = "
                    + limits.dryRuns() + "); try again in a moment.", null, "rate_limit_exceeded");
        }
        List<BatchError> fileErrors = Validation.fileErrors(fileId, fileBytes, limits);
        Uni<ValidationReport> report = !fileErrors.isEmpty()
                ? Uni.createFrom().item(report(endpoint, fileId, 0, null, null, Map.of(), fileErrors))
                : read(endpoint, fileId, jobModel);
        return report.eventually(running::decrementAndGet);
    }

    private Uni<ValidationReport> read(String endpoint, String fileId, String jobModel) {
        Validation v = Validation.dryRun(endpoint, limits);
        return files.chunkCount(fileId)
                .chain(chunks -> scan(fileId, v, 0, chunks))
                .chain(whole -> {
                    if (!whole) { // deleted while it was read
                        return Uni.createFrom().item(report(endpoint, fileId, 0, null, null, Map.of(),
                                Validation.fileErrors(fileId, null, limits)));
                    }
                    return Uni.createFrom().item(() -> {
                        v.finish();
                        Validation.Verdict verdict = v.verdict(jobModel, upstreams);
                        return report(endpoint, fileId, v.requests(), verdict.model(), verdict.upstream(), v.models(), verdict.errors());
                    }).runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
                });
    }

    /** Feeds chunks {@code seq…} to the validation, one at a time, until the verdict cannot change; false when a chunk was gone. */
    private Uni<Boolean> scan(String fileId, Validation v, int seq, int chunks) {
        if (seq >= chunks || v.done()) {
            return Uni.createFrom().item(true);
        }
        return files.chunk(fileId, seq)
                .emitOn(Infrastructure.getDefaultWorkerPool())
                .chain(chunk -> {
                    if (chunk == null) {
                        return Uni.createFrom().item(false);
                    }
                    v.feed(chunk);
                    return scan(fileId, v, seq + 1, chunks);
                });
    }

    private ValidationReport report(String endpoint, String fileId, int lines, String model, String upstream, Map<String, Integer> models,
            List<BatchError> errors) {
        List<ValidationReport.ModelLines> perModel = new ArrayList<>(models.size());
        models.forEach((m, n) -> perModel.add(new ValidationReport.ModelLines(m, n, upstreams.forModel(m).map(Upstream::name).orElse(null))));
        return new ValidationReport("batch.validation", errors.isEmpty(), endpoint, fileId, lines, model, upstream, perModel,
                errors.isEmpty() ? null : new Errors("list", errors));
    }
}
