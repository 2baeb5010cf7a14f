package dev.openbatch.webhooks;

import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.jboss.logging.Logger;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.api.Time;
import dev.openbatch.quotas.Quota;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.store.DeliveryStore;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.core.WorkerExecutor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * A project's webhook endpoints: made, read, changed, deleted, their secret rotated, and their
 * deliveries listed. A URL is checked when it is set (its host resolved, every address allowed by
 * {@link Targets}), and again at every delivery. A secret is made here and kept sealed
 * ({@link SecretBox}): without {@code openbatch.webhooks.secret-key} no endpoint is made and no
 * secret rotated, rather than keeping a new one in clear.
 */
@ApplicationScoped
public class WebhookService {
    private static final Logger LOG = Logger.getLogger(WebhookService.class);
    /** How long the previous secret still signs after a rotation. */
    public static final long ROTATION_OVERLAP_SECONDS = 24 * 3600;
    private static final int MAX_NAME = 256;

    private final WebhookEndpointRepository endpoints;
    private final DeliveryStore deliveries;
    private final Targets targets;
    private final Time time;
    private final Quotas quotas;
    /** Name lookups for URL checks: the deliveries' own bounded pool, not the workers uploads use. */
    private final WorkerExecutor lookups;
    private final java.time.Duration lookupTimeout;
    private final PerMinute urlChecks;
    private final SecretBox secrets;

    public WebhookService(WebhookEndpointRepository endpoints, DeliveryStore deliveries, WebhooksConfig config, Time time, Vertx vertx,
            Quotas quotas) {
        this.quotas = quotas;
        this.endpoints = endpoints;
        this.deliveries = deliveries;
        this.targets = Targets.of(config);
        this.time = time;
        this.lookups = vertx.createSharedWorkerExecutor(WebhookSender.LOOKUP_POOL, WebhookSender.lookupThreads(config.maxConcurrency()));
        this.lookupTimeout = config.lookupTimeout();
        this.urlChecks = new PerMinute(Math.max(1, config.urlChecksPerMinute()));
        this.secrets = SecretBox.of(config);
    }

    /** Made at start, so that a malformed key stops the start; says so when there is no key. */
    void checkKeys(@Observes StartupEvent ev) {
        if (!secrets.canSeal()) {
            LOG.warn("openbatch.webhooks.secret-key is not set: webhook endpoints cannot be created nor their secrets rotated"
                    + " (503 webhook_secret_key_missing), since their signing secrets are kept encrypted with it. Set it"
                    + " (OPENBATCH_WEBHOOKS_SECRET_KEY) to the output of `openssl rand -base64 32`, the same on every replica,"
                    + " and keep it: the secrets cannot be read without it.");
        }
    }

    /**
     * The body of create and update. {@code event_types} and {@code name} are OpenAI's names;
     * {@code events} and {@code description} are accepted for them.
     */
    @RegisterForReflection
    public record EndpointParams(String url, List<String> event_types, List<String> events, String name, String description) {
    }

    public Uni<WebhookEndpointView> create(String project, EndpointParams req) {
        if (req == null) {
            throw ApiException.invalid("The request body must be a JSON object.", null, "invalid_json");
        }
        if (req.url() == null) {
            throw ApiException.invalid("Missing required parameter: 'url'.", "url", "missing_required_parameter");
        }
        requireKey();
        List<String> types = types(req);
        String name = name(req);
        String secret = Signatures.newSecret();
        // each event is one delivery per endpoint: a project has at most its quota of them (counted under its quota lock)
        return checkedUrl(project, req.url()).chain(url -> quotas.prepare(project, Quota.WEBHOOK_ENDPOINTS).chain(limit -> Panache.withTransaction(
                () -> quotas.admit(project, Quota.WEBHOOK_ENDPOINTS, limit, () -> endpoints.countOwned(project)).chain(() -> {
            long now = time.seconds();
            WebhookEndpointEntity e = new WebhookEndpointEntity();
            e.id = Ids.webhook();
            e.project = project;
            e.url = url;
            e.name = name == null ? e.id : name;
            e.eventTypes = String.join(",", types == null ? EventType.ALL : types);
            e.secret = secrets.seal(e.id, secret);
            e.secretHint = Signatures.hint(secret);
            e.createdAt = now;
            e.createdUs = time.orderingMicros();
            e.updatedAt = now;
            return endpoints.persist(e).map(made -> made.viewWithSecret(secret));
        }))));
    }

