package dev.openbatch.webhooks;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.api.Time;
import dev.openbatch.status.DeliveryState;
import dev.openbatch.store.DeliveryStore;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.core.Context;
import io.vertx.mutiny.core.Vertx;

/**
 * One process's webhook deliveries, on a Vert.x context of their own (never the engine's batch
 * loop or its dispatchers). Each poll (every {@code openbatch.webhooks.poll}, and at once when
 * this process ends a batch or finishes a delivery) reads which projects have deliveries due and
 * claims, project by project (the one served longest ago first), as many as the free slots allow:
 * at most {@code max-concurrency} in flight from this process and {@code max-concurrency-per-project}
 * of one project, so receivers that hang cost their own project's slots only. A claim carries a
 * lease (the attempt's timeout plus the engine's lease) and a fence; each attempt's outcome is
 * written against that fence, so an attempt whose claim lapsed and was taken over changes nothing.
 * A process that dies mid-attempt simply leaves its claims to lapse; another process sends again,
 * with the same {@code webhook-id}. The secrets that sign are opened from their sealed form
 * ({@link SecretBox}) for each attempt; one that cannot be opened (a key missing from this
 * process's configuration, a value altered or copied from another endpoint) sends nothing: the
 * attempt fails with that reason and is retried like any other, so that a fixed configuration
 * delivers what waited.
 */
public final class WebhookDeliverer {
    private static final Logger LOG = Logger.getLogger(WebhookDeliverer.class);

    private final String node;
    private final Context context;
    private final Time time;
    private final WebhooksConfig config;
    private final WebhookMetrics metrics;
    private final DeliveryStore store;
    private final DeliverySchedule schedule;
    private final WebhookSender sender;
    private final SecretBox secrets;
    private final long leaseMillis;

    private final Map<String, Attempt> inFlight = new LinkedHashMap<>();
    private final Map<String, Integer> perProject = new HashMap<>();
    private final Map<String, Long> lastServed = new HashMap<>();
    private final AtomicInteger inFlightCount = new AtomicInteger();
    private boolean started;
    private boolean claiming;
    private boolean again;
    private boolean stopping;
    private boolean halted;

    private static final class Attempt {
        final DeliveryStore.Claimed claimed;
        final long startNanos = System.nanoTime();
        Cancellable request;

        Attempt(DeliveryStore.Claimed claimed) {
            this.claimed = claimed;
        }
    }

    /**
     * @param engineLeaseMillis the engine's lease: a claim lasts one attempt's timeout plus this
     */
    public WebhookDeliverer(String node, Vertx vertx, DeliveryStore store, Time time, WebhooksConfig config, WebhookMetrics metrics,
            long engineLeaseMillis) {
        this.node = node;
        this.context = vertx.getOrCreateContext();
        this.time = time;
        this.config = config;
        this.metrics = metrics;
        this.store = store;
        this.schedule = DeliverySchedule.of(config);
        this.secrets = SecretBox.of(config);
        this.sender = new WebhookSender(vertx.getDelegate(), Targets.of(config), config.timeout(), config.maxConcurrency());
        this.leaseMillis = config.timeout().toMillis() + engineLeaseMillis;
    }

    /** How often the engine's housekeeping calls {@link #poll()}. */
    public long pollMillis() {
        return Math.max(10, config.poll().toMillis());
    }

    /** Deliveries may start (the engine has registered its heartbeat). */
    public void start() {
        context.runOnContext(() -> {
            started = true;
            pollOnContext().subscribe().with(v -> { }, e -> { });
        });
    }

    /** Attempts in flight from this process. */
    public int inFlight() {
        return inFlightCount.get();
    }

    /** Claims and starts the deliveries that are due, as slots allow; completes once the claims are made (not the attempts). */
    public Uni<Void> poll() {
        return onContext(this::pollOnContext);
    }

    /** Asks for a poll now (a batch ended here, so its event is due). */
    public void nudge() {
        context.runOnContext(() -> pollOnContext().subscribe().with(v -> { }, e -> { }));
    }

    /** Reads the backlog for its gauge, and forgets the rotated-out secrets that no longer sign. */
    public Uni<Void> gauge() {
        return store.backlog().invoke(metrics::backlog)
                .chain(() -> store.forgetPreviousSecrets(time.seconds()))
                .replaceWithVoid();
    }

