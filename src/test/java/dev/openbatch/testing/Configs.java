package dev.openbatch.testing;

import java.time.Duration;
import java.util.Optional;

import dev.openbatch.engine.EngineConfig;

/** Engine settings for one test engine: the application's, with some changed. */
public record Configs(EngineConfig base, Duration writeDelay, int writeBatch) implements EngineConfig {
    public static Configs of(EngineConfig base) {
        return new Configs(base, base.writeDelay(), base.writeBatch());
    }

    /** Results wait this long in memory before they are written (to crash between answer and write). */
    public Configs holdingResults(Duration delay) {
        return new Configs(base, delay, 1_000_000);
    }

    @Override public boolean enabled() { return true; }
    @Override public Optional<String> nodeId() { return base.nodeId(); }
    @Override public Duration lease() { return base.lease(); }
    @Override public Duration tick() { return base.tick(); }
    @Override public Duration requestTimeout() { return base.requestTimeout(); }
    @Override public int maxAttempts() { return base.maxAttempts(); }
    @Override public Duration backoffMin() { return base.backoffMin(); }
    @Override public Duration backoffMax() { return base.backoffMax(); }
    @Override public int writeBatch() { return writeBatch; }
    @Override public Duration writeDelay() { return writeDelay; }
    @Override public Duration shutdownGrace() { return base.shutdownGrace(); }
}
