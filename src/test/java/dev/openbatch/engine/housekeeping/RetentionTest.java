package dev.openbatch.engine.housekeeping;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.testing.Envelope;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.TestClock;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * Retention (issue 21): a batch's lines go when its data expires (with its output, or
 * batch-data after its end), and the API then says so exactly (results 410, lines 410, retry
 * 409) while the batch object, its counts and the usage history stay; files expire by default;
 * old webhook events go with their deliveries; purges by two processes at once share the work.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class RetentionTest {
    private static final String CHAT = "/v1/chat/completions";
    private static final long DAY = 86_400;

    @Inject
    TestClock clock;
    @Inject
    Pool pool;
    @Inject
    Transactions transactions;
    @Inject
    BatchStore batches;
    @Inject
    LineStore lines;
    @Inject
    FileStore files;
    @Inject
    Time time;
    @Inject
    EngineMetrics metrics;
    @Inject
    MeterRegistry registry;
    @Inject
    RetentionConfig config;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    private static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** Three lines: two answered, the third refused by the upstream with a 400 (a failed line, which a retry would take). */
    private static String input(String r) {
        return chatLine(r + "-1", "fake-model", null) + "\n" + chatLine(r + "-2", "fake-model", null) + "\n"
                + chatLine(r + "-3", "fake-model", "{\"statuses\":[400]}") + "\n";
    }

    private BatchDataRetention batchData(RetentionConfig c) {
        return new BatchDataRetention(transactions, batches, lines, time, metrics, c);
    }

    private void purge() {
        batchData(config).run().await().atMost(Duration.ofSeconds(60));
    }

    private long count(String sql, Object... args) {
        return pool.preparedQuery(sql).execute(Tuple.from(args)).await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
    }

    private double purgedRows(String kind) {
        return registry.get("openbatch_retention_purged_rows").tag("kind", kind).counter().count();
    }

    @Test
    void afterTheOutputExpiresTheLinesAreGoneAndTheApiSaysSo() {
        String r = run();
        String fileId = upload(KEY_A, input(r));
        String id = as(KEY_A).contentType(ContentType.JSON).body(Map.of("input_file_id", fileId, "endpoint", CHAT, "completion_window", "24h",
                "output_expires_after", Map.of("anchor", "created_at", "seconds", 3600))).post("/v1/batches")
                .then().statusCode(200).extract().jsonPath().getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(2, done.getInt("request_counts.completed"));
        assertEquals(1, done.getInt("request_counts.failed"));
        String output = done.getString("output_file_id");
        assertEquals(done.getLong("completed_at") + 3600, as(KEY_A).get("/v1/files/" + output).then().statusCode(200).extract().jsonPath()
                .getLong("expires_at"));
        assertEquals(3, as(KEY_A).get("/v1/batches/" + id + "/results").then().statusCode(200).extract().asString().lines().count());
        long usage = count("select coalesce(sum(requests), 0) from usage_hourly where project = 'project-a'");
        double before = purgedRows(EngineMetrics.PURGED_LINES);

        clock.advance(Duration.ofMinutes(50)); // not yet: the output expires an hour after the batch ended
        purge();
        assertEquals(3, count("select count(*) from requests where batch_id = $1", id));
        as(KEY_A).get("/v1/batches/" + id + "/requests").then().statusCode(200);

        clock.advance(Duration.ofMinutes(20));
        purge();
        assertEquals(0, count("select count(*) from requests where batch_id = $1", id), "its bodies and answers are deleted");
        assertTrue(purgedRows(EngineMetrics.PURGED_LINES) - before >= 3, "the purged lines are counted");
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/results"), 410, null, "results_expired");
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/requests"), 410, null, "data_expired");
        Envelope.assertEnvelope(as(KEY_A).post("/v1/batches/" + id + "/retry"), 409, null, "data_expired");
        // the batch stays, as it was
        JsonPath after = as(KEY_A).get("/v1/batches/" + id).then().statusCode(200).extract().jsonPath();
        assertEquals("completed", after.getString("status"));
        assertEquals(3, after.getInt("request_counts.total"));
        assertEquals(2, after.getInt("request_counts.completed"));
        assertEquals(output, after.getString("output_file_id"));
        assertEquals(usage, count("select coalesce(sum(requests), 0) from usage_hourly where project = 'project-a'"), "usage history stays");
        // its output file goes with its expiry
        new FileRetention(files, time, metrics, config).run().await().atMost(Duration.ofSeconds(60));
        as(KEY_A).get("/v1/files/" + output).then().statusCode(404);
    }

    @Test
    void withoutAnOutputExpiryTheLinesStayForBatchDataAndFilesGetTheDefaultExpiry() {
        String r = run();
        JsonPath file = as(KEY_A).multiPart("file", "in.jsonl", input(r).getBytes(), "application/jsonl").multiPart("purpose", "batch")
                .post("/v1/files").then().statusCode(200).extract().jsonPath();
        assertEquals(file.getLong("created_at") + 30 * DAY, file.getLong("expires_at"), "an upload without expires_after expires in 30 days");
        String id = createBatch(KEY_A, file.getString("id"), CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        long ended = done.getLong("completed_at");
        assertEquals(ended + 30 * DAY, as(KEY_A).get("/v1/files/" + done.getString("output_file_id")).then().statusCode(200).extract()
                .jsonPath().getLong("expires_at"), "an output file without output_expires_after too");
        assertEquals(ended + 30 * DAY, as(KEY_A).get("/v1/files/" + done.getString("error_file_id")).then().statusCode(200).extract()
                .jsonPath().getLong("expires_at"));

        // (no batch is made while the clock is moved: its created_at would lie in the future for the other tests' lists)
        clock.advance(Duration.ofDays(29));
        purge();
        assertEquals(3, as(KEY_A).get("/v1/batches/" + id + "/results").then().statusCode(200).extract().asString().lines().count());
        assertEquals(3, as(KEY_A).get("/v1/batches/" + id + "/requests").then().statusCode(200).extract().jsonPath().getList("data").size());
        assertEquals(3, count("select count(*) from requests where batch_id = $1", id), "kept for 30 days, a retry would copy them");

        clock.advance(Duration.ofDays(2));
        purge();
        assertEquals(0, count("select count(*) from requests where batch_id = $1", id));
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/results"), 410, null, "results_expired");
        Envelope.assertEnvelope(as(KEY_A).post("/v1/batches/" + id + "/retry"), 409, null, "data_expired");
        assertEquals(3, as(KEY_A).get("/v1/batches/" + id).then().statusCode(200).extract().jsonPath().getInt("request_counts.total"));
    }

    /** A batch of {@code n} lines that ended, its data due since {@code dueAt}, inserted as the engine leaves one. */
    private String endedBatch(String r, int n, long dueAt) {
        String id = "ret-" + r;
        String job = "job-ret-" + r;
        pool.withTransaction(tx -> tx.preparedQuery("insert into jobs (id, project, name, completion_window, created_at, created_us)"
                + " values ($1, 'project-a', 'retention', '24h', 0, 0)").execute(Tuple.of(job))
                .chain(() -> tx.preparedQuery("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status,"
                        + " upstream, model, created_at, created_us, completed_at, total, completed, validated, data_expires_at)"
                        + " values ($1, 'project-a', $2, '/v1/chat/completions', 'none', '24h', 'completed', 'fake', 'fake-model', 0, 0, 0, $3, $3,"
                        + " true, $4)").execute(Tuple.of(id, job, n, dueAt)))
                .chain(() -> tx.preparedQuery("insert into requests (batch_id, line, custom_id, body, state, response, settled_seq)"
                        + " select $1, l, 'c' || l, repeat('b', 300), 'succeeded', repeat('a', 300), l"
                        + " from generate_series(1, $2) l where l % 7 <> 3").execute(Tuple.of(id, n))))
                .await().atMost(Duration.ofSeconds(30));
        return id;
    }

    @Test
    void twoProcessesPurgingAtOnceShareTheWorkInSmallTransactions() {
        String r = run();
        int n = 2_000;
        String id = endedBatch(r, n, time.seconds() - 10);
        long rows = count("select count(*) from requests where batch_id = $1", id); // lines with gaps, as blank lines leave
        double before = purgedRows(EngineMetrics.PURGED_LINES);
        RetentionConfig small = RetentionSettings.rows(config, 100);
        BatchDataRetention a = batchData(small);
        BatchDataRetention b = batchData(small);
        Uni.join().all(a.run(), b.run()).andFailFast().await().atMost(Duration.ofSeconds(60));
        assertEquals(0, count("select count(*) from requests where batch_id = $1", id));
        Row row = pool.preparedQuery("select data_purged_at, data_purge_done from batches where id = $1").execute(Tuple.of(id))
                .await().atMost(Duration.ofSeconds(10)).iterator().next();
        assertNotNull(row.getLong(0));
        assertTrue(row.getBoolean(1));
        // every line deleted once: the counter moved by exactly the rows (whoever deleted them, this process's engine included)
        assertEquals(rows, purgedRows(EngineMetrics.PURGED_LINES) - before, 0.0);
        pool.preparedQuery("delete from batches where id = $1").execute(Tuple.of(id)).await().atMost(Duration.ofSeconds(10));
    }

    @Test
    void oldWebhookEventsGoWithTheirDeliveriesButAPendingOneStays() {
        String r = run();
        long now = time.seconds();
        String endpoint = "webhook-ret-" + r;
        pool.withTransaction(tx -> tx.preparedQuery("insert into webhook_endpoints (id, project, url, name, event_types, secret, secret_hint,"
                + " created_at, created_us, updated_at) values ($1, 'project-a', 'https://example.com/h', 'n', 'batch.completed', 'whsec_x',"
                + " 'whsec_...ec_x', 0, 0, 0)")
                .execute(Tuple.of(endpoint))
                .chain(() -> tx.preparedQuery("insert into webhook_events (id, project, type, batch_id, created_at, created_us)"
                        + " values ($1 || '-old', 'project-a', 'batch.completed', $1 || '-b1', $2, 0),"
                        + " ($1 || '-pending', 'project-a', 'batch.completed', $1 || '-b2', $2, 0),"
                        + " ($1 || '-new', 'project-a', 'batch.completed', $1 || '-b3', $3, 0)")
                        .execute(Tuple.of("evt_ret_" + r, now - 8 * DAY, now - DAY)))
                .chain(() -> tx.preparedQuery("insert into webhook_deliveries (endpoint_id, event_id, project, state, next_attempt_at, created_at,"
                        + " created_us) values ($1, $2 || '-old', 'project-a', 'succeeded', 0, 0, 0), ($1, $2 || '-pending', 'project-a', 'pending',"
                        + " $3, 0, 0), ($1, $2 || '-new', 'project-a', 'failed', 0, 0, 0)")
                        .execute(Tuple.of(endpoint, "evt_ret_" + r, (now + DAY) * 1000))))
                .await().atMost(Duration.ofSeconds(10));
        try {
            double events = purgedRows(EngineMetrics.PURGED_WEBHOOK_EVENTS);
            new WebhookRetention(transactions, time, metrics, config).run().await().atMost(Duration.ofSeconds(60));
            assertEquals(0, count("select count(*) from webhook_events where id = $1", "evt_ret_" + r + "-old"), "older than 7 days: gone");
            assertEquals(0, count("select count(*) from webhook_deliveries where event_id = $1", "evt_ret_" + r + "-old"));
            assertEquals(1, count("select count(*) from webhook_deliveries where event_id = $1", "evt_ret_" + r + "-pending"),
                    "a delivery still being tried is kept");
            assertEquals(1, count("select count(*) from webhook_events where id = $1", "evt_ret_" + r + "-new"));
            assertTrue(purgedRows(EngineMetrics.PURGED_WEBHOOK_EVENTS) - events >= 1);
        } finally {
            pool.preparedQuery("delete from webhook_endpoints where id = $1").execute(Tuple.of(endpoint)).await().atMost(Duration.ofSeconds(10));
            pool.preparedQuery("delete from webhook_events where id like $1").execute(Tuple.of("evt_ret_" + r + "%")).await()
                    .atMost(Duration.ofSeconds(10));
        }
    }
}
