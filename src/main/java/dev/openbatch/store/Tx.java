package dev.openbatch.store;

import io.vertx.mutiny.sqlclient.SqlClient;

/**
 * Where a store's statement runs: inside a transaction that {@link Transactions#run} opened, or
 * on its own ({@link Transactions#autoCommit}). Callers outside the stores pass it along to
 * compose several stores' statements into one transaction without touching the SQL client,
 * which only the stores see.
 */
public final class Tx {
    private final SqlClient client;

    Tx(SqlClient client) {
        this.client = client;
    }

    SqlClient client() {
        return client;
    }
}