    public Uni<WebhookEndpointView> get(String project, String id) {
        return Panache.withSession(() -> owned(project, id)).map(WebhookEndpointEntity::view);
    }

    public Uni<ListPage<WebhookEndpointView>> list(String project, Integer limit, String after) {
        int n = limit(limit);
        return Panache.withSession(() -> {
            Uni<WebhookEndpointEntity> cursor = after == null ? Uni.createFrom().nullItem()
                    : endpoints.findOwned(project, after).onItem().ifNull().failWith(() -> ApiException.invalid(
                            "Invalid 'after': '" + ApiException.clip(after) + "' is not one of your webhook endpoints.", "after", "invalid_value"));
            return cursor.chain(c -> endpoints.page(project, c, n + 1));
        }).map(rows -> ListPage.of(rows.stream().map(WebhookEndpointEntity::view).toList(), n, WebhookEndpointView::id));
    }

    /** Changes the URL, the event types or the name (what the body names); deliveries already made keep going to the new URL. */
    public Uni<WebhookEndpointView> update(String project, String id, EndpointParams req) {
        if (req == null) {
            throw ApiException.invalid("The request body must be a JSON object.", null, "invalid_json");
        }
        List<String> types = types(req);
        String name = name(req);
        Uni<String> url = req.url() == null ? Uni.createFrom().nullItem() : checkedUrl(project, req.url());
        return url.chain(u -> Panache.withTransaction(() -> owned(project, id).invoke(e -> {
            boolean changed = false;
            if (u != null && !u.equals(e.url)) {
                e.url = u;
                changed = true;
            }
            if (types != null && !String.join(",", types).equals(e.eventTypes)) {
                e.eventTypes = String.join(",", types);
                changed = true;
            }
            if (name != null && !name.equals(e.name)) {
                e.name = name;
                changed = true;
            }
            if (changed) {
                e.updatedAt = time.seconds();
            }
        }))).map(WebhookEndpointEntity::view);
    }

    /** Deletes the endpoint with its deliveries: nothing more is sent to it. */
    public Uni<Void> delete(String project, String id) {
        return Panache.withTransaction(() -> owned(project, id).chain(endpoints::delete));
    }

    /**
     * A new secret, shown in full in this answer only. The previous one goes on signing beside it
     * for 24 hours (each delivery then carries both signatures), so receivers can switch over;
     * it is sealed under the current key too, if it was not yet.
     */
    public Uni<WebhookEndpointView> rotateSecret(String project, String id) {
        requireKey();
        String secret = Signatures.newSecret();
        return Panache.withTransaction(() -> owned(project, id).invoke(e -> {
            long now = time.seconds();
            e.previousSecret = resealed(e);
            e.previousSecretUntil = now + ROTATION_OVERLAP_SECONDS;
            e.secret = secrets.seal(e.id, secret);
            e.secretHint = Signatures.hint(secret);
            e.updatedAt = now;
        })).map(e -> e.viewWithSecret(secret));
    }

    /** 503 when this process has no key to seal a new secret with. */
    private void requireKey() {
        if (!secrets.canSeal()) {
            throw new ApiException(503, "server_error", "Webhook signing secrets are kept encrypted, and this server has no key"
                    + " for them: its operator must set openbatch.webhooks.secret-key (OPENBATCH_WEBHOOKS_SECRET_KEY) to the base64"
                    + " of 32 random bytes, e.g. the output of `openssl rand -base64 32`.", null, "webhook_secret_key_missing");
        }
    }

    /** The endpoint's current secret sealed under the current key, to sign beside the new one; a 500 when no key opens it. */
    private String resealed(WebhookEndpointEntity e) {
        try {
            return secrets.reseal(e.id, e.secret);
        } catch (SecretBox.Unreadable u) {
            LOG.warnf("webhook endpoint %s: its secret cannot be rotated: %s", e.id, u.getMessage());
            throw new ApiException(500, "server_error", "This endpoint's signing secret cannot be decrypted with the server's keys,"
                    + " so it cannot go on signing beside a new one. The operator must add the key it was encrypted with to"
                    + " openbatch.webhooks.previous-secret-keys; or delete the endpoint and create it again.", null,
                    "webhook_secret_unreadable");
        }
    }

