package dev.openbatch.testing;

import java.util.Optional;

import dev.openbatch.upstream.QueueGauge;
import dev.openbatch.upstream.UpstreamsConfig;

/** One upstream's configuration for tests that build an {@code HttpUpstream} by hand: fixed, any model, one line, unless told. */
public record TestServer(String url, String models, int maxConcurrency, boolean adaptive, boolean overflow, Optional<String> healthUrl,
        Optional<Integer> requestPriority) implements UpstreamsConfig.Server {

    public static TestServer of(String url) {
        return new TestServer(url, "*", 1, false, false, Optional.empty(), Optional.empty());
    }

    public TestServer models(String m) {
        return new TestServer(url, m, maxConcurrency, adaptive, overflow, healthUrl, requestPriority);
    }

    public TestServer maxConcurrency(int n) {
        return new TestServer(url, models, n, adaptive, overflow, healthUrl, requestPriority);
    }

    public TestServer overflow(boolean o) {
        return new TestServer(url, models, maxConcurrency, adaptive, o, healthUrl, requestPriority);
    }

    public TestServer healthUrl(String h) {
        return new TestServer(url, models, maxConcurrency, adaptive, overflow, Optional.ofNullable(h), requestPriority);
    }

    @Override
    public Optional<String> apiKey() { return Optional.empty(); }

    @Override
    public Optional<String> metricsUrl() { return Optional.empty(); }

    @Override
    public String queueMetric() { return QueueGauge.VLLM_WAITING; }

    @Override
    public Optional<String> queueMetricModel() { return Optional.empty(); }

    @Override
    public String runningMetric() { return QueueGauge.VLLM_RUNNING; }

    @Override
    public java.time.Duration metricsInterval() { return java.time.Duration.ofMillis(100); }

    @Override
    public int adaptiveInitial() { return 4; }

    @Override
    public int freeSlots() { return 1; }
}
