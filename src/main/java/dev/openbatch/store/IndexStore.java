package dev.openbatch.store;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.pgclient.PgException;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * Every statement of index upkeep: the size of the indexes of the tables retention empties, with
 * what their entries need, a bounded count that confirms a table is as small as its statistics
 * say, and {@code REINDEX INDEX CONCURRENTLY}, which rebuilds an index beside the old one without
 * blocking reads or writes and gives the old one's pages back to the file system (plain
 * {@code VACUUM} only marks emptied index pages free for the index's own reuse).
 */
public final class IndexStore {
    /** The lock that lets one process of the cluster rebuild at a time (a constant of this class, no other use). */
    static final long LOCK = 0x6f62_6978_7570_6b70L;
    /** PostgreSQL's SQLSTATE for a lock that did not come within {@code lock_timeout}. */
    static final String LOCK_NOT_AVAILABLE = "55P03";

    /**
     * The tables $1 of this schema and their TOAST tables (where bodies and answers over 2 kB go):
     * oid, the table named (its own name for a TOAST table's owner), schema and name.
     */
    static final String RELATIONS = """
            with rel as (
              select t.oid, t.relname as owner, n.nspname, t.relname from pg_class t join pg_namespace n on n.oid = t.relnamespace
               where n.nspname = current_schema() and t.relname = any($1)
              union all
              select tt.oid, t.relname, tn.nspname, tt.relname from pg_class t join pg_namespace n on n.oid = t.relnamespace
                join pg_class tt on tt.oid = t.reltoastrelid join pg_namespace tn on tn.oid = tt.relnamespace
               where n.nspname = current_schema() and t.relname = any($1))
            """;

    /**
     * Per valid index of those relations: its schema and name, the table named, the relation's
     * schema and name, its size, its entries (the smaller of what the last vacuum counted in the
     * index and the relation's live rows now: the latter drops as soon as rows are deleted; a
     * reset or never-filled counter is not taken) and the average width of its key columns from
     * the planner's statistics (0 when none, as for a TOAST table).
     */
    static final String SIZES = LineStore.compact(RELATIONS + """
            select n.nspname, ic.relname, r.owner, r.nspname, r.relname, pg_relation_size(i.indexrelid),
                   case when ic.reltuples < 0 then st.n_live_tup
                        when st.n_tup_ins + st.n_tup_upd + st.n_tup_del = 0 then ic.reltuples::bigint
                        else least(ic.reltuples::bigint, st.n_live_tup) end,
                   coalesce((select sum(s.avg_width) from pg_attribute a
                               join pg_stats s on s.schemaname = r.nspname and s.tablename = r.relname and s.attname = a.attname
                              where a.attrelid = i.indrelid and a.attnum = any(i.indkey)), 0)::int
              from rel r
              join pg_index i on i.indrelid = r.oid
              join pg_class ic on ic.oid = i.indexrelid
              join pg_namespace n on n.oid = ic.relnamespace
              join pg_stat_all_tables st on st.relid = r.oid
             where i.indisvalid
            """);

    /**
     * The invalid indexes of those relations that an interrupted {@code REINDEX CONCURRENTLY}
     * leaves behind ({@code _ccnew}: the half-built copy; {@code _ccold}: the old one, swapped out
     * but not yet dropped), schema and name. They take writes and space until dropped.
     */
    static final String LEFT_BEHIND = LineStore.compact(RELATIONS + """
            select n.nspname, ic.relname from rel r
              join pg_index i on i.indrelid = r.oid
              join pg_class ic on ic.oid = i.indexrelid
              join pg_namespace n on n.oid = ic.relnamespace
             where not i.indisvalid and ic.relname ~ '_cc(new|old)[0-9]*$'
            """);

    /**
     * An index as the statistics give it: its qualified, quoted name; the table it serves (for a
     * TOAST table's index, the table the TOAST table belongs to); the relation it indexes
     * (qualified, quoted); its size; its entries; its key's average width.
     */
    public record IndexSize(String index, String table, String relation, long bytes, long entries, int keyWidth) {
    }

    private final Transactions transactions;

    public IndexStore(Transactions transactions) {
        this.transactions = transactions;
    }

    /** The indexes of these tables with their sizes and entries. */
    public Uni<List<IndexSize>> sizes(List<String> tables) {
        return transactions.autoCommit().client().preparedQuery(SIZES).execute(Tuple.of((Object) tables.toArray(String[]::new)))
                .map(rows -> {
                    List<IndexSize> out = new ArrayList<>(rows.size());
                    rows.forEach(r -> out.add(new IndexSize(qualified(r.getString(0), r.getString(1)), r.getString(2),
                            qualified(r.getString(3), r.getString(4)), r.getLong(5), r.getLong(6), r.getInteger(7))));
                    return out;
                });
    }

