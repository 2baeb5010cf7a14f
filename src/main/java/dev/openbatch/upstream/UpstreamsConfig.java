package dev.openbatch.upstream;

import java.util.Map;
import java.util.Optional;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithParentName;

/** {@code openbatch.upstreams.<name>.*}: the inference servers lines are sent to. */
@ConfigMapping(prefix = "openbatch.upstreams")
public interface UpstreamsConfig {
    @WithParentName
    Map<String, Server> servers();

    interface Server {
        /** Server root, for example {@code http://127.0.0.1:8000}; the line's {@code url} is appended. */
        String url();

        /** Sent as {@code Authorization: Bearer <api-key>} when set. */
        Optional<String> apiKey();

        /** Comma list of model names this server serves; {@code *} matches any model. */
        @WithDefault("*")
        String models();

        /** Most lines in flight to this server at once. */
        @WithDefault("64")
        int maxConcurrency();

        /**
         * Find the server's capacity: start low, grow while latency holds, shrink on overload
         * (timeouts, 408, 429, 5xx, {@code Retry-After}); {@code max-concurrency}
         * is the ceiling. On by default; off, {@code max-concurrency} lines stay in flight.
         */
        @WithDefault("true")
        boolean adaptive();

        /**
         * Where the adaptive limit starts (never above this process's share of
         * {@code max-concurrency}): it doubles each round trip from there until the first sign of a
         * queue. Lower for a small server shared with interactive users, higher to lose less of the
         * first second.
         */
        @WithDefault("16")
        int adaptiveInitial();

        /**
         * With {@code running-metric}: slots of the server left free for others when batch lines
         * follow its free slots. More keeps interactive latency closer to the server's own; each
         * costs the batch one slot of throughput.
         */
        @WithDefault("1")
        int freeSlots();

        /**
         * The server's Prometheus endpoint, for example {@code http://127.0.0.1:8000/metrics}: with
         * {@code adaptive} on, its waiting queue is read every 500 ms while lines are held and
         * decides the limit while the reads succeed. Unset: latency alone decides.
         */
        Optional<String> metricsUrl();

        /** The gauge at {@code metrics-url} that counts requests waiting (SGLang's: {@code sglang:num_queue_reqs}). */
        @WithDefault(QueueGauge.VLLM_WAITING)
        String queueMetric();

        /**
         * The gauge at {@code metrics-url} that counts requests being served (SGLang's:
         * {@code sglang:num_running_reqs}): with it, batch lines are kept to the server's free slots
         * (its slots learned when a queue shows, less what others have in it). Blank: the waiting
         * queue alone decides.
         */
        @WithDefault(QueueGauge.VLLM_RUNNING)
        String runningMetric();

        /** How often {@code metrics-url} is read while lines are held. */
        @WithDefault("100ms")
        java.time.Duration metricsInterval();

        /** Only the {@code queue-metric} samples of this {@code model_name} label; unset: the sum over all. */
        Optional<String> queueMetricModel();

        /**
         * Put into each request body as {@code "priority": N} (ahead of the line's own keys, so a
         * line that sets {@code priority} itself keeps its value), for servers that schedule by it
         * (vLLM started with {@code --scheduling-policy priority}: a larger value runs later). Unset:
         * bodies go as written.
         */
        Optional<Integer> requestPriority();

        /**
         * Take lines only when a batch would otherwise miss its deadline at its rate so far, or when
         * every other upstream of the model is drained (a hosted server paid per line, kept for need).
         */
        @WithDefault("false")
        boolean overflow();

        /**
         * Checked every 2 s: while it does not answer 2xx, the upstream is drained (sent no lines).
         * Unset: only refused connections drain it, and any HTTP answer to {@code GET <url>} brings it back.
         */
        Optional<String> healthUrl();
    }
}
