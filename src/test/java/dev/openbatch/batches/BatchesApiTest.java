package dev.openbatch.batches;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;

@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class BatchesApiTest {
    /** Every field of seed-get-batch.txt, plus model, usage and openbatch's paused. */
    static final Set<String> BATCH_KEYS = Set.of("id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status",
            "output_file_id", "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at",
            "failed_at", "expired_at", "cancelling_at", "cancelled_at", "request_counts", "metadata", "job_id", "model", "usage", "paused");
    static final String CHAT = "/v1/chat/completions";

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    static String file(String run, int lines, String fake) {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= lines; i++) {
            sb.append(Api.chatLine(run + "-" + i, "fake-model", fake)).append('\n');
        }
        return Api.upload(KEY_A, sb.toString());
    }

    static Response create(String key, String json) {
        return as(key).contentType("application/json").body(json).post("/v1/batches");
    }

    static String body(String fileId) {
        return "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"" + CHAT + "\"";
    }

    static String defaultJobId(String key) {
        String after = null;
        while (true) {
            var req = as(key).queryParam("limit", 100);
            if (after != null) {
                req.queryParam("after", after);
            }
            JsonPath page = req.get("/v1/jobs").then().statusCode(200).extract().jsonPath();
            for (Map<String, Object> j : page.<Map<String, Object>>getList("data")) {
                if ("default".equals(j.get("name"))) {
                    return (String) j.get("id");
                }
            }
            if (!page.getBoolean("has_more")) {
                throw new AssertionError("no default job");
            }
            after = page.getString("last_id");
        }
    }

    @Test
    void createAnswersAtOnceWithValidatingAndEveryField() {
        String fileId = file(run(), 2, null);
        long before = System.currentTimeMillis() / 1000;
        Response r = create(KEY_A, body(fileId) + ",\"completion_window\":\"24h\",\"metadata\":{\"purpose\":\"test\"}}");
        r.then().statusCode(200);
        JsonPath b = r.jsonPath();
        assertEquals(BATCH_KEYS, b.getMap("$").keySet());
        String id = b.getString("id");
        assertTrue(id.matches("batch-[0-9A-Za-z]{24}"), id);
        assertEquals("batch", b.getString("object"));
        assertEquals(CHAT, b.getString("endpoint"));
        assertEquals(fileId, b.getString("input_file_id"));
        assertEquals("24h", b.getString("completion_window"));
        assertEquals("validating", b.getString("status"));
        long created = b.getLong("created_at");
        assertTrue(created >= before && created <= before + 5);
        assertEquals(created + 86400, b.getLong("expires_at"));
        for (String none : List.of("errors", "output_file_id", "error_file_id", "in_progress_at", "finalizing_at", "completed_at",
                "failed_at", "expired_at", "cancelling_at", "cancelled_at", "model")) {
            assertNull(b.get(none), none);
        }
        assertEquals(Map.of("total", 0, "completed", 0, "failed", 0), b.getMap("request_counts"));
        assertEquals(0, b.getInt("usage.input_tokens"));
        assertEquals(0, b.getInt("usage.output_tokens"));
        assertEquals(0, b.getInt("usage.total_tokens"));
        assertEquals(Map.of("purpose", "test"), b.getMap("metadata"));
        assertEquals(defaultJobId(KEY_A), b.getString("job_id"));

        // then it runs to the end, each step leaving its timestamp
        JsonPath done = Api.awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(BATCH_KEYS, done.getMap("$").keySet());
        assertEquals("fake-model", done.getString("model"));
        assertEquals(Map.of("total", 2, "completed", 2, "failed", 0), done.getMap("request_counts"));
        long inProgress = done.getLong("in_progress_at");
        long finalizing = done.getLong("finalizing_at");
        long completed = done.getLong("completed_at");
        assertTrue(created <= inProgress && inProgress <= finalizing && finalizing <= completed);
        assertNotNull(done.getString("output_file_id"));
        for (String none : List.of("errors", "error_file_id", "failed_at", "expired_at", "cancelling_at", "cancelled_at")) {
            assertNull(done.get(none), none);
        }
        assertEquals(14, done.getInt("usage.input_tokens"));
        assertEquals(6, done.getInt("usage.output_tokens"));
        assertEquals(20, done.getInt("usage.total_tokens"));
        assertEquals(2, Api.content(KEY_A, done.getString("output_file_id")).lines().count());
    }

    @Test
    void metadataIsNullWhenNotGiven() {
        JsonPath b = create(KEY_A, body(file(run(), 1, null)) + "}").then().statusCode(200).extract().jsonPath();
        assertNull(b.get("metadata"));
    }

    @Test
    void completionWindowSetsExpiresAt() {
        String fileId = file(run(), 1, null);
        JsonPath unlimited = create(KEY_A, body(fileId) + ",\"completion_window\":\"unlimited\"}").then().statusCode(200).extract().jsonPath();
        assertEquals("unlimited", unlimited.getString("completion_window"));
        assertNull(unlimited.get("expires_at"));

        JsonPath minutes = create(KEY_A, body(fileId) + ",\"completion_window\":\"30m\"}").then().statusCode(200).extract().jsonPath();
        assertEquals(minutes.getLong("created_at") + 1800, minutes.getLong("expires_at"));
        JsonPath hours = create(KEY_A, body(fileId) + ",\"completion_window\":\"5h\"}").then().statusCode(200).extract().jsonPath();
        assertEquals(hours.getLong("created_at") + 5 * 3600, hours.getLong("expires_at"));
        JsonPath days = create(KEY_A, body(fileId) + ",\"completion_window\":\"2d\"}").then().statusCode(200).extract().jsonPath();
        assertEquals(days.getLong("created_at") + 2 * 86400, days.getLong("expires_at"));

        // left out: the job's window (the default job's is 24h)
        JsonPath dflt = create(KEY_A, body(fileId) + "}").then().statusCode(200).extract().jsonPath();
        assertEquals("24h", dflt.getString("completion_window"));
        assertEquals(dflt.getLong("created_at") + 86400, dflt.getLong("expires_at"));

        for (String bad : List.of("24", "0h", "1w", "forever", "", "3651d")) {
            assertEnvelope(create(KEY_A, body(fileId) + ",\"completion_window\":\"" + bad + "\"}"), 400, "completion_window", "invalid_value");
        }
    }

    @Test
    void createRejectsBadRequests() {
        String fileId = file(run(), 1, null);
        assertEnvelope(create(KEY_A, "{\"endpoint\":\"" + CHAT + "\"}"), 400, "input_file_id", "missing_required_parameter");
        assertEnvelope(create(KEY_A, "{\"input_file_id\":\"" + fileId + "\"}"), 400, "endpoint", "missing_required_parameter");
        assertEnvelope(create(KEY_A, "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/moderations\"}"), 400, "endpoint", "invalid_value");
        assertEnvelope(create(KEY_A, body(fileId) + ",\"speed\":\"fast\"}"), 400, "speed", "unknown_parameter");
        assertEnvelope(create(KEY_A, "{\"input_file_id\":{},\"endpoint\":\"" + CHAT + "\"}"), 400, "input_file_id", "invalid_type");
        assertEnvelope(create(KEY_A, body(fileId) + ",\"output_expires_after\":{\"anchor\":\"now\",\"seconds\":3600}}"),
                400, "output_expires_after.anchor", "invalid_value");
        assertEnvelope(create(KEY_A, body(fileId) + ",\"output_expires_after\":{\"anchor\":\"created_at\",\"seconds\":10}}"),
                400, "output_expires_after.seconds", "invalid_value");
        create(KEY_A, body(fileId) + ",\"output_expires_after\":{\"anchor\":\"created_at\",\"seconds\":3600}}").then().statusCode(200);

        // unknown file, another project's file, a file that is not for batches
        assertEnvelope(create(KEY_A, body("file-unknown") + "}"), 404, null, "not_found");
        String fileOfB = Api.upload(KEY_B, Api.chatLine(run(), "fake-model", null) + "\n");
        assertEnvelope(create(KEY_A, body(fileOfB) + "}"), 404, null, "not_found");
        String userData = as(KEY_A).multiPart("file", "d.jsonl", "{}".getBytes(), "application/jsonl").multiPart("purpose", "user_data")
                .post("/v1/files").then().statusCode(200).extract().path("id");
        assertEnvelope(create(KEY_A, body(userData) + "}"), 400, "input_file_id", "invalid_file_purpose");
    }

    @Test
    void metadataLimits() {
        String fileId = file(run(), 1, null);
        StringBuilder sixteen = new StringBuilder("{");
        for (int i = 0; i < 16; i++) {
            sixteen.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":\"v").append(i).append('"');
        }
        JsonPath ok = create(KEY_A, body(fileId) + ",\"metadata\":" + sixteen + "}}").then().statusCode(200).extract().jsonPath();
        assertEquals(16, ok.getMap("metadata").size());
        assertEnvelope(create(KEY_A, body(fileId) + ",\"metadata\":" + sixteen + ",\"k16\":\"v\"}}"), 400, "metadata", "invalid_value");

        String k64 = "k".repeat(64);
        String v512 = "v".repeat(512);
        JsonPath edge = create(KEY_A, body(fileId) + ",\"metadata\":{\"" + k64 + "\":\"" + v512 + "\"}}").then().statusCode(200).extract().jsonPath();
        assertEquals(Map.of(k64, v512), edge.getMap("metadata"));
        assertEnvelope(create(KEY_A, body(fileId) + ",\"metadata\":{\"" + k64 + "k\":\"v\"}}"), 400, "metadata", "invalid_value");
        assertEnvelope(create(KEY_A, body(fileId) + ",\"metadata\":{\"k\":\"" + v512 + "v\"}}"), 400, "metadata.k", "invalid_value");
        assertEnvelope(create(KEY_A, body(fileId) + ",\"metadata\":{\"k\":7}}"), 400, "metadata.k", "invalid_type");
        assertEnvelope(create(KEY_A, body(fileId) + ",\"metadata\":[\"k\"]}"), 400, "metadata", "invalid_type");
    }

    @Test
    void idempotencyKeyReturnsTheSameBatch() {
        String fileId = file(run(), 1, null);
        String key = "idem-" + run();
        String json = body(fileId) + ",\"metadata\":{\"n\":\"1\"}}";
        JsonPath first = as(KEY_A).header("Idempotency-Key", key).contentType("application/json").body(json).post("/v1/batches")
                .then().statusCode(200).extract().jsonPath();
        JsonPath again = as(KEY_A).header("Idempotency-Key", key).contentType("application/json").body(json).post("/v1/batches")
                .then().statusCode(200).extract().jsonPath();
        assertEquals(first.getString("id"), again.getString("id"));
        assertEquals(first.getLong("created_at"), again.getLong("created_at"));

        // the same key with other parameters is a client error, not a second batch
        String m = assertEnvelope(as(KEY_A).header("Idempotency-Key", key).contentType("application/json")
                .body(body(fileId) + ",\"metadata\":{\"n\":\"2\"}}").post("/v1/batches"), 409, null, "idempotency_key_reused");
        assertTrue(m.contains(first.getString("id")), m);
        // keys are per project
        String fileOfB = Api.upload(KEY_B, Api.chatLine(run(), "fake-model", null) + "\n");
        JsonPath ofB = as(KEY_B).header("Idempotency-Key", key).contentType("application/json").body(body(fileOfB) + "}")
                .post("/v1/batches").then().statusCode(200).extract().jsonPath();
        assertNotEquals(first.getString("id"), ofB.getString("id"));
        // without the header every request makes a batch
        String x = create(KEY_A, json).then().statusCode(200).extract().path("id");
        String y = create(KEY_A, json).then().statusCode(200).extract().path("id");
        assertNotEquals(x, y);
        assertEnvelope(as(KEY_A).header("Idempotency-Key", "k".repeat(256)).contentType("application/json").body(json).post("/v1/batches"),
                400, "Idempotency-Key", "invalid_value");
    }

    @Test
    void retrieveIsForItsProjectOnly() {
        String id = create(KEY_A, body(file(run(), 1, null)) + "}").then().statusCode(200).extract().path("id");
        JsonPath b = Api.batch(KEY_A, id);
        assertEquals(BATCH_KEYS, b.getMap("$").keySet());
        String m = assertEnvelope(as(KEY_B).get("/v1/batches/" + id), 404, null, "not_found");
        assertTrue(m.contains(id), m);
        assertEnvelope(as(KEY_A).get("/v1/batches/batch-unknown"), 404, null, "not_found");
    }

    @Test
    void listIsNewestFirstWithACursor() {
        String fileId = file(run(), 1, null);
        String b1 = create(KEY_A, body(fileId) + "}").then().statusCode(200).extract().path("id");
        String b2 = create(KEY_A, body(fileId) + "}").then().statusCode(200).extract().path("id");
        String b3 = create(KEY_A, body(fileId) + "}").then().statusCode(200).extract().path("id");

        JsonPath top = as(KEY_A).queryParam("limit", 3).get("/v1/batches").then().statusCode(200).extract().jsonPath();
        assertEquals(Set.of("object", "data", "first_id", "last_id", "has_more"), top.getMap("$").keySet());
        assertEquals("list", top.getString("object"));
        assertEquals(List.of(b3, b2, b1), top.getList("data.id"));
        assertEquals(b3, top.getString("first_id"));
        assertEquals(b1, top.getString("last_id"));
        for (Map<String, Object> b : top.<Map<String, Object>>getList("data")) {
            assertEquals(BATCH_KEYS, b.keySet());
        }

        JsonPath next = as(KEY_A).queryParam("limit", 1).queryParam("after", b3).get("/v1/batches").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(b2), next.getList("data.id"));
        assertEquals(b2, next.getString("first_id"));
        assertEquals(b2, next.getString("last_id"));
        assertTrue(next.getBoolean("has_more"));

        // the whole project, page after page: every batch once, newest first, the last page says no more
        List<Map<String, Object>> every = new ArrayList<>();
        String after = null;
        int pages = 0;
        while (true) {
            var req = as(KEY_A).queryParam("limit", 7);
            if (after != null) {
                req.queryParam("after", after);
            }
            JsonPath page = req.get("/v1/batches").then().statusCode(200).extract().jsonPath();
            List<Map<String, Object>> data = page.getList("data");
            assertTrue(data.size() <= 7);
            every.addAll(data);
            pages++;
            if (!page.getBoolean("has_more")) {
                break;
            }
            assertEquals(7, data.size());
            after = page.getString("last_id");
        }
        List<String> ids = every.stream().map(b -> (String) b.get("id")).toList();
        assertEquals(ids.size(), new HashSet<>(ids).size(), "no batch twice");
        assertTrue(ids.containsAll(List.of(b1, b2, b3)));
        for (int i = 1; i < every.size(); i++) {
            assertTrue(((Number) every.get(i - 1).get("created_at")).longValue() >= ((Number) every.get(i).get("created_at")).longValue());
        }
        assertEquals(Math.max(1, (ids.size() + 6) / 7), pages, "pages");

        // default limit 20
        JsonPath dflt = as(KEY_A).get("/v1/batches").then().statusCode(200).extract().jsonPath();
        assertEquals(Math.min(20, ids.size()), dflt.getList("data").size());
        // another project sees none of them
        List<String> ofB = as(KEY_B).queryParam("limit", 100).get("/v1/batches").then().statusCode(200).extract().jsonPath().getList("data.id");
        assertFalse(ofB.stream().anyMatch(ids::contains));
    }

    @Test
    void listRejectsBadParameters() {
        String ofA = create(KEY_A, body(file(run(), 1, null)) + "}").then().statusCode(200).extract().path("id");
        assertEnvelope(as(KEY_A).queryParam("limit", "abc").get("/v1/batches"), 400, "limit", "invalid_type");
        assertEnvelope(as(KEY_A).queryParam("limit", "1.5").get("/v1/batches"), 400, "limit", "invalid_type");
        assertEnvelope(as(KEY_A).queryParam("limit", 0).get("/v1/batches"), 400, "limit", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("limit", 101).get("/v1/batches"), 400, "limit", "invalid_value");
        String m = assertEnvelope(as(KEY_A).queryParam("after", "batch-unknown").get("/v1/batches"), 400, "after", "invalid_value");
        assertTrue(m.contains("batch-unknown"), m);
        assertEnvelope(as(KEY_B).queryParam("after", ofA).get("/v1/batches"), 400, "after", "invalid_value");
        as(KEY_A).queryParam("limit", 1).get("/v1/batches").then().statusCode(200);
        as(KEY_A).queryParam("limit", 100).get("/v1/batches").then().statusCode(200);
    }

    @Test
    void cancelMovesALiveBatchToCancelledAnd409sFromTerminalStates() {
        String run = run();
        String fileId = file(run, 4, "{\"latency_ms\":1500}");
        String id = create(KEY_A, body(fileId) + "}").then().statusCode(200).extract().path("id");
        assertEnvelope(as(KEY_B).post("/v1/batches/" + id + "/cancel"), 404, null, "not_found");

        Response r = as(KEY_A).post("/v1/batches/" + id + "/cancel");
        r.then().statusCode(200);
        JsonPath c = r.jsonPath();
        assertEquals(BATCH_KEYS, c.getMap("$").keySet());
        assertEquals(id, c.getString("id"));
        assertTrue(Set.of("cancelling", "cancelled").contains(c.getString("status")), c.getString("status"));
        assertNotNull(c.get("cancelling_at"));

        JsonPath done = Api.awaitStatus(KEY_A, id, "cancelled", Duration.ofSeconds(30));
        assertNotNull(done.get("cancelled_at"));
        assertEquals(c.getLong("cancelling_at"), done.getLong("cancelling_at"));
        assertTrue(done.getLong("cancelled_at") >= done.getLong("cancelling_at"));
        assertNull(done.get("completed_at"));
        assertEquals(4, done.getInt("request_counts.total"));
        assertEquals(4, done.getInt("request_counts.completed") + done.getInt("request_counts.failed"));

        assertEnvelope(as(KEY_A).post("/v1/batches/" + id + "/cancel"), 409, null, "batch_not_cancellable");

        String finished = create(KEY_A, body(file(run() + "-done", 1, null)) + "}").then().statusCode(200).extract().path("id");
        Api.awaitStatus(KEY_A, finished, "completed", Duration.ofSeconds(30));
        String m = assertEnvelope(as(KEY_A).post("/v1/batches/" + finished + "/cancel"), 409, null, "batch_not_cancellable");
        assertTrue(m.contains("completed"), m);
        assertEquals("completed", Api.batch(KEY_A, finished).getString("status"));

        assertEnvelope(as(KEY_A).post("/v1/batches/batch-unknown/cancel"), 404, null, "not_found");
    }
}
