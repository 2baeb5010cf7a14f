package dev.openbatch.store;
import dev.openbatch.engine.dispatch.Claimed;

import java.util.ArrayList;
import java.util.List;

import dev.openbatch.status.DeliveryState;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Every statement on {@code webhook_deliveries}: which projects have deliveries due, the claim
 * (lease and fence, like lines), the fenced write after an attempt, the backlog, and an endpoint's
 * latest deliveries for the API.
 */
@ApplicationScoped
public class DeliveryStore {
    private static final String PENDING = DeliveryState.PENDING.sql();

    /** Projects with a delivery due now that nobody holds: one probe of the due index per project that has endpoints. */
    static final String DUE_PROJECTS = compact("""
            select p.project from (select distinct project from webhook_endpoints) p
             where exists (select 1 from webhook_deliveries d where d.project = p.project and d.state = %s
                             and d.next_attempt_at <= $1 and (d.lease_until is null or d.lease_until < $1))
            """.formatted(PENDING));

    /** Claims a project's earliest due deliveries, with what sending them needs. */
    static final String CLAIM = compact("""
            update webhook_deliveries d set claimed_by = $2, lease_until = $3, fence = d.fence + 1
              from (select ctid as rid from webhook_deliveries
                     where project = $1 and state = %s and next_attempt_at <= $4 and (lease_until is null or lease_until < $4)
                     order by next_attempt_at limit $5 for update skip locked) h,
                   webhook_events e, webhook_endpoints w
             where d.ctid = h.rid and e.id = d.event_id and w.id = d.endpoint_id
            returning d.endpoint_id, d.event_id, d.fence, d.attempts, d.project, e.type, e.batch_id, e.created_at,
                      w.url, w.secret, w.previous_secret, w.previous_secret_until
            """.formatted(PENDING));

    static final String WRITE = compact("""
            update webhook_deliveries set state = $4, attempts = attempts + 1, last_status_code = $5, last_error = $6,
                   last_attempt_at = $7, next_attempt_at = coalesce($8, next_attempt_at), finished_at = $9,
                   claimed_by = null, lease_until = null
             where endpoint_id = $1 and event_id = $2 and fence = $3
            """);

    static final String RELEASE = "update webhook_deliveries set claimed_by = null, lease_until = null, fence = fence + 1"
            + " where endpoint_id = $1 and event_id = $2 and fence = $3";

    static final String BACKLOG = "select count(*) from webhook_deliveries where state = " + PENDING;
    /** A rotated-out secret is kept only while it still signs (see {@code ROTATION_OVERLAP_SECONDS}): then it is gone. */
    static final String FORGET_PREVIOUS_SECRETS = "update webhook_endpoints set previous_secret = null, previous_secret_until = null"
            + " where previous_secret_until <= $1";

    private static String compact(String sql) {
        return LineStore.compact(sql);
    }

    private final Pool pool;

    public DeliveryStore(Pool pool) {
        this.pool = pool;
    }

    /** A claimed delivery: the event, the endpoint and the claim's fence. */
    public record Claimed(String endpointId, String eventId, long fence, int attempts, String project, String type, String batchId,
            long eventCreatedAt, String url, String secret, String previousSecret, Long previousSecretUntil) {
    }

    public Uni<List<String>> dueProjects(long nowMillis) {
        return pool.preparedQuery(DUE_PROJECTS).execute(Tuple.of(nowMillis)).map(rows -> {
            List<String> out = new ArrayList<>();
            rows.forEach(r -> out.add(r.getString(0)));
            return out;
        });
    }

    public Uni<List<Claimed>> claim(String project, String node, long nowMillis, long leaseMillis, int n) {
        return pool.preparedQuery(CLAIM).execute(Tuple.of(project, node, nowMillis + leaseMillis, nowMillis, n)).map(rows -> {
            List<Claimed> out = new ArrayList<>(rows.size());
            for (Row r : rows) {
                out.add(new Claimed(r.getString(0), r.getString(1), r.getLong(2), r.getInteger(3), r.getString(4), r.getString(5),
                        r.getString(6), r.getLong(7), r.getString(8), r.getString(9), r.getString(10), r.getLong(11)));
            }
            return out;
        });
    }

