package dev.openbatch.store;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Every statement of the quotas (see the V9 migration): a project's overrides, the lock that
 * serializes a project's counted creations across replicas, what each quota counts, and the
 * leases of the uploads and dry runs in progress. Quotas are named by their wire name here.
 */
@ApplicationScoped
public class QuotaStore {
    /** Request bytes per estimated input token. */
    public static final int BYTES_PER_TOKEN = 4;

    /** A batch's unsettled share of its estimated tokens, rounded up. */
    private static final String ENQUEUED_TOKENS = "ceil(input_bytes::numeric / " + BYTES_PER_TOKEN
            + " * (total - completed - failed) / greatest(total, 1))";

    static final String ENQUEUED_BY_MODEL = "select model, coalesce(sum(total - completed - failed), 0)::bigint, coalesce(sum("
            + ENQUEUED_TOKENS + "), 0)::bigint from batches where project = $1 and status in " + BatchStore.LIVE
            + " and model is not null and validated group by model order by model";

    static final String ENQUEUED_OTHERS = "select coalesce(sum(total - completed - failed), 0)::bigint, coalesce(sum("
            + ENQUEUED_TOKENS + "), 0)::bigint from batches where project = $1 and status in " + BatchStore.LIVE
            + " and model = $2 and validated and id <> $3";

    private final Pool pool;

    public QuotaStore(Pool pool) {
        this.pool = pool;
    }

    // ---- overrides ----

    /** The project's overrides, by quota. */
    public Uni<Map<String, Long>> overrides(Tx tx, String project) {
        return tx.client().preparedQuery("select quota, value from project_quotas where project = $1").execute(Tuple.of(project))
                .map(rows -> {
                    Map<String, Long> out = new HashMap<>();
                    rows.forEach(r -> out.put(r.getString(0), r.getLong(1)));
                    return out;
                });
    }

    /** Sets the project's override of {@code quota}; a null value removes it (the default applies again). */
    public Uni<Void> override(Tx tx, String project, String quota, Long value) {
        if (value == null) {
            return tx.client().preparedQuery("delete from project_quotas where project = $1 and quota = $2")
                    .execute(Tuple.of(project, quota)).replaceWithVoid();
        }
        return tx.client().preparedQuery("insert into project_quotas (project, quota, value) values ($1, $2, $3)"
                + " on conflict (project, quota) do update set value = excluded.value").execute(Tuple.of(project, quota, value))
                .replaceWithVoid();
    }

    // ---- the lock ----

    /** Makes sure the project's lock row exists (committed alone), for a transaction that locks it through Hibernate. */
    public Uni<Void> ensureLockRow(String project) {
        return pool.preparedQuery("insert into quota_locks (project) values ($1) on conflict do nothing").execute(Tuple.of(project))
                .replaceWithVoid();
    }

    /**
     * Locks the project's row until {@code tx} ends: the transactions that count a quota of the
     * project and then create what it counts run one after the other, on every replica.
     */
    public Uni<Void> lock(Tx tx, String project) {
        return tx.client().preparedQuery("insert into quota_locks (project) values ($1) on conflict do nothing").execute(Tuple.of(project))
                .chain(() -> tx.client().preparedQuery("select project from quota_locks where project = $1 for update")
                        .execute(Tuple.of(project)))
                .replaceWithVoid();
    }

    // ---- what the quotas count ----

    public Uni<Long> liveBatches(Tx tx, String project) {
        return count(tx, "select count(*) from batches where project = $1 and status in " + BatchStore.LIVE, Tuple.of(project));
    }

    /** Lines and estimated input tokens not settled yet, of the live batches of one model. */
    public record Enqueued(String model, long lines, long tokens) {
    }

    /** The project's enqueued lines and tokens, by model. */
    public Uni<List<Enqueued>> enqueued(Tx tx, String project) {
        return tx.client().preparedQuery(ENQUEUED_BY_MODEL).execute(Tuple.of(project)).map(rows -> {
            List<Enqueued> out = new ArrayList<>();
            for (Row r : rows) {
                out.add(new Enqueued(r.getString(0), r.getLong(1), r.getLong(2)));
            }
            return out;
        });
    }

