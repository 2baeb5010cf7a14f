package dev.openbatch.engine;
import dev.openbatch.engine.config.EngineConfig;
import dev.openbatch.store.BatchStore;

import static dev.openbatch.engine.EngineTesting.awaitInFlight;
import static dev.openbatch.engine.EngineTesting.lines;
import static dev.openbatch.engine.EngineTesting.sleep;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.await;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.batch;
import static dev.openbatch.testing.Api.content;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.testing.Configs;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/** The defects found by reading the old engine, each with the case that showed it. */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class EngineDefectsTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";

    /** A batch store that records which batches' steps were claimed, and fails the first claims when told to. */
    static final class RecordingBatchStore extends BatchStore {
        final List<String> claimed = new CopyOnWriteArrayList<>();
        final AtomicInteger failures;

        RecordingBatchStore(Pool pool, int failures) {
            super(pool);
            this.failures = new AtomicInteger(failures);
        }

        @Override
        public Uni<Long> claimStep(String batchId, String node, long nowMillis, long leaseMillis) {
            if (failures.getAndDecrement() > 0) {
                return Uni.createFrom().failure(new IllegalStateException("connection reset (a database blip, made by the test)"));
            }
            claimed.add(batchId);
            return super.claimStep(batchId, node, nowMillis, leaseMillis);
        }
    }

    private Engine engine(String node, EngineConfig c, BatchStore batches) {
        return batches == null ? engine(node, c) : start(builder(node).config(c).batches(batches));
    }

    private static String job(String key, int maxConcurrency) {
        return as(key).contentType("application/json")
                .body("{\"name\":\"cap-" + EngineTest.run() + "\",\"max_concurrency\":" + maxConcurrency + "}")
                .post("/v1/jobs").then().statusCode(200).extract().path("id");
    }

    private static String batchInJob(String key, String fileId, String jobId) {
        return as(key).contentType("application/json")
                .body("{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"" + CHAT + "\",\"job_id\":\"" + jobId + "\"}")
                .post("/v1/batches").then().statusCode(200).extract().path("id");
    }

    @Test
    void aBatchStepWhoseClaimFailedIsTriedAgain() {
        String r = EngineTest.run();
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, 5, null)), CHAT, "24h").getString("id");
        // the first claims of batch steps fail, as when the database blips; before the fix the batch stayed
        // in the engine's busy set and this process never looked at it again
        RecordingBatchStore store = new RecordingBatchStore(pool, 3);
        engine("blip", config, store);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(20));
        assertEquals(5, done.getInt("request_counts.completed"));
    }

    @Test
    void aProcessWhoseOwnLeaseLapsedNeverSendsItsLinesAgain() throws Exception {
        String r = EngineTest.run();
        int n = 12;
        String job = job(KEY_A, 4);
        String id = batchInJob(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":1500}")), job);
        Engine e = engine("paused", config, null);
        await(KEY_A, id, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(20));
        awaitInFlight(e, 4);
        assertEquals(4, e.inFlight(), "the job's max_concurrency");
        // a long pause: the process's own claims look expired by the clock. Before the fix its own tick returned
        // them to the queue and claimed them again while the first requests were still in flight.
        clock.set(Clock.offset(Clock.systemUTC(), config.lease().plusSeconds(5)));
        assertEquals(0, sweep(e), "a process never sweeps its own lines");
        tick(e);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEquals(n, done.getInt("request_counts.completed"), "no held count leaked: the capped job ran to the end");
        for (int i = 1; i <= n; i++) {
            assertEquals(1, FAKE.attemptsOf(r + "-" + i), "line " + i + " was sent twice by one living process");
        }
    }

    @Test
    void linesGivenBackUnsentKeepNoAttempt() throws Exception {
        String r = EngineTest.run();
        int n = 60;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":400}")), CHAT, "24h").getString("id");
        for (int restart = 1; restart <= 3; restart++) {
            Engine e = engine("rolling-" + restart, config, null);
            awaitInFlight(e, 1);
            e.stop(Duration.ofSeconds(5)).toCompletableFuture().get(20, TimeUnit.SECONDS);
            started.remove(e);
        }
        var rows = pool.preparedQuery("select count(*) filter (where state = 'queued'), count(*) filter (where state = 'queued' and attempts > 0)"
                + " from requests where batch_id = $1").execute(Tuple.of(id)).await().atMost(Duration.ofSeconds(5));
        var row = rows.iterator().next();
        assertTrue(row.getLong(0) > 0, "some lines were given back unsent");
        assertEquals(0L, row.getLong(1), "a line given back unsent must not have used an attempt");
        engine("last", config, null);
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
    }

    @Test
    void aBatchWhoseLastLineSettledBeforeItsDeadlineIsCompletedNotExpired() {
        String r = EngineTest.run();
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, 2, null)), CHAT, "24h").getString("id");
        long now = System.currentTimeMillis() / 1000;
        // every line has its result, but the process that would have finalized the batch went away; by the time
        // another one looks, the deadline has passed (the lines numbered in the batch's settlement sequence, as a write numbers them)
        pool.withTransaction(tx -> tx.preparedQuery("update batches set status = 'in_progress', validated = true, total = 2, completed = 2,"
                + " upstream = 'fake', model = 'fake-model', in_progress_at = $2, expires_at = $3, settled_seq = 2 where id = $1")
                .execute(Tuple.of(id, now - 100, now - 10))
                .chain(() -> tx.preparedQuery("insert into requests (batch_id, line, custom_id, body, state, attempts, fence, status_code,"
                        + " request_id, response, settled_seq) select $1, l, $2 || '-' || l, '{}', 'succeeded', 1, 2, 200, 'req_' || l,"
                        + " '{\"ok\":true}', l from generate_series(1, 2) l").execute(Tuple.of(id, r))))
                .await().atMost(Duration.ofSeconds(5));
        engine("finisher", config, null);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(20));
        assertEquals(2, done.getInt("request_counts.completed"));
        assertEquals(2, EngineTest.file(KEY_A, done.getString("output_file_id")).size());
    }

    @Test
    void oneProjectsLargeFilesDoNotDelayAnothersValidation() {
        String r = EngineTest.run();
        List<String> big = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            big.add(createBatch(KEY_A, upload(KEY_A, lines(r + "-a" + i, 3000, null)), CHAT, "24h").getString("id"));
        }
        String small = createBatch(KEY_B, upload(KEY_B, lines(r + "-b", 3, null)), CHAT, "24h").getString("id");
        RecordingBatchStore store = new RecordingBatchStore(pool, 0);
        engine("validator", Configs.of(config).validating(1), store);
        awaitStatus(KEY_B, small, "completed", Duration.ofSeconds(60));
        for (String id : big) {
            awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        }
        List<String> order = store.claimed.stream().filter(id -> id.equals(small) || big.contains(id)).distinct().toList();
        // project a's first file, then project b's, then a's others (before: a, a, a, then b)
        assertEquals(small, order.get(1), "validation order " + order);
    }

    @Test
    void aJobsMaxConcurrencyHoldsAcrossProcesses() {
        String r = EngineTest.run();
        int n = 30;
        String job = job(KEY_B, 3);
        String id = batchInJob(KEY_B, upload(KEY_B, lines(r, n, "{\"latency_ms\":150}")), job);
        FAKE.maxInFlight.set(FAKE.inFlight.get());
        Engine one = engine("cap-one", config, null);
        Engine two = engine("cap-two", config, null);
        JsonPath done = awaitStatus(KEY_B, id, "completed", Duration.ofSeconds(60));
        assertEquals(n, done.getInt("request_counts.completed"));
        assertTrue(FAKE.maxInFlight.get() <= 3, "max_concurrency 3 across two processes, saw " + FAKE.maxInFlight.get());
        assertEquals(n, sent(one) + sent(two), "every line sent once");
    }

    @Test
    void aProjectsBatchesWaitingForRetriesDoNotHideAnothersReadyBatch() {
        String r = EngineTest.run();
        String jobA = job(KEY_A, 1000);
        long now = System.currentTimeMillis() / 1000;
        // project a: 150 live batches, older and more urgent than anything else, every line waiting for a retry an hour away
        pool.withTransaction(tx -> tx.preparedQuery("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window,"
                + " status, upstream, model, created_at, created_us, in_progress_at, expires_at, total, validated)"
                + " select 'backoff-' || $1 || '-' || b, 'project-a', $2, '/v1/chat/completions', 'none', '24h', 'in_progress', 'fake',"
                + " 'fake-model', $3::bigint, b, $3::bigint, $3::bigint + 600, 2, true from generate_series(1, 150) b")
                .execute(Tuple.of(r, jobA, now))
                .chain(() -> tx.preparedQuery("insert into requests (batch_id, line, custom_id, body, attempts, not_before)"
                        + " select 'backoff-' || $1 || '-' || b, l, 'c' || l, '{}', 1, $2 from generate_series(1, 150) b, generate_series(1, 2) l")
                        .execute(Tuple.of(r, System.currentTimeMillis() + 3_600_000))))
                .await().atMost(Duration.ofSeconds(10));
        try {
            String ready = createBatch(KEY_B, upload(KEY_B, lines(r + "-b", 4, null)), CHAT, "24h").getString("id");
            engine("chooser", config, null);
            // before: the engine kept the first 100 live batches by deadline, then dropped those with nothing ready
            JsonPath done = awaitStatus(KEY_B, ready, "completed", Duration.ofSeconds(20));
            assertEquals(4, done.getInt("request_counts.completed"));
        } finally {
            pool.preparedQuery("delete from batches where id like $1").execute(Tuple.of("backoff-" + r + "-%")).await().atMost(Duration.ofSeconds(10));
        }
    }

    @Test
    void aProcessWithAShorterLeaseDoesNotDeclareALongerLivedOneDead() {
        String r = EngineTest.run();
        int n = 8;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":1500}")), CHAT, "24h").getString("id");
        Engine patient = engine("lease-30s", config, null);
        awaitInFlight(patient, n);
        Engine hasty = engine("lease-3s", Configs.of(config).withLease(Duration.ofSeconds(3)), null);
        // 5 s later: past the hasty one's lease, well within the patient one's (found by bench/sigterm.sh, where a
        // process with a 3 s lease buried a healthy one with a 30 s lease)
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofSeconds(5)));
        assertEquals(0, sweep(hasty), "a process is judged by its own lease");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(n, done.getInt("request_counts.completed"));
        for (int i = 1; i <= n; i++) {
            assertEquals(1, FAKE.attemptsOf(r + "-" + i), "line " + i + " was sent twice");
        }
    }

    @Test
    void aStoppingProcessKeepsItsHeartbeatThroughTheGrace() throws Exception {
        String r = EngineTest.run();
        int n = 6;
        // answers in 1.8 s (under the tests' 2 s request timeout), a lease of 0.6 s
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":1800}")), CHAT, "24h").getString("id");
        Engine stopping = engine("short-lease-stopping", Configs.of(config).withLease(Duration.ofMillis(600)), null);
        awaitInFlight(stopping, n);
        Engine other = engine("other", config, null);
        var stopped = stopping.stop(Duration.ofSeconds(10));
        sleep(1200); // twice the stopping process's lease: only its heartbeat keeps its lines its own
        // found by bench/sigterm.sh: the heartbeat stopped with the stop, and the other process took the lines in flight
        assertEquals(0, sweep(other), "a process in its grace is alive");
        stopped.toCompletableFuture().get(20, TimeUnit.SECONDS);
        started.remove(stopping);
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        for (int i = 1; i <= n; i++) {
            assertEquals(1, FAKE.attemptsOf(r + "-" + i), "line " + i + " was sent twice");
        }
    }

    /** A batch store that keeps in_progress batches from finalizing while told to, as an engine too busy to get to them would. */
    static final class SlowFinalizing extends BatchStore {
        final AtomicBoolean holding = new AtomicBoolean(true);

        SlowFinalizing(Pool pool) {
            super(pool);
        }

        @Override
        public Uni<Boolean> startFinalizing(String batchId, long fence, long nowSeconds, BatchStatus from) {
            return holding.get() && from == BatchStatus.IN_PROGRESS ? Uni.createFrom().item(false)
                    : super.startFinalizing(batchId, fence, nowSeconds, from);
        }
    }

    @Test
    void aCancelAfterEveryLineSettledLetsTheBatchComplete() {
        String r = EngineTest.run();
        int n = 4;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, null)), CHAT, "24h").getString("id");
        SlowFinalizing store = new SlowFinalizing(pool);
        engine("settled-cancel", config, store);
        await(KEY_A, id, b -> b.getInt("request_counts.completed") == n, Duration.ofSeconds(20));
        assertEquals("in_progress", batch(KEY_A, id).getString("status"), "every line settled, the batch not yet finalized");
        JsonPath cancelling = as(KEY_A).post("/v1/batches/" + id + "/cancel").then().statusCode(200).extract().jsonPath();
        assertEquals("cancelling", cancelling.getString("status"));
        // before the fix: cancelled, though the cancel cancelled nothing
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(20));
        assertNotNull(done.get("finalizing_at"));
        assertNotNull(done.get("completed_at"));
        assertNull(done.get("cancelled_at"));
        assertNotNull(done.get("cancelling_at"), "the cancel was asked for, and is recorded");
        assertEquals(n, done.getInt("request_counts.completed"));
        assertEquals(n, content(KEY_A, done.getString("output_file_id")).lines().count());
        assertNull(done.get("error_file_id"));
        // a cancel that did cancel lines still ends the batch cancelled
        String other = createBatch(KEY_A, upload(KEY_A, lines(r + "-slow", 6, "{\"latency_ms\":1500}")), CHAT, "24h").getString("id");
        await(KEY_A, other, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(20));
        as(KEY_A).post("/v1/batches/" + other + "/cancel").then().statusCode(200);
        awaitStatus(KEY_A, other, "cancelled", Duration.ofSeconds(20));
    }
}
