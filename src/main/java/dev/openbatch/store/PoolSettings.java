package dev.openbatch.store;

import java.util.ArrayList;
import java.util.List;

import io.quarkus.reactive.pg.client.PgPoolCreator;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnectOptions;
import jakarta.inject.Singleton;

/**
 * Makes the process's PostgreSQL pool from Quarkus's settings with one change: the client caches
 * prepared statements (each parsed and planned once per connection) up to
 * {@link LineStore#CACHED_SQL_LIMIT} characters instead of its default 2,048. The write of a set
 * of results ({@link LineStore#WRITE}) updates the lines, their batches' counters and the usage
 * table in one statement, which is longer than 2,048 characters: under the default it would be
 * parsed and planned again at every write. Quarkus has no configuration key for this limit.
 */
@Singleton
public class PoolSettings implements PgPoolCreator {

    @Override
    public Pool create(Input input) {
        List<SqlConnectOptions> servers = new ArrayList<>();
        for (PgConnectOptions o : input.pgConnectOptionsList()) {
            servers.add(o.setPreparedStatementCacheSqlLimit(LineStore.CACHED_SQL_LIMIT));
        }
        return PgBuilder.pool().with(input.poolOptions()).connectingTo(servers).using(input.vertx()).build();
    }
}
