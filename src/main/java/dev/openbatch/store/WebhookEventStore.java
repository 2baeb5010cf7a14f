package dev.openbatch.store;

import dev.openbatch.status.DeliveryState;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The {@code webhook_events} outbox: an event row and one pending delivery for each of the
 * project's endpoints subscribed to its type, written inside the transaction of the batch's
 * transition itself. Nothing is sent here; the deliverers of every process pick the rows up.
 */
public final class WebhookEventStore {
    /**
     * One statement: the event (its project read from the batch, by primary key) and its
     * deliveries. A second event of the same type for the same batch is not made (the unique index).
     */
    static final String RECORD = """
            with e as (insert into webhook_events (id, project, type, batch_id, created_at, created_us)
                       select $1, b.project, $3, b.id, $4, $6 from batches b where b.id = $2
                       on conflict (batch_id, type) do nothing
                       returning id, project, type, created_at, created_us)
            insert into webhook_deliveries (endpoint_id, event_id, project, state, next_attempt_at, created_at, created_us)
            select w.id, e.id, e.project, %s, $5, e.created_at, e.created_us
              from e join webhook_endpoints w on w.project = e.project
             where e.type = any(string_to_array(w.event_types, ','))
            """.formatted(DeliveryState.PENDING.sql());

    private WebhookEventStore() {
    }

    /**
     * Records event {@code eventId} of type {@code type} for {@code batchId}, in {@code tx}.
     *
     * @param nowMillis  the transition's time (the event's {@code created_at} is its second)
     * @param createdUs  ordering microseconds for lists of deliveries
     */
    public static Uni<Void> record(Tx tx, String eventId, String batchId, String type, long nowMillis, long createdUs) {
        return tx.client().preparedQuery(RECORD)
                .execute(Tuple.tuple().addString(eventId).addString(batchId).addString(type)
                        .addLong(nowMillis / 1000).addLong(nowMillis).addLong(createdUs))
                .replaceWithVoid();
    }
}
