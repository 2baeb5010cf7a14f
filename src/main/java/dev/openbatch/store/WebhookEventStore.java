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

    /**
     * Retention: up to $2 events made before $1 (Unix seconds) none of whose deliveries is still
     * pending, oldest first (a range of {@code webhook_events_age}), that no other process is
     * deleting, are deleted with their deliveries; how many of each.
     */
    static final String PURGE = """
            with ev as (select e.id from webhook_events e where e.created_at < $1
                           and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.state = %s)
                         order by e.created_at limit $2 for update skip locked),
                 dd as (delete from webhook_deliveries d using ev where d.event_id = ev.id returning 1),
                 de as (delete from webhook_events e using ev where e.id = ev.id returning 1)
            select (select count(*) from de), (select count(*) from dd)
            """.formatted(DeliveryState.PENDING.sql());

    /** The oldest event made before $1 that {@link #PURGE} would delete: its {@code created_at}. */
    static final String OLDEST = """
            select e.created_at from webhook_events e where e.created_at < $1
               and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.state = %s)
             order by e.created_at limit 1
            """.formatted(DeliveryState.PENDING.sql());

    private WebhookEventStore() {
    }

    /** What one purge of events deleted. */
    public record Purged(int events, int deliveries) {
    }

    /** Deletes up to {@code limit} events made before {@code beforeSeconds}, with their deliveries (see {@link #PURGE}). */
    public static Uni<Purged> purge(Tx tx, long beforeSeconds, int limit) {
        return tx.client().preparedQuery(PURGE).execute(Tuple.of(beforeSeconds, limit)).map(rs -> {
            var r = rs.iterator().next();
            return new Purged((int) r.getLong(0).longValue(), (int) r.getLong(1).longValue());
        });
    }

    /** The {@code created_at} of the oldest event made before {@code beforeSeconds} that may be deleted, or null. */
    public static Uni<Long> oldest(Tx tx, long beforeSeconds) {
        return tx.client().preparedQuery(OLDEST).execute(Tuple.of(beforeSeconds))
                .map(rs -> rs.size() == 0 ? null : rs.iterator().next().getLong(0));
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
