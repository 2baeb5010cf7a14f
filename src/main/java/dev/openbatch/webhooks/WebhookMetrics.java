package dev.openbatch.webhooks;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The webhooks' Prometheus metrics: {@code openbatch_webhook_deliveries_total{outcome}} (each
 * attempt: succeeded, retried, failed = given up), {@code openbatch_webhook_delivery_seconds}
 * (one attempt, from the name lookup to the answer's status) and {@code openbatch_webhook_backlog}
 * (deliveries not finished, every project, as the database says), and
 * {@code openbatch_webhook_secrets_not_current{state}}: endpoints whose signing secrets are not
 * sealed under the current key after this process's last pass over them ({@code old_key}: under
 * a previous key, {@code in_clear}: kept in clear, {@code unreadable}: no key of this process opens
 * them, and their deliveries fail), by the worst of the endpoint's two secrets.
 */
@ApplicationScoped
public class WebhookMetrics {
    private final MeterRegistry registry;
    private final Timer latency;
    private final AtomicLong backlog = new AtomicLong();
    private final Map<DeliveryOutcome, Counter> outcomes = new ConcurrentHashMap<>();
    private final Map<SecretState, AtomicLong> secrets = new ConcurrentHashMap<>();

    /** Why an endpoint's secrets are not sealed under the current key; the worst comes last. */
    public enum SecretState {
        OLD_KEY("old_key"), IN_CLEAR("in_clear"), UNREADABLE("unreadable");

        private final String label;

        SecretState(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public WebhookMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.latency = Timer.builder("openbatch_webhook_delivery").description("Time of one webhook delivery attempt, lookup to answer")
                .publishPercentileHistogram().register(registry);
        Gauge.builder("openbatch_webhook_backlog", backlog, AtomicLong::get)
                .description("Webhook deliveries not finished yet (waiting for an attempt or a retry), every project").register(registry);
        for (DeliveryOutcome o : DeliveryOutcome.values()) {
            outcome(o);
        }
        for (SecretState s : SecretState.values()) {
            AtomicLong n = new AtomicLong();
            secrets.put(s, n);
            Gauge.builder("openbatch_webhook_secrets_not_current", n, AtomicLong::get)
                    .description("Webhook endpoints whose signing secrets are not sealed under openbatch.webhooks.secret-key, by why"
                            + " (old_key, in_clear, unreadable), as this process's last pass over them found")
                    .tag("state", s.label()).register(registry);
        }
    }

    /** What a pass over the endpoints' secrets left: endpoints in each state. */
    public void secrets(Map<SecretState, Long> counts) {
        for (SecretState s : SecretState.values()) {
            secrets.get(s).set(counts.getOrDefault(s, 0L));
        }
    }

    private Counter outcome(DeliveryOutcome outcome) {
        return outcomes.computeIfAbsent(outcome, o -> Counter.builder("openbatch_webhook_deliveries")
                .description("Webhook delivery attempts by outcome: succeeded (2xx), retried (will be tried again), failed (given up)")
                .tag("outcome", o.label()).register(registry));
    }

    void attempt(DeliveryOutcome outcome, long nanos) {
        outcome(outcome).increment();
        latency.record(Duration.ofNanos(nanos));
    }

    void backlog(long n) {
        backlog.set(n);
    }
}
