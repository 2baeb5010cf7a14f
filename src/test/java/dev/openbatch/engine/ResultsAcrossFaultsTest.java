package dev.openbatch.engine;

import static dev.openbatch.engine.EngineTesting.awaitInFlight;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.await;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static dev.openbatch.testing.ResultsReader.assertSameLines;
import static dev.openbatch.testing.ResultsReader.fileLines;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.DriverManager;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.ResultsReader;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The results stream is exactly-once whatever happens to the engines: a client reading it across
 * a kill -9 of the engine that holds the lines, their takeover by two others, and retries of
 * lines gets each line once, and the union is the files; and a transaction that stamps lines but
 * commits after a later one never makes the reader skip them.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class ResultsAcrossFaultsTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void aStreamReadAcrossAKill9OfTheEngineHoldingTheLinesGetsEachLineOnce() throws Exception {
        String r = UUID.randomUUID().toString().substring(0, 8);
        int n = 90;
        // every line answers after 600 ms; every 6th fails twice first (retried), every 9th fails for good (a 400)
        String input = IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, "fake-model", "{\"latency_ms\":600"
                + (i % 9 == 0 ? ",\"statuses\":[400]" : i % 6 == 0 ? ",\"statuses\":[503,500,200]" : "") + "}"))
                .collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        Engine first = engine("results-first");
        await(KEY_A, id, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(30));

        // a client reads the stream from now until it is complete, every 100 ms
        ResultsReader reader = new ResultsReader(KEY_A, id, "");
        CompletableFuture<Void> reading = CompletableFuture.runAsync(() -> reader.readToEnd(Duration.ofSeconds(120), Duration.ofMillis(100)));

        // the first engine settles some lines, then dies with 16 lines in flight (their claims stay)
        await(KEY_A, id, b -> b.getInt("request_counts.completed") >= 20, Duration.ofSeconds(30));
        awaitInFlight(first, 16);
        first.halt();
        int beforeCrash = reader.lines().size();
        JsonPath atCrash = dev.openbatch.testing.Api.batch(KEY_A, id);
        int settledAtCrash = atCrash.getInt("request_counts.completed") + atCrash.getInt("request_counts.failed");

        // two processes take over once its heartbeat is older than the lease
        engine("results-second");
        engine("results-third");
        clock.set(Clock.offset(Clock.systemUTC(), config.lease().plusSeconds(1)));
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(90));
        reading.get(120, TimeUnit.SECONDS);

        assertTrue(beforeCrash > 0, "the client read results before the crash");
        assertTrue(reader.lines().size() > settledAtCrash, "and after it");
        Map<String, Integer> counts = reader.counts();
        assertEquals(n, counts.size(), "every line is in the stream");
        for (int i = 1; i <= n; i++) {
            assertEquals(1, counts.get(r + "-" + i), "line " + i + " is received exactly once");
        }
        assertSameLines(reader.lines(), fileLines(KEY_A, done.getString("output_file_id")), fileLines(KEY_A, done.getString("error_file_id")));
        assertEquals(n / 9, done.getInt("request_counts.failed"));
        assertTrue(IntStream.rangeClosed(1, n).anyMatch(i -> FAKE.attemptsOf(r + "-" + i) > 1 && i % 6 != 0),
                "some line in flight at the crash was sent again by a survivor");
    }

    /**
     * A line is numbered with its batch's row locked, as {@code LineStore.WRITE} does: a writer
     * that has numbered a line and not committed keeps the next writer of the batch waiting, so
     * numbers appear in commit order and nothing is skipped; and a transaction left open elsewhere
     * (an upload, another database's program) holds no line back.
     */
    @Test
    void linesComeInSettlementOrderAndNoOtherTransactionHoldsThemBack() throws Exception {
        String r = UUID.randomUUID().toString().substring(0, 8);
        String job = "job-rc-" + r;
        String batch = "batch-rc-" + r;
        exec("insert into jobs (id, project, name, completion_window, created_at, created_us) values ($1, 'project-a', 'rc', '24h', 0, 0)",
                Tuple.of(job));
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at,"
                + " created_us, total, validated) values ($1, 'project-a', $2, '/v1/chat/completions', 'none', '24h', 'in_progress', 'fake',"
                + " 'fake-model', 0, 0, 4, true)", Tuple.of(batch, job));
        exec("insert into requests (batch_id, line, custom_id, body) select $1, l, 'c' || l, '{}' from generate_series(1, 4) l", Tuple.of(batch));
        String settle = "with lk as (update batches set settled_seq = settled_seq + 1 where id = $1 returning settled_seq)"
                + " update requests set state = 'succeeded', status_code = 200, response = '{}', settled_seq = (select settled_seq from lk)"
                + " where batch_id = $1 and line = $2";
        SqlConnection idle = pool.getConnection().await().atMost(WAIT);
        SqlConnection a = pool.getConnection().await().atMost(WAIT);
        // and one in another database of the server, as any program's: the old xmin bound was the cluster's
        String url = ConfigProvider.getConfig().getValue("quarkus.datasource.jdbc.url", String.class);
        java.sql.Connection foreign = DriverManager.getConnection(url.substring(0, url.lastIndexOf('/') + 1) + "postgres", "postgres", "");
        try {
            // a transaction that took an id and stays open, as a slow upload's did
            idle.query("begin").execute().await().atMost(WAIT);
            idle.query("select pg_current_xact_id()").execute().await().atMost(WAIT);
            foreign.setAutoCommit(false);
            try (var st = foreign.createStatement()) {
                st.execute("select pg_current_xact_id()");
            }
            ResultsReader reader = new ResultsReader(KEY_A, batch, "");
            exec(settle, Tuple.of(batch, 4));
            assertEquals(1, reader.poll().lines(), "a settled line comes at once, whatever else is open");

            // writer A numbers line 1 and has not committed: writer B (line 2) waits for the batch's row
            a.query("begin").execute().await().atMost(WAIT);
            a.preparedQuery(settle).execute(Tuple.of(batch, 1)).await().atMost(WAIT);
            CompletableFuture<Void> b = CompletableFuture.runAsync(() -> exec(settle, Tuple.of(batch, 2)));
            EngineTesting.sleep(300);
            assertTrue(!b.isDone(), "B waits for A's lock on the batch row");
            assertEquals(0, reader.poll().lines(), "nothing new is visible while A is open");
            a.query("commit").execute().await().atMost(WAIT);
            b.get(10, TimeUnit.SECONDS);
            assertEquals(2, pollUntil(reader, 2));
            assertEquals(List.of("c4", "c1", "c2"),
                    reader.lines().stream().map(l -> new io.vertx.core.json.JsonObject(l).getString("custom_id")).toList(),
                    "in the order they settled");
            exec(settle, Tuple.of(batch, 3));
            assertEquals(1, reader.poll().lines(), "still while the other transaction stays open");
            assertEquals(Map.of("c1", 1, "c2", 1, "c3", 1, "c4", 1), reader.counts());
            assertTrue(!reader.complete(), "the batch has not ended");
        } finally {
            idle.query("rollback").execute().await().atMost(WAIT);
            idle.close().await().atMost(WAIT);
            foreign.rollback();
            foreign.close();
            a.close().await().atMost(WAIT);
            exec("delete from batches where id = $1", Tuple.of(batch));
            exec("delete from jobs where id = $1", Tuple.of(job));
        }
    }

    /** Polls until at least {@code n} lines came (20 s at most); how many came. */
    private static int pollUntil(ResultsReader reader, int n) {
        long end = System.currentTimeMillis() + 20_000;
        int got = 0;
        while (got < n && System.currentTimeMillis() < end) {
            got += reader.poll().lines();
            if (got < n) {
                EngineTesting.sleep(50);
            }
        }
        return got;
    }

    private void exec(String sql, Tuple args) {
        pool.preparedQuery(sql).execute(args).await().atMost(WAIT);
    }
}