    /** The outcome of an attempt; false when the claim was taken over meanwhile (nothing changed). */
    public Uni<Boolean> write(Claimed c, DeliveryState state, Integer statusCode, String error, long nowMillis, Long nextAttemptAt) {
        return pool.preparedQuery(WRITE)
                .execute(Tuple.tuple().addString(c.endpointId()).addString(c.eventId()).addLong(c.fence()).addString(state.wire())
                        .addInteger(statusCode).addString(error).addLong(nowMillis).addLong(nextAttemptAt)
                        .addLong(state == DeliveryState.PENDING ? null : nowMillis))
                .map(rs -> rs.rowCount() == 1);
    }

    /** Gives a claim back without an attempt (a stop with the request unfinished). */
    public Uni<Void> release(Claimed c) {
        return pool.preparedQuery(RELEASE).execute(Tuple.of(c.endpointId(), c.eventId(), c.fence())).replaceWithVoid();
    }

    /** Deliveries not finished yet, every project (the backlog gauge). */
    public Uni<Long> backlog() {
        return pool.query(BACKLOG).execute()
                .map(rs -> rs.iterator().next().getLong(0));
    }

    /** Clears the previous secrets whose overlap ended by {@code nowSeconds}; how many. */
    public Uni<Integer> forgetPreviousSecrets(long nowSeconds) {
        return pool.preparedQuery(FORGET_PREVIOUS_SECRETS).execute(Tuple.of(nowSeconds)).map(rs -> rs.rowCount());
    }

    /** A delivery as the API lists it: the event, where the delivery stands, and its last attempt; times are epoch ms except {@code createdAt} (seconds). */
    public record Delivery(String eventId, String eventType, String batchId, DeliveryState state, int attempts, Integer lastStatusCode,
            String lastError, Long lastAttemptAt, Long nextAttemptAt, Long finishedAt, long createdAt) {
    }

    /** An endpoint's deliveries, newest first, after the one of event {@code afterEvent} (null: from the newest). */
    public Uni<List<Delivery>> page(String endpointId, String afterEvent, int limit) {
        String sql = "select d.event_id, e.type, e.batch_id, d.state, d.attempts, d.last_status_code, d.last_error, d.last_attempt_at,"
                + " d.next_attempt_at, d.finished_at, d.created_at from webhook_deliveries d join webhook_events e on e.id = d.event_id"
                + " where d.endpoint_id = $1"
                + (afterEvent == null ? "" : " and (d.created_us, d.event_id) < (select a.created_us, a.event_id from webhook_deliveries a"
                        + " where a.endpoint_id = $1 and a.event_id = $3)")
                + " order by d.created_us desc, d.event_id desc limit $2";
        Tuple args = afterEvent == null ? Tuple.of(endpointId, limit) : Tuple.of(endpointId, limit, afterEvent);
        return pool.preparedQuery(sql).execute(args).map(rs -> {
            List<Delivery> out = new ArrayList<>(rs.size());
            for (Row r : rs) {
                out.add(new Delivery(r.getString(0), r.getString(1), r.getString(2), DeliveryState.of(r.getString(3)), r.getInteger(4),
                        r.getInteger(5), r.getString(6), r.getLong(7), r.getLong(8), r.getLong(9), r.getLong(10)));
            }
            return out;
        });
    }

    /** Whether the endpoint has a delivery of this event (an {@code after} cursor must name one). */
    public Uni<Boolean> exists(String endpointId, String eventId) {
        return pool.preparedQuery("select 1 from webhook_deliveries where endpoint_id = $1 and event_id = $2")
                .execute(Tuple.of(endpointId, eventId)).map(rs -> rs.size() > 0);
    }
}
