package dev.openbatch.api;

import java.time.Duration;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

@ConfigMapping(prefix = "openbatch.limits")
public interface LimitsConfig {
    /**
     * Largest file accepted by POST /v1/files, in bytes (2 GiB); larger uploads get 413. An upload
     * is stored as it arrives, in flat memory, whatever its size.
     */
    @WithDefault("2147483648")
    long maxUploadBytes();

    /**
     * Uploads this process stores at once (each holds a few MiB of memory while it is read and
     * written; a database connection only while one of its short writes runs); the next waits,
     * reading nothing, until one ends or {@link #uploadSlotWait()} has passed.
     */
    @WithDefault("8")
    int concurrentUploads();

    /**
     * Longest wait of an upload for one of the {@link #concurrentUploads()} slots; then it gets
     * 503 {@code upload_slots_busy} (its body unread) and the connection is closed.
     */
    @WithDefault("60s")
    Duration uploadSlotWait();

    /**
     * Longest time an upload's body may take, from the moment it has its slot to its last byte;
     * a longer one is cut with 408 {@code upload_deadline_exceeded} and nothing of it is kept.
     * 30 minutes let a 2 GB file through a link of about 10 Mbit/s (200 MB through 1 Mbit/s).
     */
    @WithDefault("30m")
    Duration uploadDeadline();

    /**
     * Fewest bytes per second an upload's body must arrive at, over each {@link #uploadRateWindow()}
     * (the time the server is not itself holding the body back counts; 0: no minimum); a slower one
     * is cut with 408 {@code upload_too_slow} and nothing of it is kept. 16 KiB/s is a trickle no
     * working link falls to for that long.
     */
    @WithDefault("16384")
    long uploadMinBytesPerSecond();

    /**
     * The time over which an upload's rate is measured: the first check is one window after the
     * body starts to flow (a grace for a slow start), then the rate of the last window counts.
     */
    @WithDefault("30s")
    Duration uploadRateWindow();

    /** Largest request body other than a file upload, in bytes; larger bodies get 413. */
    @WithDefault("1048576")
    long maxRequestBytes();

    /** Largest input file a batch may read, in bytes (2 GiB). */
    @WithDefault("2147483648")
    long maxBatchFileBytes();

    /**
     * Most lines a batch input file may have. Validation keeps eight bytes per line in memory (the
     * custom_ids' fingerprints, for the duplicate check): 16 MiB at a million lines.
     */
    @WithDefault("1000000")
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
