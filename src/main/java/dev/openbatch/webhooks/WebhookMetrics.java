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
 * (deliveries not finished, every project, as the database says).
 */
@ApplicationScoped
public class WebhookMetrics {
    private final MeterRegistry registry;
    private final Timer latency;
    private final AtomicLong backlog = new AtomicLong();
    private final Map<DeliveryOutcome, Counter> outcomes = new ConcurrentHashMap<>();

    public WebhookMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.latency = Timer.builder("openbatch_webhook_delivery").description("Time of one webhook delivery attempt, lookup to answer")
                .publishPercentileHistogram().register(registry);
        Gauge.builder("openbatch_webhook_backlog", backlog, AtomicLong::get)
                .description("Webhook deliveries not finished yet (waiting for an attempt or a retry), every project").register(registry);
        for (DeliveryOutcome o : DeliveryOutcome.values()) {
            outcome(o);
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
