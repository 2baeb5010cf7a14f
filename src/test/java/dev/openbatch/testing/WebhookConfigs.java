package dev.openbatch.testing;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import dev.openbatch.webhooks.WebhooksConfig;

/** Webhook settings for one test engine: the application's, with some changed. */
public record WebhookConfigs(WebhooksConfig base, Duration timeout, int maxConcurrency, int maxConcurrencyPerProject,
        boolean allowLoopbackTargets, Optional<String> secretKey, Optional<List<String>> previousSecretKeys) implements WebhooksConfig {
    public static WebhookConfigs of(WebhooksConfig base) {
        return new WebhookConfigs(base, base.timeout(), base.maxConcurrency(), base.maxConcurrencyPerProject(), base.allowLoopbackTargets(),
                base.secretKey(), base.previousSecretKeys());
    }

    /** Other keys for the signing secrets: {@code current} seals (null: none), it and {@code previous} open. */
    public WebhookConfigs withKeys(String current, String... previous) {
        return new WebhookConfigs(base, timeout, maxConcurrency, maxConcurrencyPerProject, allowLoopbackTargets, Optional.ofNullable(current),
                Optional.of(List.of(previous)));
    }

    /** Another timeout for one attempt (and so a longer claim). */
    public WebhookConfigs withTimeout(Duration t) {
        return new WebhookConfigs(base, t, maxConcurrency, maxConcurrencyPerProject, allowLoopbackTargets, secretKey, previousSecretKeys);
    }

    /** Deliveries in flight from this engine, all projects and per project; 0 makes an engine that never delivers. */
    public WebhookConfigs withConcurrency(int all, int perProject) {
        return new WebhookConfigs(base, timeout, all, perProject, allowLoopbackTargets, secretKey, previousSecretKeys);
    }

    /** Whether loopback receivers (the test's) may be reached from this engine. */
    public WebhookConfigs withLoopback(boolean allowed) {
        return new WebhookConfigs(base, timeout, maxConcurrency, maxConcurrencyPerProject, allowed, secretKey, previousSecretKeys);
    }

    @Override public Duration retryFor() { return base.retryFor(); }
    @Override public Duration backoffMin() { return base.backoffMin(); }
    @Override public Duration backoffMax() { return base.backoffMax(); }
    @Override public Duration poll() { return base.poll(); }
    @Override public boolean allowPrivateTargets() { return base.allowPrivateTargets(); }
    @Override public Duration lookupTimeout() { return base.lookupTimeout(); }
    @Override public int urlChecksPerMinute() { return base.urlChecksPerMinute(); }
}
