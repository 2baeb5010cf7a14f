package dev.openbatch.engine.housekeeping;

import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.WebhookEventStore;
import io.smallrye.mutiny.Uni;

/**
 * Deletes webhook events older than {@code openbatch.retention.webhooks}, with their deliveries
 * (an event with a delivery still pending stays until it is delivered or given up),
 * {@code rows-per-transaction} events per transaction, each skipped by the other processes while
 * one deletes it.
 */
public final class WebhookRetention implements Job {
    private final Transactions transactions;
    private final Time time;
    private final EngineMetrics metrics;
    private final RetentionConfig config;

    public WebhookRetention(Transactions transactions, Time time, EngineMetrics metrics, RetentionConfig config) {
        this.transactions = transactions;
        this.time = time;
        this.metrics = metrics;
        this.config = config;
    }

    @Override
    public String name() { return "webhook retention"; }

    @Override
    public long periodMillis() { return config.interval().toMillis(); }

    /** Deletes until no event is due; how many events. */
    @Override
    public Uni<Long> run() {
        long before = time.seconds() - config.webhooks().toSeconds();
        int n = Math.max(1, config.rowsPerTransaction());
        return Steps.untilDone(() -> WebhookEventStore.purge(transactions.autoCommit(), before, n).invoke(p -> {
                    metrics.purged(EngineMetrics.PURGED_WEBHOOK_EVENTS, p.events(), 0);
                    metrics.purged(EngineMetrics.PURGED_WEBHOOK_DELIVERIES, p.deliveries(), 0);
                }), p -> p.events() == 0, p -> p.events())
                .call(() -> {
                    long due = time.seconds() - config.webhooks().toSeconds();
                    return WebhookEventStore.oldest(transactions.autoCommit(), due)
                            .invoke(oldest -> metrics.overdue(EngineMetrics.DUE_WEBHOOKS, oldest == null ? 0 : due - oldest));
                });
    }
}