    /** The endpoint's deliveries, newest first; {@code after} is the {@code event_id} of one of them. */
    public Uni<ListPage<WebhookDeliveryView>> deliveries(String project, String id, Integer limit, String after) {
        int n = limit(limit);
        Params.text("after", after);
        return Panache.withSession(() -> owned(project, id))
                .chain(e -> after == null ? Uni.createFrom().voidItem() : deliveries.exists(e.id, after).invoke(found -> {
                    if (!found) {
                        throw ApiException.invalid("Invalid 'after': '" + ApiException.clip(after)
                                + "' is not the event_id of one of this endpoint's deliveries.", "after", "invalid_value");
                    }
                }).replaceWithVoid())
                .chain(() -> deliveries.page(id, after, n + 1))
                .map(rows -> ListPage.of(rows.stream().map(WebhookDeliveryView::of).toList(), n, WebhookDeliveryView::event_id));
    }

    private Uni<WebhookEndpointEntity> owned(String project, String id) {
        Params.text("id", id);
        return endpoints.findOwned(project, id).onItem().ifNull().failWith(() -> ApiException.notFound("webhook endpoint", id));
    }

    private static int limit(Integer limit) {
        int n = limit == null ? 20 : limit;
        if (n < 1 || n > 100) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and 100.", "limit", "invalid_value");
        }
        return n;
    }

    /** The event types asked for (validated, without repeats), or null when the body names none. */
    private static List<String> types(EndpointParams req) {
        List<String> a = req.event_types();
        List<String> b = req.events();
        if (a != null && b != null && !a.equals(b)) {
            throw ApiException.invalid("'event_types' and 'events' name the same thing; give one of them.", "event_types", "invalid_value");
        }
        List<String> asked = a != null ? a : b;
        if (asked == null) {
            return null;
        }
        String param = a != null ? "event_types" : "events";
        if (asked.isEmpty()) {
            throw ApiException.invalid("'" + param + "' must name at least one event type: " + String.join(", ", EventType.ALL) + ".",
                    param, "invalid_value");
        }
        Set<String> out = new LinkedHashSet<>();
        for (String t : asked) {
            if (t == null || EventType.byWire(t) == null) {
                throw ApiException.invalid("Invalid event type in '" + param + "': '" + ApiException.clip(t) + "'. openbatch sends "
                        + String.join(", ", EventType.ALL) + ".", param, "invalid_value");
            }
            out.add(t);
        }
        return new ArrayList<>(out);
    }

    private static String name(EndpointParams req) {
        String a = req.name();
        String b = req.description();
        if (a != null && b != null && !a.equals(b)) {
            throw ApiException.invalid("'name' and 'description' name the same thing; give one of them.", "name", "invalid_value");
        }
        String name = a != null ? a : b;
        String param = a != null ? "name" : "description";
        Params.text(param, name);
        if (name != null && name.length() > MAX_NAME) {
            throw ApiException.invalid("Invalid '" + param + "': at most " + MAX_NAME + " characters.", param, "invalid_value");
        }
        return name;
    }

    /**
     * The URL as it will be stored, once its form is right and its host resolves to allowed
     * addresses only. The lookup blocks, so it runs on the webhook lookups' own pool, bounded by
     * {@code lookup-timeout}; the answer comes back on the request's context. A project may have
     * {@code url-checks-per-minute} of them checked (429 {@code rate_limit_exceeded} past that).
     */
    private Uni<String> checkedUrl(String project, String url) {
        Params.text("url", url);
        URI uri;
        try {
            uri = Targets.parse(url);
        } catch (Targets.Refused e) {
            throw ApiException.invalid(e.getMessage(), "url", "invalid_url");
        }
        long wait = urlChecks.take(project, time.millis());
        if (wait > 0) {
            throw new ApiException(429, "rate_limit_error", "Too many webhook URL checks: a project may have "
                    + urlChecks.perMinute() + " a minute checked (openbatch.webhooks.url-checks-per-minute). Try again in "
                    + Math.max(1, (wait + 999) / 1000) + " s.", "url", "rate_limit_exceeded");
        }
        return lookups.executeBlocking(Uni.createFrom().item(() -> {
            try {
                targets.resolve(uri);
                return uri.toString();
            } catch (Targets.Refused e) {
                throw ApiException.invalid(e.getMessage(), "url", "invalid_url");
            }
        }), false).ifNoItem().after(lookupTimeout).failWith(() -> ApiException.invalid(Targets.NOT_A_RECEIVER, "url", "invalid_url"));
    }
}
