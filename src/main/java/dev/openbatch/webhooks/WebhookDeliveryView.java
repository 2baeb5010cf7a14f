package dev.openbatch.webhooks;

import dev.openbatch.status.DeliveryState;
import dev.openbatch.store.DeliveryStore;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * One event's delivery to one endpoint ({@code object: "webhook_delivery"}): where it stands
 * ({@code pending}, {@code succeeded}, {@code failed}), how many attempts were made, what the
 * last one got, and when the next one is due. Times are Unix seconds.
 */
@RegisterForReflection
public record WebhookDeliveryView(String object, String event_id, String event_type, String batch_id, String status, int attempts,
        Integer last_status_code, String last_error, Long last_attempt_at, Long next_attempt_at, Long finished_at, long created_at) {

    /** A delivery as {@link DeliveryStore#page} read it. */
    static WebhookDeliveryView of(DeliveryStore.Delivery d) {
        Long last = d.lastAttemptAt();
        Long next = d.nextAttemptAt();
        Long finished = d.finishedAt();
        return new WebhookDeliveryView("webhook_delivery", d.eventId(), d.eventType(), d.batchId(), d.state().wire(), d.attempts(),
                d.lastStatusCode(), d.lastError(), last == null ? null : last / 1000,
                d.state() == DeliveryState.PENDING && next != null ? Math.floorDiv(next + 999, 1000) : null,
                finished == null ? null : finished / 1000, d.createdAt());
    }
}
