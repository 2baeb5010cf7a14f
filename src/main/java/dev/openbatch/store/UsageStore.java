package dev.openbatch.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Reads {@code usage_hourly} (V10), which the statements that settle lines write
 * ({@link LineStore#WRITE}, {@link LineStore#EXPIRE_CHUNK}, {@link LineStore#CANCEL_CHUNK}):
 * lines settled and their tokens per project, model and hour, summed into buckets.
 */
@ApplicationScoped
public class UsageStore {
    /**
     * The sums of the hours in [$1, $2), per bucket of $3 seconds (buckets start at multiples of
     * $3 since the epoch), per project when $4, per model when $5 (null otherwise), of the projects
     * in $6 and the models in $7 (all when empty). A range of the table's primary key and hour index.
     */
    static final String BUCKETS = LineStore.compact("""
            select hour / $3 * $3 as bucket, case when $4 then project end as project, case when $5 then model end as model,
                   sum(requests)::bigint, sum(succeeded)::bigint, sum(failed)::bigint,
                   sum(input_tokens)::bigint, sum(output_tokens)::bigint
              from usage_hourly
             where hour >= $1 and hour < $2
               and (cardinality($6::text[]) = 0 or project = any($6)) and (cardinality($7::text[]) = 0 or model = any($7))
             group by 1, 2, 3 order by 1, 2, 3
            """);

    /** What one bucket counted for one project and model (each null when not grouped by it). */
    public record Sums(long bucket, String project, String model, long requests, long succeeded, long failed, long inputTokens,
            long outputTokens) {
    }

    private final Pool pool;

    public UsageStore(Pool pool) {
        this.pool = pool;
    }

    /**
     * The sums of the hours from {@code from} (inclusive) to {@code to} (exclusive, unix seconds)
     * in buckets of {@code width} seconds, grouped as asked, of the projects and models named
     * (all when a list is empty); in bucket, project and model order.
     */
    public Uni<List<Sums>> buckets(long from, long to, long width, boolean byProject, boolean byModel, Collection<String> projects,
            Collection<String> models) {
        Tuple t = Tuple.of(from, to, width, byProject, byModel).addArrayOfString(projects.toArray(String[]::new))
                .addArrayOfString(models.toArray(String[]::new));
        return pool.preparedQuery(BUCKETS).execute(t).map(rows -> {
            List<Sums> out = new ArrayList<>(rows.size());
            for (Row r : rows) {
                out.add(new Sums(r.getLong(0), r.getString(1), r.getString(2), r.getLong(3), r.getLong(4), r.getLong(5), r.getLong(6),
                        r.getLong(7)));
            }
            return out;
        });
    }
}
