package dev.openbatch.store;

import java.util.ArrayList;
import java.util.List;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The {@code engine_nodes} table: one heartbeat row per engine process. A line's claim lasts as
 * long as its holder's heartbeat, so keeping thousands of claims alive costs one row update. What
 * a process held goes back through {@link LineStore} (lines) and {@link BatchStore} (batch-level
 * claims), in the same transaction as the change to its row.
 */
public class NodeStore {
    static final String REGISTER = "insert into engine_nodes (node, heartbeat, alive_until, started_at) values ($1, $2, $3, $2)"
            + " on conflict (node) do update set heartbeat = $2, alive_until = $3, started_at = $2";
    static final String BEAT = "update engine_nodes set heartbeat = $2, alive_until = $3 where node = $1";
    static final String DEAD = "select node from engine_nodes where alive_until < $1 and node <> $2";
    static final String BURY = "delete from engine_nodes where node = $1 and alive_until < $2";
    static final String LEAVE = "delete from engine_nodes where node = $1";

    private final Transactions transactions;
    private final LineStore lines;
    private final BatchStore batches;

    public NodeStore(Transactions transactions, LineStore lines, BatchStore batches) {
        this.transactions = transactions;
        this.lines = lines;
        this.batches = batches;
    }

    /**
     * Starts a life of {@code node}: whatever an earlier life under the same name held goes back
     * to the queue first (fence+1, so its late writes change nothing), then the heartbeat row is
     * (re)written. Returns how many lines went back.
     */
    public Uni<Integer> register(String node, long now, long leaseMillis) {
        return transactions.run(tx -> lines.recover(tx, node)
                .call(() -> batches.releaseAllSteps(tx, node))
                .call(() -> tx.client().preparedQuery(REGISTER).execute(Tuple.of(node, now, now + leaseMillis))));
    }

    /**
     * Renews the heartbeat: alive for one more lease of this process's own. False when the row is
     * gone: another process declared this one dead and took its lines.
     */
    public Uni<Boolean> beat(String node, long now, long leaseMillis) {
        return transactions.autoCommit().client().preparedQuery(BEAT)
                .execute(Tuple.of(node, now, now + leaseMillis))
                .map(rs -> rs.rowCount() == 1);
    }

    /** Processes other than {@code self} whose own lease ran out before {@code now} without a heartbeat. */
    public Uni<List<String>> dead(String self, long now) {
        return transactions.autoCommit().client().preparedQuery(DEAD).execute(Tuple.of(now, self))
                .map(rows -> {
                    List<String> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(r.getString(0));
                    }
                    return out;
                });
    }

    /**
     * Declares {@code node} dead if its lease is still run out at {@code now}, and returns its
     * lines to the queue in the same transaction; -1 when it came back to life meanwhile.
     */
    public Uni<Integer> bury(String node, long now) {
        return transactions.run(tx -> tx.client().preparedQuery(BURY)
                .execute(Tuple.of(node, now))
                .chain(rs -> rs.rowCount() == 0 ? Uni.createFrom().item(-1) : lines.recover(tx, node)));
    }

    /**
     * Lines held in the name of a process that has no heartbeat row (it was declared dead while a
     * claim of its was committing) go back to the queue ({@link LineStore#recoverOrphans}).
     */
    public Uni<Integer> recoverOrphans() {
        return lines.recoverOrphans();
    }

    /**
     * A graceful goodbye: the row goes, with whatever is still held (given back) and the
     * batch-level claims of steps that ended (one still running keeps its claim until its lease
     * runs out: see {@link BatchStore#RELEASE_IDLE_STEPS}).
     */
    public Uni<Void> leave(String node) {
        return transactions.run(tx -> lines.recover(tx, node)
                .call(() -> batches.releaseIdleSteps(tx, node))
                .call(() -> tx.client().preparedQuery(LEAVE).execute(Tuple.of(node))))
                .replaceWithVoid();
    }
}
