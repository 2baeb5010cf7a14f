package dev.openbatch.webhooks;

import io.quarkus.runtime.annotations.RegisterForReflection;
import io.vertx.mutiny.sqlclient.Row;

/**
 * One event's delivery to one endpoint ({@code object: "webhook_delivery"}): where it stands
 * ({@code pending}, {@code succeeded}, {@code failed}), how many attempts were made, what the
 * last one got, and when the next one is due. Times are Unix seconds.
 */
@RegisterForReflection
public record WebhookDeliveryView(String object, String event_id, String event_type, String batch_id, String status, int attempts,
        Integer last_status_code, String last_error, Long last_attempt_at, Long next_attempt_at, Long finished_at, long created_at) {

    /** A row of {@link DeliveryStore#page}. */
    static WebhookDeliveryView of(Row r) {
        String status = r.getString(3);
        Long last = r.getLong(7);
        Long next = r.getLong(8);
        Long finished = r.getLong(9);
        return new WebhookDeliveryView("webhook_delivery", r.getString(0), r.getString(1), r.getString(2), status, r.getInteger(4),
                r.getInteger(5), r.getString(6), last == null ? null : last / 1000,
                "pending".equals(status) && next != null ? Math.floorDiv(next + 999, 1000) : null,
                finished == null ? null : finished / 1000, r.getLong(10));
    }
}
