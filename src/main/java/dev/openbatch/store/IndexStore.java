package dev.openbatch.store;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import io.smallrye.mutiny.Uni;
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

    /**
     * Per valid index of the tables $1 in this schema: its name, its table, its size, its entries
     * (the smaller of what the last vacuum counted in the index and the table's live rows now: the
     * latter drops as soon as rows are deleted; a reset or never-filled counter is not taken) and
     * the average width of its key columns from the planner's statistics (0 when none).
     */
    static final String SIZES = LineStore.compact("""
            select ic.relname, t.relname, pg_relation_size(i.indexrelid),
                   case when ic.reltuples < 0 then st.n_live_tup
                        when st.n_tup_ins + st.n_tup_upd + st.n_tup_del = 0 then ic.reltuples::bigint
                        else least(ic.reltuples::bigint, st.n_live_tup) end,
                   coalesce((select sum(s.avg_width) from pg_attribute a
                               join pg_stats s on s.schemaname = n.nspname and s.tablename = t.relname and s.attname = a.attname
                              where a.attrelid = i.indrelid and a.attnum = any(i.indkey)), 0)::int
              from pg_index i
              join pg_class ic on ic.oid = i.indexrelid
              join pg_class t on t.oid = i.indrelid
              join pg_namespace n on n.oid = t.relnamespace
              join pg_stat_user_tables st on st.relid = t.oid
             where n.nspname = current_schema() and t.relname = any($1) and i.indisvalid
            """);

    /**
     * The invalid indexes of the tables $1 that an interrupted {@code REINDEX CONCURRENTLY} leaves
     * behind ({@code _ccnew}: the half-built copy; {@code _ccold}: the old one, swapped out but not
     * yet dropped). They take writes and space until dropped.
     */
    static final String LEFT_BEHIND = LineStore.compact("""
            select ic.relname from pg_index i
              join pg_class ic on ic.oid = i.indexrelid
              join pg_class t on t.oid = i.indrelid
              join pg_namespace n on n.oid = t.relnamespace
             where n.nspname = current_schema() and t.relname = any($1) and not i.indisvalid
               and ic.relname ~ '_cc(new|old)[0-9]*$'
            """);

    /** An index's entry, as the statistics give it. */
    public record IndexSize(String index, String table, long bytes, long entries, int keyWidth) {
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
                    rows.forEach(r -> out.add(new IndexSize(r.getString(0), r.getString(1), r.getLong(2), r.getLong(3), r.getInteger(4))));
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
    public Uni<Boolean> atLeast(Tx tx, String table, long rows) {
        return tx.client().preparedQuery("select count(*) from (select 1 from " + quoted(table) + " limit $1) x").execute(Tuple.of(rows))
                .map(rs -> rs.iterator().next().getLong(0) >= rows);
    }

    /** Rebuilds the index without blocking the table's readers and writers (it must run outside a transaction). */
    public Uni<Void> rebuild(Tx tx, String index) {
        return tx.client().query("reindex index concurrently " + quoted(index)).execute().replaceWithVoid();
    }

    /** Drops what interrupted rebuilds of the tables' indexes left; their names. */
    public Uni<List<String>> dropLeftBehind(Tx tx, List<String> tables) {
        return tx.client().preparedQuery(LEFT_BEHIND).execute(Tuple.of((Object) tables.toArray(String[]::new))).chain(rows -> {
            List<String> names = new ArrayList<>();
            rows.forEach(r -> names.add(r.getString(0)));
            Uni<Void> all = Uni.createFrom().voidItem();
            for (String name : names) {
                all = all.chain(() -> tx.client().query("drop index concurrently if exists " + quoted(name)).execute().replaceWithVoid());
            }
            return all.replaceWith(names);
        });
    }

    /** A name from the catalog as an identifier: our tables' and indexes' names are plain, but quote it anyway. */
    static String quoted(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }
}
