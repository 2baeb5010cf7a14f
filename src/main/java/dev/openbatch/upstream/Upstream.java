package dev.openbatch.upstream;

import java.util.Optional;
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

    /** How many lines may be in flight to it at once (from all processes together when it is {@link #shared()}). */
    int maxConcurrency();

    /**
     * Whether every replica sends to the same server, so that {@link #maxConcurrency()} is one cap
     * that the live processes share (an HTTP server: yes). The built-in engine runs inside each
     * process: its cap is each process's own.
     */
    default boolean shared() {
        return true;
    }

    /**
     * Sends one line: {@code path} is the line's {@code url} (for example {@code /v1/embeddings}) and
     * {@code body} its {@code body}, as the client wrote it. Completes with whatever HTTP answer came
     * back (any status); fails only when no answer came (connection refused or reset, timeout), or
     * with {@link ResponseTooLargeException} when the answer was over {@code openbatch.engine.max-response-bytes}.
     */
    Uni<UpstreamResponse> send(String path, String body);

    /**
     * How the dispatcher paces lines to it: a fixed {@link #maxConcurrency()} unless
     * {@link FlowControl#adaptive()} is on. The built-in engine keeps the default, {@link FlowControl#FIXED}.
     */
    default FlowControl flowControl() {
        return FlowControl.FIXED;
    }

    /**
     * {@code openbatch.upstreams.<name>.adaptive}, {@code metrics-url}, {@code queue-metric} and
     * {@code queue-metric-model}: whether the dispatcher looks for the server's capacity (with
     * {@code max-concurrency} as the ceiling) instead of keeping {@code max-concurrency} lines in
     * flight, and where it reads the server's waiting queue when it does.
     *
     * @param adaptive         whether to find the server's capacity; off, nothing of the rest is used
     * @param metricsUrl       the server's Prometheus endpoint, if its waiting queue is to be read
     * @param queueMetric      the gauge that counts the server's waiting requests
     * @param queueMetricModel only that gauge's samples of this {@code model_name}, if set
     * @param runningMetric    the gauge that counts the server's requests being served; blank for none
     * @param readEvery        how often the metrics are read while lines are held
     * @param initial          where the adaptive limit starts
     * @param freeSlots        the server's slots left free for others when lines follow its free slots
     */
    record FlowControl(boolean adaptive, Optional<String> metricsUrl, String queueMetric, Optional<String> queueMetricModel,
            String runningMetric, java.time.Duration readEvery, int initial, int freeSlots) {
        /** A fixed concurrency of {@code max-concurrency}: what every upstream has by default. */
        public static final FlowControl FIXED = new FlowControl(false, Optional.empty(), QueueGauge.VLLM_WAITING, Optional.empty(),
                QueueGauge.VLLM_RUNNING, java.time.Duration.ofMillis(100), 16, 1);
    }

    /**
     * {@code openbatch.upstreams.<name>.overflow}: lines go to it only when a batch would miss its
     * deadline without it, or when no other upstream of the model is live.
     */
    default boolean overflow() {
        return false;
    }

    /** Whether {@link #probe()} is worth asking while the upstream is live too (a {@code health-url} is set). */
    default boolean checksHealth() {
        return false;
    }

    /**
     * Whether the server is up: its {@code health-url} answers 2xx, or without one, it answers
     * {@code GET <url>} with anything at all. Never fails. The built-in engine is always up.
     */
    default Uni<Boolean> probe() {
        return Uni.createFrom().item(true);
    }

    default boolean serves(String model) {
        return models().contains(model) || models().contains("*");
    }
}