    private Uni<Void> pollOnContext() {
        if (!started || stopping) {
            return Uni.createFrom().voidItem();
        }
        if (claiming) {
            again = true; // a nudge during a poll is not lost
            return Uni.createFrom().voidItem();
        }
        if (inFlight.size() >= config.maxConcurrency()) {
            return Uni.createFrom().voidItem();
        }
        claiming = true;
        again = false;
        long now = time.millis();
        return store.dueProjects(now)
                .emitOn(context::runOnContext)
                .chain(projects -> {
                    List<String> order = new ArrayList<>(projects);
                    order.sort(Comparator.comparingLong(p -> lastServed.getOrDefault(p, 0L)));
                    return Multi.createFrom().iterable(order)
                            .onItem().transformToUniAndConcatenate(p -> Uni.createFrom().deferred(() -> claimFor(p, now)))
                            .collect().last();
                })
                .replaceWithVoid()
                .eventually(() -> {
                    claiming = false;
                    if (again) {
                        nudge();
                    }
                });
    }

    private Uni<Void> claimFor(String project, long now) {
        int room = Math.min(config.maxConcurrency() - inFlight.size(),
                config.maxConcurrencyPerProject() - perProject.getOrDefault(project, 0));
        if (room <= 0 || stopping) {
            return Uni.createFrom().voidItem();
        }
        return store.claim(project, node, now, leaseMillis, room)
                .emitOn(context::runOnContext)
                .call(claimed -> {
                    lastServed.put(project, time.millis());
                    if (halted) {
                        return Uni.createFrom().voidItem(); // killed meanwhile: these claims lapse like the others
                    }
                    if (stopping) { // stopped meanwhile: given back at once
                        return Multi.createFrom().iterable(claimed)
                                .onItem().transformToUniAndConcatenate(c -> store.release(c).onFailure().recoverWithNull())
                                .collect().last();
                    }
                    claimed.forEach(this::send);
                    return Uni.createFrom().voidItem();
                })
                .replaceWithVoid();
    }

    private void send(DeliveryStore.Claimed c) {
        Attempt a = new Attempt(c);
        inFlight.put(key(c), a);
        inFlightCount.incrementAndGet();
        perProject.merge(c.project(), 1, Integer::sum);
        long now = time.millis();
        long timestamp = now / 1000;
        byte[] body = body(c);
        List<String> signing;
        try {
            signing = signingSecrets(c, timestamp);
        } catch (SecretBox.Unreadable e) {
            LOG.warnf("webhook delivery of %s to %s: nothing sent, %s", c.eventId(), c.endpointId(), e.getMessage());
            finish(a, new WebhookSender.Outcome(null, UNREADABLE));
            return;
        }
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Content-Type", "application/json");
        headers.put("User-Agent", "openbatch-webhooks");
        headers.put("webhook-id", c.eventId());
        headers.put("webhook-timestamp", Long.toString(timestamp));
        headers.put("webhook-signature", Signatures.header(signing, c.eventId(), timestamp, body));
        a.request = sender.post(c.url(), headers, body)
                .emitOn(context::runOnContext)
                .subscribe().with(o -> finish(a, o), e -> finish(a, WebhookSender.failure(e)));
    }

    /** What a delivery shows when its endpoint's secret cannot be opened (the log says why). */
    static final String UNREADABLE = "Nothing was sent: this endpoint's signing secret cannot be decrypted with the server's keys"
            + " (openbatch.webhooks.secret-key, previous-secret-keys); the operator's log says why.";

    /** The secrets that sign an attempt at {@code timestamp}, in clear: the current one, and the previous one while it signs. */
    private List<String> signingSecrets(DeliveryStore.Claimed c, long timestamp) {
        List<String> out = new ArrayList<>(2);
        out.add(secrets.open(c.endpointId(), c.secret()));
        if (c.previousSecret() != null && c.previousSecretUntil() != null && c.previousSecretUntil() > timestamp) {
            out.add(secrets.open(c.endpointId(), c.previousSecret()));
        }
        return out;
    }

