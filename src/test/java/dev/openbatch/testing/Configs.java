package dev.openbatch.testing;

import java.time.Duration;
import java.util.Optional;

import dev.openbatch.engine.config.EngineConfig;

/** Engine settings for one test engine: the application's, with some changed. */
public record Configs(EngineConfig base, Duration writeDelay, int writeBatch, Duration lease, int validations, Duration requestTimeout,
        int unwrittenMax) implements EngineConfig {
    public static Configs of(EngineConfig base) {
        return new Configs(base, base.writeDelay(), base.writeBatch(), base.lease(), base.validations(), base.requestTimeout(), base.unwrittenMax());
    }

    /** Results wait this long in memory before they are written (to crash between answer and write). */
    public Configs holdingResults(Duration delay) {
        return new Configs(base, delay, 1_000_000, lease, validations, requestTimeout, unwrittenMax);
    }

    /** Answers that may wait to be written beyond the upstream's slots. */
    public Configs unwritten(int max) {
        return new Configs(base, writeDelay, writeBatch, lease, validations, requestTimeout, max);
    }

    /** Another lease (and so heartbeat period, lease / 3). */
    public Configs withLease(Duration lease) {
        return new Configs(base, writeDelay, writeBatch, lease, validations, requestTimeout, unwrittenMax);
    }

    /** Validations at once in this engine. */
    public Configs validating(int n) {
        return new Configs(base, writeDelay, writeBatch, lease, n, requestTimeout, unwrittenMax);
    }

    /** Another timeout for one upstream answer. */
    public Configs withRequestTimeout(Duration timeout) {
        return new Configs(base, writeDelay, writeBatch, lease, validations, timeout, unwrittenMax);
    }

    @Override public boolean enabled() { return true; }
    @Override public Optional<String> nodeId() { return base.nodeId(); }
    @Override public Duration tick() { return base.tick(); }
    @Override public int maxResponseBytes() { return base.maxResponseBytes(); }
    @Override public int maxAttempts() { return base.maxAttempts(); }
    @Override public Duration backoffMin() { return base.backoffMin(); }
    @Override public Duration backoffMax() { return base.backoffMax(); }
    @Override public Duration retryAfterMax() { return base.retryAfterMax(); }
    @Override public int writers() { return base.writers(); }
    @Override public Duration shutdownGrace() { return base.shutdownGrace(); }
}
