package dev.openbatch.batches;

import dev.openbatch.quotas.Quota;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.validation.DryRun;
import dev.openbatch.validation.ValidationReport;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * {@code POST /v1/batches/validate}: a dry run of {@code POST /v1/batches} with the same body. The
 * same checks of the body, the file and the job as a create (the same HTTP errors), then the file
 * read as its validation would read it ({@link DryRun}), creating nothing (not even the project's
 * default job). The file is read holding one of the project's dry-run slots ({@link Quota#DRY_RUNS_AT_ONCE}).
 */
@ApplicationScoped
public class DryRunService {
    private final Owned owned;
    private final DryRun dryRun;
    private final Quotas quotas;

    public DryRunService(Owned owned, DryRun dryRun, Quotas quotas) {
        this.quotas = quotas;
        this.owned = owned;
        this.dryRun = dryRun;
    }

    public Uni<ValidationReport> validate(String project, CreateBatch req) {
        CreateBatch.check(req);
        return Panache.withSession(() -> owned.input(project, req.input_file_id(), false)
                .chain(f -> owned.jobOrDefault(project, req.job_id())
                        .map(j -> new DryRunInput(f.id, f.bytes, j == null ? null : j.model))))
                // deferred: a refusal that run() throws (the process's slots are taken) gives the project's slot back too
                .chain(in -> quotas.acquire(project, Quota.DRY_RUNS_AT_ONCE).chain(slot -> Uni.createFrom()
                        .deferred(() -> dryRun.run(req.endpoint(), in.fileId(), in.bytes(), in.jobModel()))
                        .onTermination().call(() -> quotas.release(slot))));
    }

    /** What a dry run reads: the file, its size, and the model of the batch's job (null: any). */
    private record DryRunInput(String fileId, long bytes, String jobModel) {
    }
}