    /** The event exactly as OpenAI shapes it. */
    static byte[] body(DeliveryStore.Claimed c) {
        return new JsonObject().put("id", c.eventId()).put("object", "event").put("created_at", c.eventCreatedAt())
                .put("type", c.type()).put("data", new JsonObject().put("id", c.batchId()))
                .encode().getBytes(StandardCharsets.UTF_8);
    }

    private void finish(Attempt a, WebhookSender.Outcome o) {
        DeliveryStore.Claimed c = a.claimed;
        if (!forget(a)) {
            return; // halted or given back meanwhile
        }
        long now = time.millis();
        int attempts = c.attempts() + 1;
        DeliveryState state;
        Long next = null;
        String error = null;
        DeliveryOutcome outcome;
        if (o.ok()) {
            state = DeliveryState.SUCCEEDED;
            outcome = DeliveryOutcome.SUCCEEDED;
        } else {
            next = schedule.nextAttempt(attempts, c.eventCreatedAt() * 1000, now);
            state = next == null ? DeliveryState.FAILED : DeliveryState.PENDING;
            outcome = next == null ? DeliveryOutcome.FAILED : DeliveryOutcome.RETRIED;
            error = o.error() != null ? o.error() : "The receiver answered HTTP " + o.status() + "; only a 2xx answer counts.";
        }
        metrics.attempt(outcome, System.nanoTime() - a.startNanos);
        if (state == DeliveryState.FAILED) {
            LOG.infof("webhook delivery of %s (%s) to %s (project %s) failed after %d attempt(s): %s", c.eventId(), c.type(),
                    c.endpointId(), LogText.of(c.project(), 200), attempts, error);
        } else if (state == DeliveryState.PENDING) {
            LOG.debugf("webhook delivery of %s to %s, attempt %d: %s", c.eventId(), c.endpointId(), attempts, error);
        }
        store.write(c, state, o.status(), error, now, next)
                .emitOn(context::runOnContext)
                .subscribe().with(written -> {
                    if (!written) {
                        LOG.debugf("webhook delivery of %s to %s was taken over by another process; its outcome here is dropped",
                                c.eventId(), c.endpointId());
                    }
                    nudge(); // a slot is free
                }, e -> LOG.warnf("webhook delivery of %s to %s: the outcome could not be written (it is sent again once the claim lapses): %s",
                        c.eventId(), c.endpointId(), LogText.of(e.getMessage(), 1000)));
    }

    /** Removes the attempt from the books; false when it was not there any more. */
    private boolean forget(Attempt a) {
        if (inFlight.remove(key(a.claimed)) != a) {
            return false;
        }
        inFlightCount.decrementAndGet();
        perProject.computeIfPresent(a.claimed.project(), (p, n) -> n <= 1 ? null : n - 1);
        return true;
    }

    private static String key(DeliveryStore.Claimed c) {
        return c.endpointId() + "\u0000" + c.eventId();
    }

    // ---- stopping ----

    /** No new claims from now on; attempts in flight go on. */
    public void stopClaiming() {
        context.runOnContext(() -> stopping = true);
    }

    /** Aborts what is still in flight and gives the claims back (fence+1), so another process sends them at once. */
    public Uni<Void> giveBack() {
        return onContext(() -> {
            stopping = true;
            List<Attempt> all = new ArrayList<>(inFlight.values());
            all.forEach(this::abort);
            return Multi.createFrom().iterable(all)
                    .onItem().transformToUniAndConcatenate(a -> store.release(a.claimed).onFailure().recoverWithNull())
                    .collect().last().replaceWithVoid();
        }).eventually(sender::close);
    }

    /** Stops at once, writing nothing: what a killed process does (its claims lapse by their lease). */
    public void halt() {
        context.runOnContext(() -> {
            stopping = true;
            halted = true;
            new ArrayList<>(inFlight.values()).forEach(this::abort);
            sender.close();
        });
    }

    private void abort(Attempt a) {
        if (forget(a) && a.request != null) {
            a.request.cancel();
        }
    }

    private <T> Uni<T> onContext(Supplier<Uni<T>> work) {
        return Uni.createFrom().emitter(em -> context.runOnContext(() -> work.get().subscribe().with(em::complete, em::fail)));
    }
}