    /**
     * Runs {@code work} on one session holding the cluster-wide upkeep lock, if no other session
     * holds it; {@code false} without running it otherwise. The lock goes with the session's end
     * or the work's (whichever comes first), so a process that dies mid-rebuild does not keep it.
     */
    public Uni<Boolean> exclusively(Function<Tx, Uni<?>> work) {
        return transactions.session(tx -> tx.client().preparedQuery("select pg_try_advisory_lock($1)").execute(Tuple.of(LOCK))
                .chain(rs -> {
                    if (!rs.iterator().next().getBoolean(0)) {
                        return Uni.createFrom().item(false);
                    }
                    return work.apply(tx).replaceWith(true).onTermination()
                            .call(() -> tx.client().preparedQuery("select pg_advisory_unlock($1)").execute(Tuple.of(LOCK))
                                    .onFailure().recoverWithNull());
                }));
    }

    /**
     * Whether {@code table} has at least {@code rows} rows: a count that stops there, so it reads
     * at most that many rows (and the dead space on the way), to confirm what the statistics say.
     */
    public Uni<Boolean> atLeast(Tx tx, String relation, long rows) {
        return tx.client().preparedQuery("select count(*) from (select 1 from " + relation + " limit $1) x").execute(Tuple.of(rows))
                .map(rs -> rs.iterator().next().getLong(0) >= rows);
    }

    /** Rebuilds the index ({@link IndexSize#index}) without blocking the table's readers and writers (it must run outside a transaction). */
    public Uni<Void> rebuild(Tx tx, String index) {
        return tx.client().query("reindex index concurrently " + index).execute().replaceWithVoid();
    }

    /**
     * The batches table's size and what its rows need at its fill factor, when no batch is live
     * (nothing updates its rows then); null while one is. Its rows stay for good and are updated as
     * their lines settle, thousands of times a second: versions that find no room in their page
     * go to the table's end, so a million lines leave megabytes for a few rows that no plain
     * VACUUM can give back while a live row sits in the last page.
     */
    static final String BATCHES_SIZE = LineStore.compact("""
            select pg_relation_size('batches'),
                   (select coalesce(sum(pg_column_size(b.*)), 0) from batches b)::bigint
                   * 100 / coalesce((select substring(o from 'fillfactor=([0-9]+)')::int from pg_class c, unnest(c.reloptions) o
                                      where c.oid = 'batches'::regclass and o like 'fillfactor=%%'), 100)
             where not exists (select 1 from batches where status in %s)
            """.formatted(BatchStore.LIVE));

    /** The batches table's size and what its rows need, or null while a batch is live. */
    public Uni<long[]> batchesSize(Tx tx) {
        return tx.client().query(BATCHES_SIZE).execute().map(rows -> {
            if (rows.size() == 0) {
                return null;
            }
            Row r = rows.iterator().next();
            return new long[] { r.getLong(0), r.getLong(1) };
        });
    }

    /**
     * Rewrites the batches table compact ({@code VACUUM FULL}) if its lock comes within
     * {@code lockTimeoutMillis}: it takes the table for itself for the few milliseconds the rewrite
     * of a small table lasts, and statements that arrive meanwhile wait that long at most. False
     * when the lock did not come (it is tried again at the next run).
     */
    public Uni<Boolean> compactBatches(Tx tx, long lockTimeoutMillis) {
        return tx.client().query("set lock_timeout = " + Math.max(1, lockTimeoutMillis)).execute()
                .chain(() -> tx.client().query("vacuum full batches").execute().replaceWith(true)
                        .onFailure(e -> e instanceof PgException p && LOCK_NOT_AVAILABLE.equals(p.getSqlState())).recoverWithItem(false))
                // however it ended: the connection goes back to the pool, and the engine's statements must not inherit the timeout
                .onTermination().call(() -> tx.client().query("reset lock_timeout").execute().onFailure().recoverWithNull());
    }

    /** Drops what interrupted rebuilds of the tables' indexes left; their names. */
    public Uni<List<String>> dropLeftBehind(Tx tx, List<String> tables) {
        return tx.client().preparedQuery(LEFT_BEHIND).execute(Tuple.of((Object) tables.toArray(String[]::new))).chain(rows -> {
            List<String> names = new ArrayList<>();
            rows.forEach(r -> names.add(qualified(r.getString(0), r.getString(1))));
            Uni<Void> all = Uni.createFrom().voidItem();
            for (String name : names) {
                all = all.chain(() -> tx.client().query("drop index concurrently if exists " + name).execute().replaceWithVoid());
            }
            return all.replaceWith(names);
        });
    }

    /** A schema and a name from the catalog as a qualified identifier: our names are plain, but quote them anyway. */
    static String qualified(String schema, String name) {
        return quoted(schema) + '.' + quoted(name);
    }

    private static String quoted(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }
}
