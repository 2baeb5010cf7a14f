package dev.openbatch.upstream;

import java.time.Duration;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * How long one upstream answer may take and how large it may be: the keys
 * {@code openbatch.engine.request-timeout} and {@code openbatch.engine.max-response-bytes}, read here
 * so that the upstreams need nothing of the engine. The keys keep their place under
 * {@code openbatch.engine}, where the engine's own configuration reads them too (its dispatcher aborts
 * lines in flight past the timeout; its retry policy names the cap); the defaults are the same in
 * both, and {@code UpstreamLimitsTest} keeps them so.
 */
@ConfigMapping(prefix = "openbatch.engine")
public interface UpstreamLimits {
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
}
