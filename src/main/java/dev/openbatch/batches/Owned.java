package dev.openbatch.batches;

import dev.openbatch.api.ApiException;
import dev.openbatch.files.FileEntity;
import dev.openbatch.files.FileRepository;
import dev.openbatch.jobs.JobEntity;
import dev.openbatch.jobs.JobRepository;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * What a call on {@code /v1/batches} names of the project's own, looked up the same way by every
 * service of the package: a batch, a job, the input file. One that is not the project's is a 404,
 * as if it did not exist. Each read runs in the caller's session or transaction.
 */
@ApplicationScoped
class Owned {
    private final BatchRepository batches;
    private final FileRepository files;
    private final JobRepository jobs;

    Owned(BatchRepository batches, FileRepository files, JobRepository jobs) {
        this.batches = batches;
        this.files = files;
        this.jobs = jobs;
    }

    /** The project's batch {@code id}; 404 when it is not one. */
    Uni<BatchEntity> batch(String project, String id) {
        return batches.findOwned(project, id).onItem().ifNull().failWith(() -> ApiException.notFound("batch", id));
    }

    /** The project's job {@code jobId}; 404 when it is not one. */
    Uni<JobEntity> job(String project, String jobId) {
        return jobs.findOwned(project, jobId).onItem().ifNull().failWith(() -> ApiException.notFound("job", jobId));
    }

    /** The job a new batch joins: the one named, or the project's default job (null when it has none yet). */
    Uni<JobEntity> jobOrDefault(String project, String jobId) {
        return jobId == null ? jobs.findDefault(project) : job(project, jobId);
    }

    /**
     * The project's file that a batch would read: 404 when it is not one, 400 when its purpose is
     * not {@code batch}. With {@code forShare} (in the transaction that inserts the batch) its row
     * is read {@code for share}: a DELETE of the file waits for that transaction, then sees the batch.
     */
    Uni<FileEntity> input(String project, String fileId, boolean forShare) {
        return (forShare ? files.findOwnedForShare(project, fileId) : files.findOwned(project, fileId))
                .onItem().ifNull().failWith(() -> ApiException.notFound("file", fileId))
                .invoke(f -> {
                    if (!"batch".equals(f.purpose)) {
                        throw ApiException.invalid("File " + f.id + " has purpose '" + f.purpose
                                + "'; only files uploaded with purpose 'batch' can start a batch.", "input_file_id", "invalid_file_purpose");
                    }
                });
    }
}
