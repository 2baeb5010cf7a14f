package dev.openbatch.webhooks;

import dev.openbatch.api.Ids;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.Tx;
import dev.openbatch.store.WebhookEventStore;
import io.smallrye.mutiny.Uni;

/**
 * Records a batch's terminal event in the outbox, inside the transaction of the transition itself
 * ({@link WebhookEventStore}): no terminal batch without its event, no event for a transition
 * rolled back.
 */
public final class WebhookOutbox {
    private WebhookOutbox() {
    }

    /**
     * Records that {@code batchId} has just become {@code status} (a terminal one), in {@code tx}.
     *
     * @param nowMillis  the transition's time (the event's {@code created_at} is its second)
     * @param createdUs  ordering microseconds for lists of deliveries
     */
    public static Uni<Void> record(Tx tx, String batchId, BatchStatus status, long nowMillis, long createdUs) {
        return WebhookEventStore.record(tx, Ids.event(), batchId, EventType.of(status).wire(), nowMillis, createdUs);
    }
}
