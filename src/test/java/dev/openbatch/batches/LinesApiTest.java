package dev.openbatch.batches;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.ResultsReader;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonObject;

/** GET /v1/batches/{id}/requests (every line's state) and POST /v1/batches/{id}/retry (only what failed, again). */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class LinesApiTest {
    private static final String CHAT = "/v1/chat/completions";

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    static JsonPath create(String key, String fileId, String extra) {
        String body = "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"" + CHAT + "\",\"completion_window\":\"24h\"" + extra + "}";
        return as(key).contentType("application/json").body(body).post("/v1/batches").then().statusCode(200).extract().jsonPath();
    }

    static JsonPath page(String id, String query) {
        return as(KEY_A).get("/v1/batches/" + id + "/requests" + (query.isEmpty() ? "" : "?" + query)).then().statusCode(200).extract().jsonPath();
    }

    /** The retry batch once the engine has copied its lines: past validating. */
    static JsonPath copied(String id) {
        return Api.await(KEY_A, id, b -> !"validating".equals(b.getString("status")), Duration.ofSeconds(30));
    }

    /** Every line of the batch, page after page (following last_id), with the filters given. */
    static List<Map<String, Object>> all(String id, String filters, int limit) {
        List<Map<String, Object>> out = new ArrayList<>();
        String after = null;
        while (true) {
            JsonPath p = page(id, "limit=" + limit + (filters.isEmpty() ? "" : "&" + filters) + (after == null ? "" : "&after=" + after));
            assertEquals("list", p.getString("object"));
            List<Map<String, Object>> data = p.getList("data");
            out.addAll(data);
            if (!data.isEmpty()) {
                assertEquals(data.get(0).get("id"), p.getString("first_id"));
                assertEquals(data.get(data.size() - 1).get("id"), p.getString("last_id"));
            }
            if (!p.getBoolean("has_more")) {
                return out;
            }
            after = p.getString("last_id");
        }
    }

    @Test
    void everyLineShowsItsStateAttemptsLastAnswerAndNextTry() {
        String r = run();
        List<String> lines = new ArrayList<>();
        lines.add(chatLine(r + "-ok", "fake-model", null));
        lines.add(chatLine(r + "-bad", "fake-model", "{\"statuses\":[400]}"));
        lines.add(chatLine(r + "-later", "fake-model", "{\"statuses\":[429,200],\"retry_after\":60}"));
        IntStream.rangeClosed(1, 30).forEach(i -> lines.add(chatLine(r + "-slow-" + i, "fake-model", "{\"latency_ms\":1000}")));
        String id = create(KEY_A, upload(KEY_A, String.join("\n", lines)), ",\"metadata\":{\"t\":\"lines\"}").getString("id");
        try {
            linesOfARunningBatch(r, id);
        } finally {
            as(KEY_A).post("/v1/batches/" + id + "/cancel"); // its slow lines hold the upstream's slots: they go now, whatever happened
        }
    }

    private void linesOfARunningBatch(String r, String id) {
        // wait until the first lines are done and the 429 line waits for its Retry-After
        Api.await(KEY_A, id, b -> b.getInt("request_counts.completed") >= 1 && b.getInt("request_counts.failed") >= 1
                && page(id, "state=queued&limit=1000").getList("data").stream().anyMatch(l -> ((Map<?, ?>) l).get("custom_id").equals(r + "-later")),
                Duration.ofSeconds(30));
        long now = System.currentTimeMillis() / 1000;

        List<Map<String, Object>> every = all(id, "", 7);
        assertEquals(33, every.size());
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < every.size(); i++) {
            Map<String, Object> l = every.get(i);
            assertEquals(i + 1, l.get("line"), "line order");
            assertEquals("batch.request", l.get("object"));
            assertTrue(((String) l.get("id")).startsWith("batch_req-"));
            assertTrue(ids.add((String) l.get("id")));
            assertEquals(Set.of("id", "object", "line", "custom_id", "state", "attempts", "status_code", "error", "next_attempt_at"), l.keySet());
        }
        Map<String, Object> ok = every.get(0);
        assertEquals(List.of(r + "-ok", "succeeded", 1, 200), List.of(ok.get("custom_id"), ok.get("state"), ok.get("attempts"), ok.get("status_code")));
        assertNull(ok.get("error"));
        assertNull(ok.get("next_attempt_at"));
        Map<String, Object> bad = every.get(1);
        assertEquals(List.of("failed", 1, 400), List.of(bad.get("state"), bad.get("attempts"), bad.get("status_code")));
        Map<String, Object> later = every.get(2);
        assertEquals(List.of("queued", 1, 429), List.of(later.get("state"), later.get("attempts"), later.get("status_code")));
        long next = ((Number) later.get("next_attempt_at")).longValue();
        assertTrue(next >= now + 50 && next <= now + 62, "Retry-After: 60 puts the next try a minute on: " + next + " vs now " + now);
        // the slow lines (1 s each, 16 at a time): done, running, or queued untried, whenever they are looked at
        for (Map<String, Object> l : every.subList(3, 33)) {
            switch ((String) l.get("state")) {
                case "succeeded" -> assertEquals(List.of(1, 200), List.of(l.get("attempts"), l.get("status_code")), l.toString());
                case "running" -> assertEquals(1, l.get("attempts"), l.toString());
                case "queued" -> {
                    assertEquals(0, l.get("attempts"), l.toString());
                    assertNull(l.get("next_attempt_at"), "a line never tried goes as soon as a slot is free");
                }
                default -> throw new AssertionError("unexpected " + l);
            }
        }

        // filters: by state (several at once), keeping line order and paging
        for (String filter : List.of("running", "succeeded,failed", "failed", "queued,running")) {
            List<Map<String, Object>> some = all(id, "state=" + filter, 3);
            for (int i = 0; i < some.size(); i++) {
                assertTrue(List.of(filter.split(",")).contains(some.get(i).get("state")), filter + ": " + some.get(i));
                assertTrue(i == 0 || (Integer) some.get(i).get("line") > (Integer) some.get(i - 1).get("line"), "line order");
            }
            if (filter.contains("failed")) {
                assertTrue(some.stream().anyMatch(l -> l.get("custom_id").equals(r + "-bad")));
            }
        }
        assertEquals(List.of(r + "-bad"), all(id, "state=failed", 10).stream().map(l -> l.get("custom_id")).toList());

        // cancelled: the lines that never ran carry the error file's code, and can be picked by it
        as(KEY_A).post("/v1/batches/" + id + "/cancel").then().statusCode(200);
        JsonPath done = awaitStatus(KEY_A, id, "cancelled", Duration.ofSeconds(30));
        List<Map<String, Object>> cancelled = all(id, "error_code=batch_cancelled", 4);
        assertEquals(done.getInt("request_counts.failed") - 1, cancelled.size(), "every failed line but the 400 was cancelled");
        assertTrue(cancelled.stream().anyMatch(l -> l.get("custom_id").equals(r + "-later")), "the line waiting for its Retry-After was");
        for (Map<String, Object> l : cancelled) {
            assertEquals("cancelled", l.get("state"));
            assertEquals("batch_cancelled", ((Map<?, ?>) l.get("error")).get("code"));
            assertFalse(((String) ((Map<?, ?>) l.get("error")).get("message")).isBlank());
        }
        assertEquals(cancelled, all(id, "state=cancelled&error_code=batch_cancelled", 3));
        assertEquals(List.of(), all(id, "state=failed&error_code=batch_cancelled", 3));
        // the ids are those of the error file's lines
        Map<String, String> fileIds = new java.util.HashMap<>();
        for (String line : ResultsReader.fileLines(KEY_A, done.getString("error_file_id"))) {
            JsonObject o = new JsonObject(line);
            fileIds.put(o.getString("custom_id"), o.getString("id"));
        }
        for (Map<String, Object> l : cancelled) {
            assertEquals(fileIds.get(l.get("custom_id")), l.get("id"), "a line has one id, in the error file and in this list");
        }
    }

    @Test
    void badRequestsForLinesGetTheEnvelope() {
        String r = run();
        String id = create(KEY_A, upload(KEY_A, chatLine(r + "-1", "fake-model", null) + "\n" + chatLine(r + "-2", "fake-model", null)), "")
                .getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEnvelope(as(KEY_B).get("/v1/batches/" + id + "/requests"), 404, null, "not_found");
        assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/requests?state=done"), 400, "state", "invalid_value");
        assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/requests?state=failed,"), 400, "state", "invalid_value");
        assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/requests?limit=1001"), 400, "limit", "invalid_value");
        assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/requests?after=batch_req-nope"), 400, "after", "invalid_value");
        // an id of another batch's line is no cursor here
        String other = create(KEY_A, upload(KEY_A, chatLine(r + "-3", "fake-model", null)), "").getString("id");
        awaitStatus(KEY_A, other, "completed", Duration.ofSeconds(30));
        String foreign = page(other, "").getString("first_id");
        assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/requests?after=" + foreign), 400, "after", "invalid_value");
        // a line's id, taken from the output file, is a cursor
        String firstOutputId = new JsonObject(ResultsReader.fileLines(KEY_A, done.getString("output_file_id")).stream()
                .filter(l -> l.contains(r + "-1")).findFirst().orElseThrow()).getString("id");
        assertEquals(List.of(r + "-2"), page(id, "after=" + firstOutputId).getList("data.custom_id"));
    }

    @Test
    void aRetryBatchCompletesTheLinesAFlakyUpstreamFailed() {
        String r = run();
        // lines 1-8 fail five times (the engine's five attempts in the tests' profile), then would succeed; 9-20 succeed at once
        String input = IntStream.rangeClosed(1, 20).mapToObj(i -> chatLine(r + "-" + i, "fake-model",
                i <= 8 ? "{\"statuses\":[503,503,503,503,503,200]}" : null)).collect(Collectors.joining("\n"));
        String fileId = upload(KEY_A, input);
        JsonPath first = create(KEY_A, fileId, ",\"metadata\":{\"team\":\"x\"}");
        JsonPath done = awaitStatus(KEY_A, first.getString("id"), "completed", Duration.ofSeconds(60));
        assertEquals(8, done.getInt("request_counts.failed"));
        int[] before = new int[21];
        for (int i = 1; i <= 20; i++) {
            before[i] = FAKE.attemptsOf(r + "-" + i);
            assertTrue(i > 8 || before[i] == 5, "five attempts, all failed: " + before[i]);
        }

        JsonPath retry = as(KEY_A).contentType("application/json").body("{}").post("/v1/batches/" + first.getString("id") + "/retry")
                .then().statusCode(200).extract().jsonPath();
        assertTrue(retry.getString("id").startsWith("batch-"));
        assertFalse(retry.getString("id").equals(first.getString("id")));
        // validating while the engine copies its lines (nothing is copied in the call), then in_progress
        assertTrue(Set.of("validating", "in_progress").contains(retry.getString("status")), retry.prettify());
        assertEquals(fileId, retry.getString("input_file_id"), "it names the input file of the batch it retries");
        assertEquals(first.getString("job_id"), retry.getString("job_id"));
        assertEquals(CHAT, retry.getString("endpoint"));
        assertEquals("fake-model", retry.getString("model"));
        assertEquals("24h", retry.getString("completion_window"));
        assertEquals(Map.of("team", "x", "retry_of", first.getString("id")), retry.getMap("metadata"));

        JsonPath again = awaitStatus(KEY_A, retry.getString("id"), "completed", Duration.ofSeconds(60));
        assertEquals(8, again.getInt("request_counts.total"));
        assertNotNull(again.get("in_progress_at"));
        assertEquals(8, again.getInt("request_counts.completed"));
        assertEquals(0, again.getInt("request_counts.failed"));
        assertNull(again.get("error_file_id"));
        List<String> out = ResultsReader.fileLines(KEY_A, again.getString("output_file_id"));
        assertEquals(IntStream.rangeClosed(1, 8).mapToObj(i -> r + "-" + i).collect(Collectors.toSet()),
                out.stream().map(l -> new JsonObject(l).getString("custom_id")).collect(Collectors.toSet()));
        for (int i = 1; i <= 8; i++) {
            assertTrue(FAKE.attemptsOf(r + "-" + i) > before[i], "the same body went upstream again, and succeeded");
        }
        for (int i = 9; i <= 20; i++) {
            assertEquals(before[i], FAKE.attemptsOf(r + "-" + i), "lines that succeeded are not retried");
        }
        // its lines are numbered from 1 in their old order
        assertEquals(IntStream.rangeClosed(1, 8).mapToObj(i -> r + "-" + i).toList(), all(retry.getString("id"), "", 100).stream()
                .map(l -> l.get("custom_id")).toList());
        // nothing more to retry in the retry
        assertEnvelope(as(KEY_A).post("/v1/batches/" + retry.getString("id") + "/retry"), 409, null, "nothing_to_retry");
    }

    @Test
    void aRetryTakesOnlyTheErrorCodesGivenAndItsOwnJobWindowAndMetadata() {
        String r = run();
        String fast = IntStream.rangeClosed(1, 3).mapToObj(i -> chatLine(r + "-bad-" + i, "fake-model", "{\"statuses\":[400]}"))
                .collect(Collectors.joining("\n"));
        String slow = IntStream.rangeClosed(1, 30).mapToObj(i -> chatLine(r + "-slow-" + i, "fake-model", "{\"latency_ms\":3000}"))
                .collect(Collectors.joining("\n"));
        String id = create(KEY_A, upload(KEY_A, fast + "\n" + slow), "").getString("id");
        // not ended yet: 409
        Api.await(KEY_A, id, b -> b.getInt("request_counts.failed") >= 3, Duration.ofSeconds(30));
        assertEnvelope(as(KEY_A).post("/v1/batches/" + id + "/retry"), 409, null, "batch_not_terminal");
        as(KEY_A).post("/v1/batches/" + id + "/cancel").then().statusCode(200);
        JsonPath cancelled = awaitStatus(KEY_A, id, "cancelled", Duration.ofSeconds(30));
        int notRun = cancelled.getInt("request_counts.failed") - 3;
        assertTrue(notRun > 0);

        String job = as(KEY_A).contentType("application/json").body("{\"name\":\"retries\",\"model\":\"fake-model\",\"completion_window\":\"2h\"}")
                .post("/v1/jobs").then().statusCode(200).extract().path("id");
        JsonPath retry = as(KEY_A).contentType("application/json")
                .body("{\"error_codes\":[\"batch_cancelled\"],\"job_id\":\"" + job + "\",\"completion_window\":\"3h\",\"metadata\":{\"why\":\"cancelled by mistake\"}}")
                .post("/v1/batches/" + id + "/retry").then().statusCode(200).extract().jsonPath();
        assertEquals(notRun, copied(retry.getString("id")).getInt("request_counts.total"), "only the cancelled lines, not the 400s");
        assertEquals(job, retry.getString("job_id"));
        assertEquals("3h", retry.getString("completion_window"));
        assertEquals(retry.getLong("created_at") + 3 * 3600, retry.getLong("expires_at"));
        assertEquals(Map.of("why", "cancelled by mistake", "retry_of", id), retry.getMap("metadata"));
        List<Map<String, Object>> lines = all(retry.getString("id"), "", 100);
        assertEquals(notRun, lines.size());
        lines.forEach(l -> assertTrue(((String) l.get("custom_id")).contains("-slow-")));
        as(KEY_A).post("/v1/batches/" + retry.getString("id") + "/cancel").then().statusCode(200);

        // no line with that code: 409, and no batch is made
        String newest = as(KEY_A).get("/v1/batches?limit=1").then().statusCode(200).extract().path("first_id");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"error_codes\":[\"upstream_auth_failed\"]}")
                .post("/v1/batches/" + id + "/retry"), 409, null, "nothing_to_retry");
        assertEquals(newest, as(KEY_A).get("/v1/batches?limit=1").then().statusCode(200).extract().path("first_id"));
        // a job for another model cannot take these lines
        String otherJob = as(KEY_A).contentType("application/json").body("{\"name\":\"other\",\"model\":\"fake-model-2\"}")
                .post("/v1/jobs").then().statusCode(200).extract().path("id");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"job_id\":\"" + otherJob + "\"}").post("/v1/batches/" + id + "/retry"),
                422, "job_id", "mismatched_model");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"job_id\":\"job-nope\"}").post("/v1/batches/" + id + "/retry"),
                404, null, "not_found");
        assertEnvelope(as(KEY_B).post("/v1/batches/" + id + "/retry"), 404, null, "not_found");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"error_codes\":\"x\"}").post("/v1/batches/" + id + "/retry"),
                400, "error_codes", "invalid_type");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"errors\":[]}").post("/v1/batches/" + id + "/retry"),
                400, "errors", "unknown_parameter");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"completion_window\":\"soon\"}").post("/v1/batches/" + id + "/retry"),
                400, "completion_window", "invalid_value");
        String sixteen = IntStream.rangeClosed(1, 16).mapToObj(i -> "\"k" + i + "\":\"v\"").collect(Collectors.joining(",", "{", "}"));
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"metadata\":" + sixteen + "}").post("/v1/batches/" + id + "/retry"),
                400, "metadata", "invalid_value");
    }

    private static io.restassured.response.Response retry(String key, String id, String body) {
        var req = as(KEY_A).header("Idempotency-Key", key);
        return (body == null ? req : req.contentType("application/json").body(body)).post("/v1/batches/" + id + "/retry");
    }

    @Test
    void aRetryWithAnIdempotencyKeyIsMadeOnce() throws Exception {
        String r = run();
        String input = IntStream.rangeClosed(1, 4).mapToObj(i -> chatLine(r + "-" + i, "fake-model", i <= 3 ? "{\"statuses\":[400]}" : null))
                .collect(Collectors.joining("\n"));
        String id = create(KEY_A, upload(KEY_A, input), "").getString("id");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        String other = create(KEY_A, upload(KEY_A, chatLine(r + "-other", "fake-model", "{\"statuses\":[400]}")), "").getString("id");
        awaitStatus(KEY_A, other, "completed", Duration.ofSeconds(30));

        // a repeat (a double click, a client's retry after a timeout) answers the first retry's batch, with or without its {}
        String key = "retry-" + r;
        JsonPath first = retry(key, id, "{}").then().statusCode(200).extract().jsonPath();
        assertEquals(3, copied(first.getString("id")).getInt("request_counts.total"));
        JsonPath again = retry(key, id, "{}").then().statusCode(200).extract().jsonPath();
        assertEquals(first.getString("id"), again.getString("id"));
        assertEquals(first.getLong("created_at"), again.getLong("created_at"));
        assertEquals(first.getString("id"), retry(key, id, null).then().statusCode(200).extract().path("id"));
        // the same key for another request is a client error, not a second batch: other parameters, another batch, a create
        String m = assertEnvelope(retry(key, id, "{\"metadata\":{\"n\":\"2\"}}"), 409, null, "idempotency_key_reused");
        assertTrue(m.contains(first.getString("id")), m);
        assertEnvelope(retry(key, other, "{}"), 409, null, "idempotency_key_reused");
        String createKey = "create-" + r;
        as(KEY_A).header("Idempotency-Key", createKey).contentType("application/json")
                .body("{\"input_file_id\":\"" + upload(KEY_A, chatLine(r + "-c", "fake-model", null)) + "\",\"endpoint\":\"" + CHAT
                        + "\",\"completion_window\":\"24h\"}")
                .post("/v1/batches").then().statusCode(200);
        assertEnvelope(retry(createKey, id, "{}"), 409, null, "idempotency_key_reused");
        assertEnvelope(retry("k".repeat(256), id, "{}"), 400, "Idempotency-Key", "invalid_value");

        // twins at once: one batch, and every twin answers it
        String twinKey = "twins-" + r;
        var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<String>> twins = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                twins.add(pool.submit(() -> retry(twinKey, id, "{\"metadata\":{\"n\":\"3\"}}").then().statusCode(200).extract().<String>path("id")));
            }
            Set<String> ids = new HashSet<>();
            for (var t : twins) {
                ids.add(t.get(30, java.util.concurrent.TimeUnit.SECONDS));
            }
            assertEquals(1, ids.size(), ids.toString());
        } finally {
            pool.shutdownNow();
        }

        // two keys, two retry batches: no more
        long retries = as(KEY_A).get("/v1/batches?limit=100").then().statusCode(200).extract().jsonPath().<Map<String, Object>>getList("data")
                .stream().filter(b -> b.get("metadata") instanceof Map<?, ?> md && id.equals(md.get("retry_of"))).count();
        assertEquals(2, retries);
        // without a key every retry makes a batch, as before
        String x = as(KEY_A).post("/v1/batches/" + id + "/retry").then().statusCode(200).extract().path("id");
        String y = as(KEY_A).post("/v1/batches/" + id + "/retry").then().statusCode(200).extract().path("id");
        assertFalse(x.equals(y));
    }

    @Test
    void aBatchThatFailedValidationOrHadNoFailuresHasNothingToRetry() {
        String r = run();
        String invalid = create(KEY_A, upload(KEY_A, "not json\n"), "").getString("id");
        awaitStatus(KEY_A, invalid, "failed", Duration.ofSeconds(30));
        assertEnvelope(as(KEY_A).post("/v1/batches/" + invalid + "/retry"), 409, null, "nothing_to_retry");
        String fine = create(KEY_A, upload(KEY_A, chatLine(r + "-1", "fake-model", null)), "").getString("id");
        awaitStatus(KEY_A, fine, "completed", Duration.ofSeconds(30));
        assertEnvelope(as(KEY_A).post("/v1/batches/" + fine + "/retry"), 409, null, "nothing_to_retry");
        // with or without a JSON body, but not with a body of another type
        assertEnvelope(as(KEY_A).contentType("application/json").post("/v1/batches/" + fine + "/retry"), 409, null, "nothing_to_retry");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{}").post("/v1/batches/" + fine + "/retry"), 409, null, "nothing_to_retry");
        assertEnvelope(as(KEY_A).contentType("text/plain").body("{\"error_codes\":[\"x\"]}").post("/v1/batches/" + fine + "/retry"),
                415, null, "unsupported_media_type");
    }
}
