package dev.openbatch.validation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.LimitsConfig;
import dev.openbatch.store.FileStore;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * {@code POST /v1/batches/validate}: reads an input file as a batch's validation reads a file
 * without a line index, with the same {@link Validation}, the same limits and the same chunk
 * reading ({@link FileValidation}), and says what it would find, inserting nothing. One chunk at a
 * time (the validation's memory: a chunk and at most one line), on a worker thread; at most
 * {@code openbatch.limits.dry-runs} at once in this process.
 */
@ApplicationScoped
public class DryRun {
    private final FileValidation reading;
    private final LimitsConfig limits;
    private final Upstreams upstreams;
    private final AtomicInteger running = new AtomicInteger();

    public DryRun(FileStore files, LimitsConfig limits, Upstreams upstreams) {
        this.reading = new FileValidation(files, limits, upstreams);
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
        return reading.read(fileId, v, lines -> Uni.createFrom().voidItem()).map(whole -> {
            if (!whole) { // deleted while it was read
                return report(endpoint, fileId, 0, null, null, Map.of(), Validation.fileErrors(fileId, null, limits));
            }
            Validation.Verdict verdict = v.verdict(jobModel, upstreams); // on the worker thread that finished the reading
            return report(endpoint, fileId, v.requests(), verdict.model(), verdict.upstream(), v.models(), verdict.errors());
        });
    }

    private ValidationReport report(String endpoint, String fileId, int lines, String model, String upstream, Map<String, Integer> models,
            List<BatchError> errors) {
        List<ValidationReport.ModelLines> perModel = new ArrayList<>(models.size());
        models.forEach((m, n) -> perModel.add(new ValidationReport.ModelLines(m, n, upstreams.forModel(m).map(Upstream::name).orElse(null))));
        return new ValidationReport("batch.validation", errors.isEmpty(), endpoint, fileId, lines, model, upstream, perModel,
                errors.isEmpty() ? null : BatchErrors.of(errors));
    }
}
