package dev.openbatch.store;

import java.util.HashMap;
import java.util.Map;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.status.LineState;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The statements on {@code jobs} that Hibernate does not run: a project's default job, made on
 * first use, and, for the dispatchers, the locks on capped jobs and the lines each job has
 * running, which together keep a job's cap across processes. Every statement runs where the
 * caller says ({@link Tx}): the dispatcher's claim composes the lock, the count and the claim in
 * one transaction.
 */
public final class JobStore {
    /** Locks the jobs' rows in id order: two claims for the same capped jobs take turns and never wait in a circle. */
    static final String LOCK = "select id from jobs where id = any($1) order by id for update";

    /**
     * Lines running per job, for the jobs named (their live batches only): one probe of
     * {@code requests_held} per live process and batch. Scalar subqueries, so that the planner
     * cannot turn them into a join over the whole index.
     */
    static final String RUNNING_BY_JOB = LineStore.compact("""
            select b.job_id, coalesce(sum((select sum((select count(*) from requests r
                                                        where r.claimed_by = n.node and r.batch_id = b.id and r.state = %s))
                                             from engine_nodes n)), 0)::bigint
              from batches b where b.job_id = any($1) and b.status = %s
             group by b.job_id
            """.formatted(LineState.RUNNING.sql(), BatchStatus.IN_PROGRESS.sql()));

    /** The project's default job, unless it has one: many racing requests make one. */
    static final String ENSURE_DEFAULT = "insert into jobs (id, project, name, model, completion_window, priority, is_default, created_at, created_us)"
            + " values ($1, $2, 'default', null, $3, 0, true, $4, $5) on conflict (project) where is_default do nothing";

    private JobStore() {
    }

    /** Locks the jobs' rows (in id order) so that claims for capped jobs are counted one process at a time. */
    public static Uni<Void> lock(Tx tx, String[] jobIds) {
        return tx.client().preparedQuery(LOCK).execute(Tuple.of((Object) jobIds)).replaceWithVoid();
    }

    /** Lines running now per job named (a job without any is absent). */
    public static Uni<Map<String, Integer>> runningByJob(Tx tx, String[] jobIds) {
        return tx.client().preparedQuery(RUNNING_BY_JOB).execute(Tuple.of((Object) jobIds)).map(rows -> {
            Map<String, Integer> out = new HashMap<>();
            for (Row r : rows) {
                out.put(r.getString(0), r.getLong(1).intValue());
            }
            return out;
        });
    }

    /** Makes job {@code id} the project's default job, with {@code window}, unless the project has one already. */
    public static Uni<Void> ensureDefault(Tx tx, String id, String project, String window, long nowSeconds, long createdUs) {
        return tx.client().preparedQuery(ENSURE_DEFAULT).execute(Tuple.of(id, project, window, nowSeconds, createdUs)).replaceWithVoid();
    }
}
