package dev.openbatch.engine;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.TestClock;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonObject;
import jakarta.inject.Inject;

/** Batches run by this process's engine against a real HTTP fake upstream. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class EngineTest {
    private static final String CHAT = "/v1/chat/completions";

    @Inject
    TestClock clock;

    @Inject
    io.vertx.mutiny.sqlclient.Pool pool;

    private int running(String batchId) {
        return pool.preparedQuery("select count(*) from requests where batch_id = $1 and state = 'running'")
                .execute(io.vertx.mutiny.sqlclient.Tuple.of(batchId)).await().atMost(Duration.ofSeconds(10))
                .iterator().next().getInteger(0);
    }

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** custom_id -> parsed line, failing on any repeat. */
    static Map<String, JsonObject> byCustomId(String jsonl) {
        Map<String, JsonObject> out = new HashMap<>();
        if (jsonl == null) {
            return out;
        }
        for (String line : jsonl.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            JsonObject o = new JsonObject(line);
            JsonObject prev = out.put(o.getString("custom_id"), o);
            assertNull(prev, "custom_id " + o.getString("custom_id") + " appears twice");
        }
        return out;
    }

    static Map<String, JsonObject> file(String key, String fileId) {
        return fileId == null ? Map.of() : byCustomId(content(key, fileId));
    }

    @Test
    void runsEveryLineOnceAndWritesTheOutputFile() {
        String r = run();
        String input = IntStream.rangeClosed(1, 40).mapToObj(i -> chatLine(r + "-" + i, "fake-model", null))
                .collect(Collectors.joining("\n", "", "\n"));
        String fileId = upload(KEY_A, input);
        JsonPath created = createBatch(KEY_A, fileId, CHAT, "24h");
        assertEquals("validating", created.getString("status"));
        JsonPath done = awaitStatus(KEY_A, created.getString("id"), "completed", Duration.ofSeconds(30));

        assertEquals(40, done.getInt("request_counts.total"));
        assertEquals(40, done.getInt("request_counts.completed"));
        assertEquals(0, done.getInt("request_counts.failed"));
        assertEquals("fake-model", done.getString("model"));
        assertEquals(40 * 7, done.getLong("usage.input_tokens"));
        assertEquals(40 * 3, done.getLong("usage.output_tokens"));
        assertEquals(40 * 10, done.getLong("usage.total_tokens"));
        assertNotNull(done.get("in_progress_at"));
        assertNotNull(done.get("finalizing_at"));
        assertNotNull(done.get("completed_at"));
        assertNull(done.get("error_file_id"));

        Map<String, JsonObject> out = file(KEY_A, done.getString("output_file_id"));
        assertEquals(40, out.size());
        for (int i = 1; i <= 40; i++) {
            JsonObject line = out.get(r + "-" + i);
            assertNotNull(line, "line " + i + " missing from the output");
            assertTrue(line.getString("id").startsWith("batch_req-"));
            assertEquals(200, line.getJsonObject("response").getInteger("status_code"));
            assertNotNull(line.getJsonObject("response").getString("request_id"));
            assertEquals("echo " + r + "-" + i, line.getJsonObject("response").getJsonObject("body")
                    .getJsonArray("choices").getJsonObject(0).getJsonObject("message").getString("content"));
            assertTrue(line.containsKey("error") && line.getValue("error") == null);
            assertEquals(1, FAKE.attemptsOf(r + "-" + i), "line " + i + " was sent more than once");
        }
        // the body went upstream exactly as written, with the upstream's own key
        String expectedBody = "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"" + r + "-7\"}]}";
        assertTrue(FAKE.bodies.contains(expectedBody), "the body was changed on its way upstream");
        assertTrue(FAKE.authorizations.contains("Bearer sk-upstream-secret"));
        // the output file is the project's, purpose batch_output
        as(KEY_A).get("/v1/files/" + done.getString("output_file_id")).then().statusCode(200)
                .body("purpose", org.hamcrest.Matchers.equalTo("batch_output"));
        as(KEY_B).get("/v1/files/" + done.getString("output_file_id")).then().statusCode(404);
    }

    @Test
    void retriesWhatIsRetryableHonoursRetryAfterAndReportsTheRest() {
        String r = run();
        String input = String.join("\n",
                chatLine(r + "-flaky", "fake-model", "{\"statuses\":[500,503,200]}"),
                chatLine(r + "-limited", "fake-model", "{\"statuses\":[429,200],\"retry_after\":1}"),
                chatLine(r + "-bad", "fake-model", "{\"statuses\":[400]}"),
                chatLine(r + "-down", "fake-model", "{\"statuses\":[502]}"),
                chatLine(r + "-timeout", "fake-model", "{\"statuses\":[408,200]}"),
                chatLine(r + "-hang", "fake-model", "{\"hang\":true}"),
                chatLine(r + "-ok", "fake-model", null)) + "\n";
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));

        assertEquals(7, done.getInt("request_counts.total"));
        assertEquals(4, done.getInt("request_counts.completed"));
        assertEquals(3, done.getInt("request_counts.failed"));
        Map<String, JsonObject> out = file(KEY_A, done.getString("output_file_id"));
        Map<String, JsonObject> err = file(KEY_A, done.getString("error_file_id"));
        assertEquals(List.of(r + "-flaky", r + "-limited", r + "-ok", r + "-timeout").stream().sorted().toList(),
                out.keySet().stream().sorted().toList());
        assertEquals(3, FAKE.attemptsOf(r + "-flaky"));
        assertEquals(2, FAKE.attemptsOf(r + "-timeout"));
        List<Long> limited = FAKE.arrivals.get(r + "-limited");
        assertEquals(2, limited.size());
        assertTrue(limited.get(1) - limited.get(0) >= 950, "Retry-After: 1 was not honoured: " + (limited.get(1) - limited.get(0)) + " ms");

        // a 400 is not retried: the upstream's status and body go to the error file
        assertEquals(1, FAKE.attemptsOf(r + "-bad"));
        JsonObject bad = err.get(r + "-bad").getJsonObject("response");
        assertEquals(400, bad.getInteger("status_code"));
        assertTrue(bad.getJsonObject("body").getJsonObject("error").getString("message").contains("fake failure 400"));
        assertNull(err.get(r + "-bad").getValue("error"));
        // a 5xx that never clears is tried 5 times, then reported with the last answer
        assertEquals(5, FAKE.attemptsOf(r + "-down"));
        assertEquals(502, err.get(r + "-down").getJsonObject("response").getInteger("status_code"));
        // an upstream that never answers: 5 timeouts, then upstream_unreachable
        assertEquals(5, FAKE.attemptsOf(r + "-hang"));
        assertNull(err.get(r + "-hang").getValue("response"));
        assertEquals("upstream_unreachable", err.get(r + "-hang").getJsonObject("error").getString("code"));
    }

    @Test
    void anUpstreamThatRefusesEveryConnectionIsDrainedItsLinesWaitAndTheBatchEndsAtItsDeadline() {
        String r = run();
        String input = IntStream.rangeClosed(1, 3).mapToObj(i -> chatLine(r + "-" + i, "dead-model", null))
                .collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "1m").getString("id");
        dev.openbatch.testing.Api.await(KEY_A, id, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(20));
        EngineTesting.sleep(1500); // refused at once, again and again: the upstream is drained, nothing fails
        JsonPath mid = dev.openbatch.testing.Api.batch(KEY_A, id);
        assertEquals("in_progress", mid.getString("status"));
        assertEquals(0, mid.getInt("request_counts.failed"));
        List<Map<String, Object>> lines = as(KEY_A).get("/v1/batches/" + id + "/requests").then().statusCode(200).extract().jsonPath()
                .getList("data");
        assertEquals(3, lines.size());
        lines.forEach(l -> {
            assertEquals("queued", l.get("state"));
            assertEquals(0, l.get("attempts"), "a refused connection spends no attempt: " + l);
        });
        // its deadline ends it as any other
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2)));
        JsonPath done = awaitStatus(KEY_A, id, "expired", Duration.ofSeconds(20));
        assertEquals(3, done.getInt("request_counts.failed"));
        Map<String, JsonObject> err = file(KEY_A, done.getString("error_file_id"));
        assertEquals(3, err.size());
        err.values().forEach(l -> assertEquals("batch_expired", l.getJsonObject("error").getString("code")));
    }

    @Test
    void expiryKeepsFinishedResultsAndExpiresTheRestWithLinesInFlight() {
        String r = run();
        String fast = IntStream.rangeClosed(1, 5).mapToObj(i -> chatLine(r + "-fast-" + i, "fake-model", null))
                .collect(Collectors.joining("\n"));
        String slow = IntStream.rangeClosed(1, 30).mapToObj(i -> chatLine(r + "-slow-" + i, "fake-model", "{\"latency_ms\":1500}"))
                .collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, fast + "\n" + slow + "\n"), CHAT, "1m").getString("id");
        dev.openbatch.testing.Api.await(KEY_A, id, b -> b.getInt("request_counts.completed") >= 5, Duration.ofSeconds(20));
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2)));
        JsonPath done = awaitStatus(KEY_A, id, "expired", Duration.ofSeconds(20));

        assertNotNull(done.get("expired_at"));
        assertNull(done.get("completed_at"));
        int completed = done.getInt("request_counts.completed");
        int failed = done.getInt("request_counts.failed");
        assertEquals(35, done.getInt("request_counts.total"));
        assertEquals(35, completed + failed);
        Map<String, JsonObject> out = file(KEY_A, done.getString("output_file_id"));
        Map<String, JsonObject> err = file(KEY_A, done.getString("error_file_id"));
        assertEquals(completed, out.size());
        assertEquals(failed, err.size());
        assertTrue(failed > 0, "some slow lines should have been in flight or queued when the window ran out");
        for (int i = 1; i <= 5; i++) {
            assertTrue(out.containsKey(r + "-fast-" + i));
        }
        for (int i = 1; i <= 30; i++) {
            String k = r + "-slow-" + i;
            assertTrue(out.containsKey(k) ^ err.containsKey(k), k + " must be in exactly one file");
            if (err.containsKey(k)) {
                assertEquals("batch_expired", err.get(k).getJsonObject("error").getString("code"));
            }
        }
    }

    /**
     * Every line in flight when the window runs out: the aborted lines' writes may settle the batch
     * before its own expiry step runs, and it must still end expired, not completed.
     */
    @Test
    void aBatchWhoseLinesAreAllInFlightAtItsDeadlineEndsExpired() {
        String r = run();
        String slow = IntStream.rangeClosed(1, 8).mapToObj(i -> chatLine(r + "-all-" + i, "fake-model", "{\"latency_ms\":5000}"))
                .collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, slow + "\n"), CHAT, "1m").getString("id");
        dev.openbatch.testing.Api.await(KEY_A, id, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(20));
        long deadline = System.currentTimeMillis() + 20_000;
        while (running(id) < 8 && System.currentTimeMillis() < deadline) {
            EngineTesting.sleep(20);
        }
        assertEquals(8, running(id), "all lines in flight");
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2)));
        JsonPath done = awaitStatus(KEY_A, id, "expired", Duration.ofSeconds(20));
        assertEquals(0, done.getInt("request_counts.completed"));
        assertEquals(8, done.getInt("request_counts.failed"));
        assertNull(done.get("completed_at"));
        Map<String, JsonObject> err = file(KEY_A, done.getString("error_file_id"));
        assertEquals(8, err.size());
        err.values().forEach(l -> assertEquals("batch_expired", l.getJsonObject("error").getString("code")));
    }

    @Test
    void cancelStopsNewLinesAbortsThoseInFlightAndKeepsFinishedOnes() throws Exception {
        String r = run();
        String fast = IntStream.rangeClosed(1, 4).mapToObj(i -> chatLine(r + "-fast-" + i, "fake-model", null))
                .collect(Collectors.joining("\n"));
        String slow = IntStream.rangeClosed(1, 40).mapToObj(i -> chatLine(r + "-slow-" + i, "fake-model", "{\"latency_ms\":1500}"))
                .collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, fast + "\n" + slow), CHAT, "24h").getString("id");
        dev.openbatch.testing.Api.await(KEY_A, id, b -> b.getInt("request_counts.completed") >= 4, Duration.ofSeconds(20));
        JsonPath cancelling = as(KEY_A).post("/v1/batches/" + id + "/cancel").then().statusCode(200).extract().jsonPath();
        assertTrue(List.of("cancelling", "cancelled").contains(cancelling.getString("status")));
        assertNotNull(cancelling.get("cancelling_at"));
        int sentAtCancel = FAKE.total.get();
        JsonPath done = awaitStatus(KEY_A, id, "cancelled", Duration.ofSeconds(20));

        assertNotNull(done.get("cancelled_at"));
        // the requests in flight were aborted (their connections reset), not left to run for 1.5 s
        long until = System.currentTimeMillis() + 500;
        while (FAKE.inFlight.get() > 0 && System.currentTimeMillis() < until) {
            Thread.yield();
        }
        assertEquals(0, FAKE.inFlight.get(), "requests of a cancelled batch must be aborted upstream");
        int slowSent = (int) IntStream.rangeClosed(1, 40).filter(i -> FAKE.attemptsOf(r + "-slow-" + i) > 0).count();
        assertTrue(slowSent < 40, "cancel must stop new lines from starting");
        assertTrue(FAKE.total.get() - sentAtCancel <= 0 + 16, "no new line may start after the cancel was seen");
        Map<String, JsonObject> out = file(KEY_A, done.getString("output_file_id"));
        Map<String, JsonObject> err = file(KEY_A, done.getString("error_file_id"));
        assertEquals(44, out.size() + err.size());
        assertEquals(done.getInt("request_counts.completed"), out.size());
        assertEquals(done.getInt("request_counts.failed"), err.size());
        for (int i = 1; i <= 4; i++) {
            assertTrue(out.containsKey(r + "-fast-" + i), "finished results are kept");
        }
        err.values().forEach(l -> assertEquals("batch_cancelled", l.getJsonObject("error").getString("code")));
        // a cancelled batch cannot be cancelled into another state, nor can a completed one
        as(KEY_A).post("/v1/batches/" + id + "/cancel").then().statusCode(org.hamcrest.Matchers.anyOf(
                org.hamcrest.Matchers.equalTo(200), org.hamcrest.Matchers.equalTo(409)));
    }

    @Test
    void aSmallBatchOfAnotherProjectIsNotStarvedByAHugeOne() {
        String r = run();
        String huge = IntStream.rangeClosed(1, 400).mapToObj(i -> chatLine(r + "-huge-" + i, "fake-model", "{\"latency_ms\":100}"))
                .collect(Collectors.joining("\n"));
        String small = IntStream.rangeClosed(1, 5).mapToObj(i -> chatLine(r + "-small-" + i, "fake-model", "{\"latency_ms\":100}"))
                .collect(Collectors.joining("\n"));
        FAKE.maxInFlight.set(FAKE.inFlight.get());
        String hugeId = createBatch(KEY_A, upload(KEY_A, huge), CHAT, "24h").getString("id");
        dev.openbatch.testing.Api.await(KEY_A, hugeId, b -> b.getInt("request_counts.completed") > 20, Duration.ofSeconds(20));
        String smallId = createBatch(KEY_B, upload(KEY_B, small), CHAT, "24h").getString("id");
        awaitStatus(KEY_B, smallId, "completed", Duration.ofSeconds(20));
        JsonPath hugeNow = dev.openbatch.testing.Api.batch(KEY_A, hugeId);
        assertEquals("in_progress", hugeNow.getString("status"), "the small batch should finish long before the huge one");
        assertTrue(hugeNow.getInt("request_counts.completed") < 300);
        awaitStatus(KEY_A, hugeId, "completed", Duration.ofSeconds(60));
        assertTrue(FAKE.maxInFlight.get() <= 16, "max-concurrency is a ceiling: " + FAKE.maxInFlight.get());
    }
}
