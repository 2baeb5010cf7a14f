package dev.openbatch.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.status.BatchStatus;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Every statement of the spend caps (see the V11 migration): the projects the check judges, their
 * caps' overrides, what they spent (summed from {@code usage_hourly}), and the pauses, one row per
 * paused project, which every engine reads to know whose lines not to send.
 */
@ApplicationScoped
public class SpendStore {
    /** The projects with running batches (from the live index), and the paused ones (which may resume). */
    static final String JUDGED = "select project from batches where status = " + BatchStatus.IN_PROGRESS.sql()
            + " union select project from spend_pauses";

    static final String OVERRIDES = "select project, quota, value from project_quotas where project = any($1) and quota = any($2)";

    /**
     * Per project of $1 and model: the input and output tokens of the lines settled since $2 (the
     * day's start) and since $3 (the month's, at or before $2). One range of {@code
     * usage_hourly_project_hour} per project.
     */
    static final String SPENT = LineStore.compact("""
            select project, model,
                   coalesce(sum(input_tokens) filter (where hour >= $2), 0)::bigint,
                   coalesce(sum(output_tokens) filter (where hour >= $2), 0)::bigint,
                   sum(input_tokens)::bigint, sum(output_tokens)::bigint
              from usage_hourly where project = any($1) and hour >= $3
             group by project, model
            """);

    static final String PAUSES = "select project, quota, message, since, resumes_at from spend_pauses";

    /** Pauses the project, or changes why; {@code since} stays the first pause's. Returns a row only when something changed. */
    static final String PAUSE = LineStore.compact("""
            insert into spend_pauses (project, quota, message, since, resumes_at) values ($1, $2, $3, $4, $5)
            on conflict (project) do update set quota = excluded.quota, message = excluded.message, resumes_at = excluded.resumes_at
             where (spend_pauses.quota, spend_pauses.message, spend_pauses.resumes_at)
                   is distinct from (excluded.quota, excluded.message, excluded.resumes_at)
            returning (xmax = 0)
            """);

    /** A paused project: the cap it reached, the sentence its batches show, since when (unix seconds), and when its period ends. */
    public record Pause(String project, String quota, String message, long since, long resumesAt) {
    }

    /** One project's and model's tokens of the day and of the month. */
    public record Spent(String project, String model, long dayInput, long dayOutput, long monthInput, long monthOutput) {
    }

    private final Pool pool;

    public SpendStore(Pool pool) {
        this.pool = pool;
    }

    /** The projects the check judges: those with in_progress batches, and those paused now. */
    public Uni<List<String>> judged() {
        return pool.query(JUDGED).execute().map(rows -> {
            List<String> out = new ArrayList<>(rows.size());
            rows.forEach(r -> out.add(r.getString(0)));
            return out;
        });
    }

    /** The overrides of these quotas (wire names) of these projects: project -> quota -> value. */
    public Uni<Map<String, Map<String, Long>>> overrides(Collection<String> projects, Collection<String> quotas) {
        return pool.preparedQuery(OVERRIDES).execute(Tuple.of(projects.toArray(String[]::new), quotas.toArray(String[]::new))).map(rows -> {
            Map<String, Map<String, Long>> out = new HashMap<>();
            rows.forEach(r -> out.computeIfAbsent(r.getString(0), p -> new HashMap<>()).put(r.getString(1), r.getLong(2)));
            return out;
        });
    }

    /** The tokens these projects' lines settled since {@code dayStart} and since {@code monthStart} (unix seconds), per project and model. */
    public Uni<List<Spent>> spent(Tx tx, Collection<String> projects, long dayStart, long monthStart) {
        return tx.client().preparedQuery(SPENT).execute(Tuple.of(projects.toArray(String[]::new), dayStart, monthStart)).map(rows -> {
            List<Spent> out = new ArrayList<>(rows.size());
            for (Row r : rows) {
                out.add(new Spent(r.getString(0), r.getString(1), r.getLong(2), r.getLong(3), r.getLong(4), r.getLong(5)));
            }
            return out;
        });
    }

    /** Every paused project. */
    public Uni<List<Pause>> pauses() {
        return pool.query(PAUSES).execute().map(rows -> {
            List<Pause> out = new ArrayList<>(rows.size());
            rows.forEach(r -> out.add(pause(r)));
            return out;
        });
    }

    /** The project's pause, or null when it is not paused. */
    public Uni<Pause> pause(String project) {
        return pool.preparedQuery(PAUSES + " where project = $1").execute(Tuple.of(project))
                .map(rows -> rows.size() == 0 ? null : pause(rows.iterator().next()));
    }

    /** What pausing did: nothing (already paused so), changed why, or paused a running project. */
    public enum Paused { UNCHANGED, CHANGED, NEW }

    /** Pauses the project at {@code nowSeconds} (or changes why it is paused; it stays paused since it was). */
    public Uni<Paused> pause(String project, String quota, String message, long nowSeconds, long resumesAt) {
        return pool.preparedQuery(PAUSE).execute(Tuple.of(project, quota, message, nowSeconds, resumesAt)).map(rows -> rows.size() == 0
                ? Paused.UNCHANGED : rows.iterator().next().getBoolean(0) ? Paused.NEW : Paused.CHANGED);
    }

    /** The project resumes; false when it was not paused. */
    public Uni<Boolean> resume(String project) {
        return pool.preparedQuery("delete from spend_pauses where project = $1").execute(Tuple.of(project)).map(rows -> rows.rowCount() > 0);
    }

    private static Pause pause(Row r) {
        return new Pause(r.getString(0), r.getString(1), r.getString(2), r.getLong(3), r.getLong(4));
    }
}
