package dev.openbatch.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The {@code upstream_shares} table (V7): how many lines each live process may have in flight to
 * each upstream, as it last published. Each statement commits on its own: a process's publication
 * must be committed before its read, so that of two processes raising at once the one that reads
 * last sees the other's raise ({@code engine.dispatch.CapShares} has the argument). A process's
 * rows go with its heartbeat row ({@link NodeStore}), by the table's cascade.
 */
public class ShareStore {
    static final String PUBLISH = """
            insert into upstream_shares (node, upstream, published)
            select $1, u.upstream, u.published from unnest($2::text[], $3::int[]) as u(upstream, published)
             where exists (select 1 from engine_nodes where node = $1)
            on conflict (node, upstream) do update set published = excluded.published""";
    static final String LIVE = """
            select s.node, s.upstream, s.published from upstream_shares s join engine_nodes n on n.node = s.node
             where n.alive_until > $1 and s.upstream = any($2::text[])""";

    /** One live process's publication for one upstream. */
    public record Share(String node, String upstream, int published) {
    }

    private final Transactions transactions;

    public ShareStore(Transactions transactions) {
        this.transactions = transactions;
    }

    /**
     * Writes what {@code node} publishes for each upstream, committed when this completes. False
     * (nothing written) when the process has no heartbeat row: it was declared dead, or has not
     * registered yet.
     */
    public Uni<Boolean> publish(String node, Map<String, Integer> published) {
        if (published.isEmpty()) {
            return Uni.createFrom().item(true);
        }
        String[] upstreams = published.keySet().toArray(String[]::new);
        Integer[] values = new Integer[upstreams.length];
        for (int i = 0; i < upstreams.length; i++) {
            values[i] = published.get(upstreams[i]);
        }
        return transactions.autoCommit().client().preparedQuery(PUBLISH).execute(Tuple.of(node, upstreams, values))
                .map(rs -> rs.rowCount() > 0);
    }

    /** The publications for these upstreams of every process whose heartbeat says it is alive after {@code now}. */
    public Uni<List<Share>> live(long now, Collection<String> upstreams) {
        return transactions.autoCommit().client().preparedQuery(LIVE).execute(Tuple.of(now, upstreams.toArray(String[]::new)))
                .map(rows -> {
                    List<Share> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Share(r.getString(0), r.getString(1), r.getInteger(2)));
                    }
                    return out;
                });
    }
}
