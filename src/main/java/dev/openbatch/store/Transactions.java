package dev.openbatch.store;

import java.util.function.Function;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Units of work on the reactive pool: a transaction that several stores' statements join
 * (committed when the work's {@code Uni} succeeds, rolled back when it fails), or no
 * transaction at all (each statement commits on its own).
 */
@ApplicationScoped
public class Transactions {
    private final Pool pool;

    public Transactions(Pool pool) {
        this.pool = pool;
    }

    /** Runs {@code work} in one transaction on one connection. */
    public <T> Uni<T> run(Function<Tx, Uni<T>> work) {
        return pool.withTransaction(c -> work.apply(new Tx(c)));
    }

    /** For stores that hold the pool: {@link #run} without an instance. */
    static <T> Uni<T> run(Pool pool, Function<Tx, Uni<T>> work) {
        return pool.withTransaction(c -> work.apply(new Tx(c)));
    }

    /**
     * Runs {@code work} on one connection of the pool without a transaction: each statement
     * commits on its own, and what is tied to the session (an advisory lock) lasts until the
     * work ends and the connection goes back.
     */
    public <T> Uni<T> session(Function<Tx, Uni<T>> work) {
        return pool.withConnection(c -> work.apply(new Tx(c)));
    }

    /** Statements that need no transaction of their own: each runs on the pool and commits alone. */
    public Tx autoCommit() {
        return new Tx(pool);
    }
}
