package dev.openbatch.webhooks;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** {@code openbatch.webhooks.*}: how events reach the projects' endpoints. */
@ConfigMapping(prefix = "openbatch.webhooks")
public interface WebhooksConfig {
    /** Longest one delivery attempt may take, from name lookup and connect to the answer's status; then it counts as timed out. */
    @WithDefault("10s")
    Duration timeout();

    /** How long an event is retried after it was made; an attempt that fails after this marks the delivery failed. */
    @WithDefault("24h")
    Duration retryFor();

    /** First delay between attempts; doubles each attempt, with jitter. */
    @WithDefault("5s")
    Duration backoffMin();

    /** Longest delay between two attempts. */
    @WithDefault("1h")
    Duration backoffMax();

    /** Deliveries in flight at once from this process, every project together. */
    @WithDefault("64")
    int maxConcurrency();

    /** Deliveries of one project in flight at once from this process, so that slow receivers of one project never hold up another's. */
    @WithDefault("8")
    int maxConcurrencyPerProject();

    /** How often each process looks for deliveries that are due (and at once when it ends a batch). */
    @WithDefault("1s")
    Duration poll();

    /**
     * Whether endpoints may be private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7
     * ...). Loopback, link-local (169.254.169.254 among them), cloud metadata, unspecified and
     * multicast addresses are refused whatever this says.
     */
    @WithDefault("false")
    boolean allowPrivateTargets();

    /**
     * Whether endpoints may be loopback addresses (127/8, ::1): for a receiver on the same machine
     * (tests, a single-host setup). Never on a host shared with other tenants' services.
     */
    @WithDefault("false")
    boolean allowLoopbackTargets();

    /**
     * Longest a name lookup of a webhook URL may take when an endpoint is made or changed; past it
     * the URL is refused as one that does not resolve. Lookups run on their own small pool
     * ({@code openbatch-webhook-lookups}), never on the workers uploads and validation use.
     */
    @WithDefault("5s")
    Duration lookupTimeout();

    /**
     * Webhook URLs a project may have checked (create, or update with a {@code url}) per minute, in
     * each process: each check is a name lookup, and a tenant must not probe names at will.
     */
    @WithDefault("30")
    int urlChecksPerMinute();

    /**
     * The key that encrypts the endpoints' signing secrets in the database (AES-256-GCM): the base64
     * of 32 random bytes ({@code openssl rand -base64 32}). Without it, endpoints cannot be created
     * nor their secrets rotated (the API answers 503), since a new secret would be kept in clear;
     * the dev and test profiles set a fixed one. Losing it loses every sealed secret: endpoints
     * must then be made again.
     */
    Optional<String> secretKey();

    /**
     * Keys that decrypt, but no longer encrypt, signing secrets: the keys {@code secret-key} had
     * before. The engines re-encrypt what they find under one of them, or in clear, under
     * {@code secret-key}, at start and every minute; once
     * {@code openbatch_webhook_secrets_not_current} is 0 (every state), an old key can go.
     */
    Optional<List<String>> previousSecretKeys();
}
