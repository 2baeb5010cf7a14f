package dev.openbatch.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.EngineOffProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Transaction;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * A process's goodbye ({@link NodeStore#leave}) does not wait for a step of its own that still
 * holds its batch's row (a cancel of a million lines runs for seconds, and a SIGTERM must not wait
 * for it): that claim is left to its lease; the others, and the heartbeat row, go.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
class NodeLeaveTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    Pool pool;
    @Inject
    LineStore lines;
    @Inject
    BatchStore batches;

    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private final String node = "nl-node-" + run;

    @AfterEach
    void cleanUp() {
        exec("delete from batches where id like 'nl-" + run + "-%'");
        exec("delete from jobs where id = 'job-nl-" + run + "'");
        exec("delete from engine_nodes where node = '" + node + "'");
    }

    private void exec(String sql) {
        pool.query(sql).execute().await().atMost(WAIT);
    }

    /** A batch whose step {@link #node} claimed. */
    private String claimedBatch(String suffix) {
        String id = "nl-" + run + "-" + suffix;
        exec("insert into jobs (id, project, name, completion_window, is_default, created_at, created_us) values ('job-nl-" + run
                + "', 'nl-" + run + "', 'default', '24h', false, 0, 0) on conflict do nothing");
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at, created_us,"
                + " expires_at, total, validated, claimed_by, lease_until) values ('" + id + "', 'nl-" + run + "', 'job-nl-" + run + "',"
                + " '/v1/chat/completions', 'file-nl-none', '24h', 'cancelling', 'nl-up', 'fake-model', 0, 0, 4000000000, 0, true, '" + node
                + "', 9000000000000)");
        return id;
    }

    private String claimedBy(String id) {
        return pool.preparedQuery("select claimed_by from batches where id = $1").execute(Tuple.of(id)).await().atMost(WAIT)
                .iterator().next().getString(0);
    }

    @Test
    void aGoodbyeLeavesTheClaimOfAStepStillRunningAndReleasesTheRest() {
        String running = claimedBatch("running");
        String idle = claimedBatch("idle");
        exec("insert into engine_nodes (node, heartbeat, alive_until, started_at) values ('" + node + "', 0, 9000000000000, 0)");
        NodeStore nodes = new NodeStore(new Transactions(pool), lines, batches);

        // the step that runs on: its transaction has the batch's row (as a CANCEL_CHUNK does)
        SqlConnection step = pool.getConnection().await().atMost(WAIT);
        Transaction tx = step.begin().await().atMost(WAIT);
        try {
            step.preparedQuery("update batches set failed = failed + 1 where id = $1").execute(Tuple.of(running)).await().atMost(WAIT);
            long start = System.nanoTime();
            nodes.leave(node).await().atMost(Duration.ofSeconds(10));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms < 5000, "the goodbye took " + ms + " ms");
        } finally {
            tx.rollback().await().atMost(WAIT);
            step.close().await().atMost(WAIT);
        }
        assertEquals(node, claimedBy(running), "the running step's claim is left to its lease");
        assertNull(claimedBy(idle));
        assertEquals(0L, pool.preparedQuery("select count(*) from engine_nodes where node = $1").execute(Tuple.of(node)).await().atMost(WAIT)
                .iterator().next().getLong(0));
    }
}