    /** The project's enqueued lines and tokens of {@code model}, but for batch {@code except}'s. */
    public Uni<Enqueued> enqueuedBesides(Tx tx, String project, String model, String except) {
        return tx.client().preparedQuery(ENQUEUED_OTHERS).execute(Tuple.of(project, model, except)).map(rows -> {
            Row r = rows.iterator().next();
            return new Enqueued(model, r.getLong(0), r.getLong(1));
        });
    }

    /**
     * Records the bytes of the batch's request bodies (its rows inserted in {@code tx}) and returns
     * them: the length stored with a body kept in the input file, or (PostgreSQL reads it from the
     * TOAST pointer, not the bytes) the length of one kept in its line.
     */
    public Uni<Long> measureInput(Tx tx, String batchId) {
        return tx.client().preparedQuery("update batches set input_bytes = (select coalesce(sum(coalesce(octet_length(body), body_length)), 0)"
                + " from requests where batch_id = $1) where id = $1 returning input_bytes").execute(Tuple.of(batchId))
                .map(rows -> rows.size() == 0 ? 0L : rows.iterator().next().getLong(0));
    }

    /** The bytes of the project's stored files (those written in {@code tx} included; not the uploads in progress). */
    public Uni<Long> fileBytes(Tx tx, String project) {
        return count(tx, "select coalesce(sum(bytes), 0) from files where project = $1 and upload_until is null", Tuple.of(project));
    }

    public Uni<Long> webhookEndpoints(Tx tx, String project) {
        return count(tx, "select count(*) from webhook_endpoints where project = $1", Tuple.of(project));
    }

    // ---- leases: the uploads and dry runs in progress ----

    /** The project's leases of {@code quota} still running at {@code nowMillis}; lapsed ones are removed. */
    public Uni<Long> leases(Tx tx, String project, String quota, long nowMillis) {
        return tx.client().preparedQuery("delete from quota_leases where project = $1 and quota = $2 and until < $3")
                .execute(Tuple.of(project, quota, nowMillis))
                .chain(() -> count(tx, "select count(*) from quota_leases where project = $1 and quota = $2", Tuple.of(project, quota)));
    }

    public Uni<Void> addLease(Tx tx, String id, String project, String quota, long untilMillis) {
        return tx.client().preparedQuery("insert into quota_leases (id, project, quota, until) values ($1, $2, $3, $4)")
                .execute(Tuple.of(id, project, quota, untilMillis)).replaceWithVoid();
    }

    public Uni<Void> removeLease(String id) {
        return pool.preparedQuery("delete from quota_leases where id = $1").execute(Tuple.of(id)).replaceWithVoid();
    }

    // ---- rates ----

    static final String TAKE = "insert into quota_rates (project, quota, second, count) values ($1, $2, $3, 1)"
            + " on conflict (project, quota) do update"
            + " set count = case when quota_rates.second = excluded.second then quota_rates.count + 1 else 1 end, second = excluded.second"
            + " where quota_rates.second <> excluded.second or quota_rates.count < $4 returning count";

    /**
     * Counts one more use of {@code quota} in the second {@code second} unless {@code limit} were
     * made in it already: true when counted. One statement on one row, so exact on every replica.
     */
    public Uni<Boolean> take(String project, String quota, long second, long limit) {
        return pool.preparedQuery(TAKE).execute(Tuple.of(project, quota, second, limit)).map(rows -> rows.size() > 0);
    }

    /** The uses of {@code quota} counted in the second {@code second}. */
    public Uni<Long> taken(Tx tx, String project, String quota, long second) {
        return count(tx, "select coalesce(sum(count), 0) from quota_rates where project = $1 and quota = $2 and second = $3",
                Tuple.of(project, quota, second));
    }

    private static Uni<Long> count(Tx tx, String sql, Tuple args) {
        return tx.client().preparedQuery(sql).execute(args).map(rows -> {
            Number n = (Number) rows.iterator().next().getValue(0);
            return n.longValue();
        });
    }
}
