package dev.openbatch.store;

import java.util.ArrayList;
import java.util.List;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The webhook endpoints' stored secrets, for sealing them again under the current key
 * ({@code webhooks.SecretBox}): the rows whose secret or previous secret is not sealed under it,
 * a page at a time in id order and locked for the transaction, and their new values. The API's own
 * reads and writes of endpoints go through Hibernate ({@code WebhookEndpointRepository}).
 */
public final class EndpointSecretStore {
    /**
     * Up to $3 endpoints after id $1 whose secret or previous secret does not start with $2 (null:
     * every endpoint), that no other transaction holds (one rotating a secret, another process
     * sealing the same rows).
     */
    static final String NOT_CURRENT = LineStore.compact("""
            select id, secret, previous_secret from webhook_endpoints
             where id > $1 and ($2::text is null or not starts_with(secret, $2) or not starts_with(previous_secret, $2))
             order by id limit $3 for update skip locked
            """);

    static final String REPLACE = LineStore.compact("""
            update webhook_endpoints w set secret = v.secret, previous_secret = v.previous_secret
              from unnest($1::text[], $2::text[], $3::text[]) as v(id, secret, previous_secret)
             where w.id = v.id
            """);

    private EndpointSecretStore() {
    }

    /** An endpoint's secrets as stored (previous: null when there is none). */
    public record Stored(String id, String secret, String previousSecret) {
    }

    /** The next endpoints after {@code afterId} (in id order) with a secret that does not start with {@code prefix}, locked in {@code tx}. */
    public static Uni<List<Stored>> notUnder(Tx tx, String prefix, String afterId, int limit) {
        return tx.client().preparedQuery(NOT_CURRENT).execute(Tuple.of(afterId, prefix, limit)).map(rows -> {
            List<Stored> out = new ArrayList<>(rows.size());
            for (Row r : rows) {
                out.add(new Stored(r.getString(0), r.getString(1), r.getString(2)));
            }
            return out;
        });
    }

    /** Writes these endpoints' secrets (both columns, as given); how many rows. */
    public static Uni<Integer> replace(Tx tx, List<Stored> rows) {
        if (rows.isEmpty()) {
            return Uni.createFrom().item(0);
        }
        return tx.client().preparedQuery(REPLACE).execute(Tuple.of(rows.stream().map(Stored::id).toArray(String[]::new),
                        rows.stream().map(Stored::secret).toArray(String[]::new),
                        rows.stream().map(Stored::previousSecret).toArray(String[]::new)))
                .map(rs -> rs.rowCount());
    }
}
