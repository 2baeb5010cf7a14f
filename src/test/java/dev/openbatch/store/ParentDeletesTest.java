package dev.openbatch.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.EngineOffProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * The rows made one per input line, {@code requests} and {@code file_lines}, have no foreign key
 * (V20: its check cost a trigger per inserted line); a deleted batch or file still takes its rows
 * with it, and only its own.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
class ParentDeletesTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    Pool pool;

    private final String run = UUID.randomUUID().toString().substring(0, 8);

    @AfterEach
    void cleanUp() {
        exec("delete from batches where id like 'pd-" + run + "-%'");
        exec("delete from files where id like 'file-pd-" + run + "-%'");
        exec("delete from jobs where id = 'job-pd-" + run + "'");
    }

    private void exec(String sql) {
        pool.query(sql).execute().await().atMost(WAIT);
    }

    private long count(String sql, String id) {
        return pool.preparedQuery(sql).execute(Tuple.of(id)).await().atMost(WAIT).iterator().next().getLong(0);
    }

    /** A batch with {@code lines} request rows. */
    private String batch(String suffix, int lines) {
        String id = "pd-" + run + "-" + suffix;
        exec("insert into jobs (id, project, name, completion_window, is_default, created_at, created_us) values ('job-pd-" + run
                + "', 'pd-" + run + "', 'default', '24h', false, 0, 0) on conflict do nothing");
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at, created_us,"
                + " expires_at, total, validated) values ('" + id + "', 'pd-" + run + "', 'job-pd-" + run + "',"
                + " '/v1/chat/completions', 'file-pd-none', '24h', 'in_progress', 'pd-up', 'fake-model', 0, 0, 4000000000, " + lines + ", true)");
        pool.preparedQuery("insert into requests (batch_id, line, custom_id, body) select $1, l, 'c' || l, '{}' from generate_series(1, $2) l")
                .execute(Tuple.of(id, lines)).await().atMost(WAIT);
        return id;
    }

    /** A file with one chunk and {@code lines} index rows. */
    private String file(String suffix, int lines) {
        String id = "file-pd-" + run + "-" + suffix;
        pool.withTransaction(c -> c.preparedQuery("insert into files (id, project, purpose, filename, bytes, status, created_at, created_us)"
                + " values ($1, 'pd-" + run + "', 'batch', 'in.jsonl', 3, 'processed', 0, 0)").execute(Tuple.of(id))
                .chain(() -> c.preparedQuery("insert into file_chunks (file_id, seq, data) values ($1, 0, '\\x7b7d0a'::bytea)").execute(Tuple.of(id)))
                .chain(() -> c.preparedQuery("insert into file_lines (file_id, line, seq, last_seq, body_at, body_length, error_late)"
                        + " select $1, l, 0, 0, -1, 0, false from generate_series(1, $2) l").execute(Tuple.of(id, lines))))
                .await().atMost(WAIT);
        return id;
    }

    @Test
    void aDeletedBatchTakesItsRequestRowsAndOnlyThose() {
        String gone = batch("gone", 30);
        String kept = batch("kept", 7);
        pool.preparedQuery("delete from batches where id = $1").execute(Tuple.of(gone)).await().atMost(WAIT);
        assertEquals(0, count("select count(*) from requests where batch_id = $1", gone), "the deleted batch's lines");
        assertEquals(7, count("select count(*) from requests where batch_id = $1", kept), "another batch's lines");
    }

    @Test
    void aDeletedFileTakesItsIndexRowsAndChunksAndOnlyThose() {
        String gone = file("gone", 25);
        String kept = file("kept", 4);
        pool.preparedQuery("delete from files where id = $1").execute(Tuple.of(gone)).await().atMost(WAIT);
        assertEquals(0, count("select count(*) from file_lines where file_id = $1", gone), "the deleted file's index rows");
        assertEquals(0, count("select count(*) from file_chunks where file_id = $1", gone), "the deleted file's chunks");
        assertEquals(4, count("select count(*) from file_lines where file_id = $1", kept), "another file's index rows");
    }
}
