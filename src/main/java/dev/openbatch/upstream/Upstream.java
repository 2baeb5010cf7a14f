package dev.openbatch.upstream;

import java.util.Set;

import io.smallrye.mutiny.Uni;

/**
 * Something that answers request lines: a remote inference server or the built-in engine.
 * The engine treats all of them alike: same claims, counts, retries and files.
 */
public interface Upstream {
    /** The configured name (the key under {@code openbatch.upstreams}, or {@code local}). */
    String name();

    /** The models it serves; {@code *} means any model. */
    Set<String> models();

    /** How many lines may be in flight to it at once. */
    int maxConcurrency();

    /**
     * Sends one line: {@code path} is the line's {@code url} (for example {@code /v1/embeddings}) and
     * {@code body} its {@code body}, as the client wrote it. Completes with whatever HTTP answer came
     * back (any status); fails only when no answer came (connection refused or reset, timeout), or
     * with {@link ResponseTooLargeException} when the answer was over {@code openbatch.engine.max-response-bytes}.
     */
    Uni<UpstreamResponse> send(String path, String body);

    default boolean serves(String model) {
        return models().contains(model) || models().contains("*");
    }
}
