package dev.openbatch.api;

import java.time.Duration;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * {@code openbatch.retention.*}: how long what clients leave behind is kept. Each expiry is fixed
 * when the thing is made or ends (a file's {@code expires_at} at upload, a batch's data expiry at
 * its terminal transition), from the settings of that moment; the housekeeping jobs then delete
 * what is due, in small transactions. Usage and cost history ({@code usage_hourly}) is never deleted.
 */
@ConfigMapping(prefix = "openbatch.retention")
public interface RetentionConfig {
    /**
     * How long a batch's lines (request bodies, answers, states) are kept after it ended when it
     * has no {@code output_expires_after} (with one, they go when its output file expires). The
     * batch object stays; its results and lines answer 410 and a retry 409 afterwards.
     */
    @WithDefault("30d")
    Duration batchData();

    /**
     * The expiry of a file uploaded without {@code expires_after}, and of the output and error
     * files of a batch without {@code output_expires_after}: its {@code expires_at} is its
     * creation plus this (OpenAI's batch files expire after 30 days).
     */
    @WithDefault("30d")
    Duration files();

    /** How long webhook events and their deliveries are kept after the event (a delivery still pending is kept). */
    @WithDefault("7d")
    Duration webhooks();

    /** How often each engine process looks for what is due. */
    @WithDefault("1m")
    Duration interval();

    /** Rows deleted per transaction: each is short, and the engine's statements never wait long behind one. */
    @WithDefault("5000")
    int rowsPerTransaction();

    /**
     * When an index of a table that retention empties is rebuilt ({@code REINDEX INDEX
     * CONCURRENTLY}, one at a time in the cluster): when it is this many times the size its
     * entries need. Plain {@code VACUUM} leaves an emptied index at its peak size; a rebuild gives
     * the space back. High enough that the churn of a running batch (each line is updated as it
     * goes, and vacuum frees the old entries for reuse) does not set it off: an index that
     * retention emptied is hundreds of times what it needs. 0 turns rebuilds off.
     */
    @WithDefault("4")
    double reindexBloat();

    /**
     * Indexes (and a batches table) smaller than this are never rebuilt, whatever their bloat. A
     * rebuild of this much takes milliseconds.
     */
    @WithDefault("256K")
    io.quarkus.runtime.configuration.MemorySize reindexMinSize();
}
