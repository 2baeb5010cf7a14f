package dev.openbatch.store;

import static dev.openbatch.testing.Api.KEY_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.EngineOffProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;

/**
 * The claim gives each line its body: cut out of the input file's chunk for a row that points
 * there, as it is for a row that holds it, and null (never another line's bytes) when the file
 * is gone. No engine runs: the rows are claimed here.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
class ClaimBodiesTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    Pool pool;
    @Inject
    LineStore lines;

    private final String run = UUID.randomUUID().toString().substring(0, 8);

    @AfterEach
    void cleanUp() {
        exec("delete from batches where id like 'cb-" + run + "-%'");
        exec("delete from jobs where id = 'job-cb-" + run + "'");
    }

    private void exec(String sql) {
        pool.query(sql).execute().await().atMost(WAIT);
    }

    private String batch(String suffix, String fileId, int total) {
        String id = "cb-" + run + "-" + suffix;
        exec("insert into jobs (id, project, name, completion_window, is_default, created_at, created_us) values ('job-cb-" + run
                + "', 'cb-" + run + "', 'default', '24h', false, 0, 0) on conflict do nothing");
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at,"
                + " created_us, expires_at, total, validated) values ('" + id + "', 'cb-" + run + "', 'job-cb-" + run + "',"
                + " '/v1/chat/completions', '" + fileId + "', '24h', 'in_progress', 'cb-up', 'fake-model', 0, 0, 4000000000, " + total
                + ", true)");
        return id;
    }

    private Map<Integer, String> claim(String batchId) {
        return claim(batchId, 0, 0);
    }

    /** Claims up to 100 lines of the batch due at {@code now}, its never-tried lines read after line {@code after}. */
    private Map<Integer, String> claim(String batchId, int after, long now) {
        List<LineStore.Taken> taken = new Transactions(pool).run(tx -> lines.claim(tx, new String[] { batchId }, new Integer[] { 100 },
                new Integer[] { after }, now, "cb-node-" + run)).await().atMost(WAIT);
        Map<Integer, String> out = new HashMap<>();
        taken.forEach(t -> out.put(t.line(), t.body()));
        return out;
    }

    @Test
    void bodiesComeFromTheFileOrTheRowAndNoneWhenTheFileIsGone() {
        String[] bodies = { "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"one é\"}]}",
                "{\"model\": \"fake-model\", \"messages\": [{\"role\": \"user\", \"content\": \"two 日本\"}]}",
                "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"three 😀\"}]}" };
        StringBuilder file = new StringBuilder();
        for (int i = 0; i < bodies.length; i++) {
            file.append("{\"custom_id\":\"c").append(i).append("\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":")
                    .append(bodies[i]).append("}\n");
        }
        String fileId = Api.upload(KEY_A, file.toString());

        String b = batch("a", fileId, 4);
        new Transactions(pool).run(tx -> lines.insertFromFile(tx, b, fileId)).await().atMost(WAIT);
        exec("insert into requests (batch_id, line, custom_id, body) values ('" + b + "', 9, 'c9', '{\"inline\":true}')");
        Map<Integer, String> got = claim(b);
        assertEquals(4, got.size());
        for (int i = 0; i < bodies.length; i++) {
            assertEquals(bodies[i], got.get(i + 1), "line " + (i + 1));
        }
        assertEquals("{\"inline\":true}", got.get(9));

        String gone = batch("gone", "file-gone-" + run, 2);
        exec("insert into requests (batch_id, line, custom_id, body_seq, body_at, body_length) values ('" + gone + "', 1, 'g1', 0, 0, 10)");
        exec("insert into requests (batch_id, line, custom_id, body) values ('" + gone + "', 2, 'g2', '{}')");
        Map<Integer, String> none = claim(gone);
        assertNull(none.get(1));
        assertEquals("{}", none.get(2));
    }

    @Test
    void aClaimAfterALineSkipsTheNeverTriedLinesUpToItButNotTheRetriesDue() {
        String b = batch("after", "file-none-" + run, 10);
        // lines 1..10 never tried; line 2 and line 9 back in the queue as retries, due at 5
        exec("insert into requests (batch_id, line, custom_id, body, not_before) select '" + b + "', l, 'c' || l, '{}',"
                + " case when l in (2, 9) then 5 else 0 end from generate_series(1, 10) l");
        assertEquals(java.util.Set.of(7, 8, 10, 2, 9), claim(b, 6, 5).keySet(), "after line 6: 7, 8 and 10, and both retries");
        assertEquals(java.util.Set.of(1, 3, 4, 5, 6), claim(b, 0, 5).keySet(), "from the first line: the rest");
    }

    @Test
    void aBudgetOfLessThanAChunkKeepsTheLastChunkReadAndStillCutsEveryBody() {
        StringBuilder file = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            file.append("{\"custom_id\":\"c").append(i).append("\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":")
                    .append("{\"model\":\"fake-model\",\"n\":").append(i).append("}}\n");
        }
        String fileId = Api.upload(KEY_A, file.toString());
        String a = batch("x", fileId, 5);
        String b = batch("y", fileId, 5);
        Transactions tx = new Transactions(pool);
        tx.run(t -> lines.insertFromFile(t, a, fileId).chain(() -> lines.insertFromFile(t, b, fileId))).await().atMost(WAIT);
        BodyChunks small = new BodyChunks(1);
        List<BodyChunks.Raw> raw = new java.util.ArrayList<>();
        for (String batch : new String[] { a, b }) {
            pool.preparedQuery("select line, body_seq, body_at, body_length from requests where batch_id = $1 order by line")
                    .execute(io.vertx.mutiny.sqlclient.Tuple.of(batch)).await().atMost(WAIT)
                    .forEach(r -> raw.add(new BodyChunks.Raw(batch, r.getInteger(0), 1, 1, null, r.getInteger(1), r.getInteger(2), r.getInteger(3))));
        }
        List<LineStore.Taken> got = tx.run(t -> small.fill(t, raw)).await().atMost(WAIT);
        assertEquals(10, got.size());
        for (LineStore.Taken t : got) {
            assertEquals("{\"model\":\"fake-model\",\"n\":" + (t.line() - 1) + "}", t.body(), t.batchId() + " line " + t.line());
        }
        long chunk = file.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        assertEquals(chunk, small.bytes(), "one chunk kept: the last read");
        // a second claim finds it in memory, and reads only the other
        assertEquals(got, tx.run(t -> small.fill(t, raw)).await().atMost(WAIT));
    }
}
