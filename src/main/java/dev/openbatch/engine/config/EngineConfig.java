package dev.openbatch.engine.config;

import java.time.Duration;
import java.util.Optional;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** {@code openbatch.engine.*}: how this process runs batches. */
@ConfigMapping(prefix = "openbatch.engine")
public interface EngineConfig {
    /** Whether this process runs batches at all (an API-only replica sets false). */
    @WithDefault("true")
    boolean enabled();

    /** This process's name in claims; defaults to the host name plus a random suffix. */
    Optional<String> nodeId();

    /** How long a claim lasts without renewal; a dead process's lines return to the queue after it. */
    @WithDefault("30s")
    Duration lease();

    /** How often the batch-level loop runs (validation, cancel, expiry, finalization, lease sweep). */
    @WithDefault("250ms")
    Duration tick();

    /** Longest wait for one upstream answer before it counts as a timeout (retryable). */
    @WithDefault("10m")
    Duration requestTimeout();

    /**
     * Largest upstream answer body read, in bytes (after decompression). A larger answer is cut off
     * as soon as it passes this (or at once, when its Content-Length says so) and fails its line,
     * without a retry, with {@code response_too_large}: one answer can never fill the heap.
     */
    @WithDefault("16777216")
    int maxResponseBytes();

    /** Attempts per line for retryable failures (connection errors, timeouts, 408, 429, 5xx). */
    @WithDefault("5")
    int maxAttempts();

    /** First retry delay; doubles each attempt, with jitter. */
    @WithDefault("1s")
    Duration backoffMin();

    /** Longest retry delay of the backoff (a larger Retry-After is honoured, up to retry-after-max). */
    @WithDefault("60s")
    Duration backoffMax();

    /** Longest wait an upstream's Retry-After can ask for; a longer one is cut to this. */
    @WithDefault("15m")
    Duration retryAfterMax();

    /** Most results written in one statement. */
    @WithDefault("500")
    int writeBatch();

    /**
     * Longest a result waits in memory before it is written, so that results go to PostgreSQL in
     * sets (each write costs it about half a millisecond of CPU whatever its size, and takes the
     * batch row's lock to number what it settles). With room for unwritten answers
     * ({@code unwritten-max} above 0, the default) this wait costs the upstream nothing; with
     * {@code unwritten-max} 0 an answer keeps its slot until written, so the wait holds slots too
     * and 2 ms suits better. 0: written as soon as a writer is free (results that come in while
     * one write runs go together in the next).
     */
    @WithDefault("10ms")
    Duration writeDelay();

    /** Result writes in flight at once per upstream (each of up to write-batch results). */
    @WithDefault("1")
    int writers();

    /**
     * Answers per upstream that may wait to be written beyond the upstream's slots. No line is
     * sent while lines in flight plus answers not yet written reach the slots plus this many, so
     * answers held in memory stay bounded when writes fall behind, and after a kill -9 at most the
     * slots plus this many lines per upstream (in flight, or answered but unwritten) are sent
     * again by the survivors. Above 0 (128 by default), an answer frees its slot when it comes and
     * the writer gathers for {@code write-delay} (10 ms) at no cost to the upstream: on two cores
     * that ran a 50 ms upstream's 40,000-line batch at a median 0.84 of a bare client's rate
     * against 0.78 with answers keeping their slots, in half the writes (bench/README, 2026-12-07
     * 23:40). 0: an answer keeps its slot until it is written, so lines sent again after a crash
     * are at most the slots.
     */
    @WithDefault("128")
    int unwrittenMax();

    /** Validations at once in this process (they parse on worker threads); shared fairly between projects. */
    @WithDefault("2")
    int validations();

    /** On shutdown, how long lines in flight may take to finish before they are given back. */
    @WithDefault("30s")
    Duration shutdownGrace();
}
