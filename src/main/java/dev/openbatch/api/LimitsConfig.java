package dev.openbatch.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

@ConfigMapping(prefix = "openbatch.limits")
public interface LimitsConfig {
    /** Largest file accepted by POST /v1/files, in bytes; larger uploads get 413. */
    @WithDefault("536870912")
    long maxUploadBytes();

    /**
     * Uploads this process stores at once. Each holds one database connection (its bytes go in
     * one transaction, as they arrive); the next waits, reading nothing, until one ends.
     */
    @WithDefault("8")
    int concurrentUploads();

    /** Largest request body other than a file upload, in bytes; larger bodies get 413. */
    @WithDefault("1048576")
    long maxRequestBytes();

    /** Largest input file a batch may read, in bytes. */
    @WithDefault("209715200")
    long maxBatchFileBytes();

    /** Most lines a batch input file may have. */
    @WithDefault("50000")
    int maxBatchLines();

    /**
     * Longest input line, in bytes without its line break; a longer line fails the batch's
     * validation ({@code line_too_long}). Validation holds about this much of one line in memory.
     */
    @WithDefault("16777216")
    int maxLineBytes();

    /** Most validation errors reported on a failed batch. */
    @WithDefault("100")
    int maxReportedErrors();

    /**
     * Dry runs ({@code POST /v1/batches/validate}) reading a file at once in this process; one more
     * is answered 429. Each reads its file as a validation does (a chunk and a line in memory).
     */
    @WithDefault("2")
    int dryRuns();
}
