package dev.openbatch.jobs;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
class JobsApiTest {
    static final Set<String> JOB_KEYS = Set.of("id", "object", "name", "model", "completion_window", "priority", "max_concurrency",
            "metadata", "created_at");

    static Response create(String key, String json) {
        return as(key).contentType("application/json").body(json).post("/v1/jobs");
    }

    static String name() {
        return "job-test-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Every job of the project, following the cursor to the end. */
    static List<Map<String, Object>> all(String key) {
        List<Map<String, Object>> out = new ArrayList<>();
        String after = null;
        while (true) {
            var req = as(key).queryParam("limit", 100);
            if (after != null) {
                req.queryParam("after", after);
            }
            JsonPath page = req.get("/v1/jobs").then().statusCode(200).extract().jsonPath();
            List<Map<String, Object>> data = page.getList("data");
            out.addAll(data);
            if (!page.getBoolean("has_more")) {
                return out;
            }
            after = page.getString("last_id");
        }
    }

    static Map<String, Object> defaultJob(String key) {
        return all(key).stream().filter(j -> "default".equals(j.get("name"))).findFirst().orElseThrow();
    }

    @Test
    void createWithDefaults() {
        long before = System.currentTimeMillis() / 1000;
        Response r = create(KEY_A, "{}");
        r.then().statusCode(200);
        JsonPath j = r.jsonPath();
        assertEquals(JOB_KEYS, j.getMap("$").keySet());
        String id = j.getString("id");
        assertTrue(id.matches("job-[0-9A-Za-z]{24}"), id);
        assertEquals("job", j.getString("object"));
        assertEquals(id, j.getString("name"));
        assertNull(j.get("model"));
        assertEquals("24h", j.getString("completion_window"));
        assertEquals(0, j.getInt("priority"));
        assertNull(j.get("max_concurrency"));
        assertNull(j.get("metadata"));
        assertTrue(j.getLong("created_at") >= before && j.getLong("created_at") <= before + 5);
    }

    @Test
    void createWithEveryField() {
        String name = name();
        Response r = create(KEY_A, "{\"name\":\"" + name + "\",\"model\":\"fake-model\",\"completion_window\":\"3d\",\"priority\":7,"
                + "\"max_concurrency\":4,\"metadata\":{\"team\":\"search\",\"tier\":\"gold\"}}");
        r.then().statusCode(200);
        JsonPath j = r.jsonPath();
        assertEquals(name, j.getString("name"));
        assertEquals("fake-model", j.getString("model"));
        assertEquals("3d", j.getString("completion_window"));
        assertEquals(7, j.getInt("priority"));
        assertEquals(4, j.getInt("max_concurrency"));
        assertEquals(Map.of("team", "search", "tier", "gold"), j.getMap("metadata"));

        Response got = as(KEY_A).get("/v1/jobs/" + j.getString("id"));
        got.then().statusCode(200);
        assertEquals(j.getMap("$"), got.jsonPath().getMap("$"));
    }

    @Test
    void completionWindowAcceptsTheContractsForms() {
        for (String w : List.of("24h", "unlimited", "1m", "45m", "2h", "3d", "3650d")) {
            Response r = create(KEY_A, "{\"completion_window\":\"" + w + "\"}");
            assertEquals(200, r.statusCode(), w + ": " + r.asString());
            assertEquals(w, r.jsonPath().getString("completion_window"));
        }
        for (String w : List.of("", "24", "h", "0h", "1w", "1.5h", "-1h", "24H", " 24h", "unlimited!", "3651d", "99999999d")) {
            assertEnvelope(create(KEY_A, "{\"completion_window\":\"" + w + "\"}"), 400, "completion_window", "invalid_value");
        }
        assertEnvelope(create(KEY_A, "{\"completion_window\":24}"), 400, "completion_window", null);
    }

    @Test
    void createRejectsInvalidFields() {
        assertEnvelope(create(KEY_A, "{\"max_concurrency\":0}"), 400, "max_concurrency", "invalid_value");
        assertEnvelope(create(KEY_A, "{\"name\":\"" + "n".repeat(257) + "\"}"), 400, "name", "invalid_value");
        create(KEY_A, "{\"name\":\"" + "n".repeat(256) + "\"}").then().statusCode(200);
        assertEnvelope(create(KEY_A, "{\"model\":\" \"}"), 400, "model", "invalid_value");
        assertEnvelope(create(KEY_A, "{\"priority\":\"high\"}"), 400, "priority", "invalid_type");
        assertEnvelope(create(KEY_A, "{\"priority\":99999999999}"), 400, "priority", "invalid_value");
        assertEnvelope(create(KEY_A, "{\"colour\":\"blue\"}"), 400, "colour", "unknown_parameter");
        assertEnvelope(create(KEY_A, "{\"metadata\":{\"k\":1}}"), 400, "metadata.k", "invalid_type");
    }

    @Test
    void metadataLimits() {
        StringBuilder sixteen = new StringBuilder("{");
        for (int i = 0; i < 16; i++) {
            sixteen.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":\"v\"");
        }
        create(KEY_A, "{\"metadata\":" + sixteen + "}}").then().statusCode(200);
        assertEnvelope(create(KEY_A, "{\"metadata\":" + sixteen + ",\"k16\":\"v\"}}"), 400, "metadata", "invalid_value");
        create(KEY_A, "{\"metadata\":{\"" + "k".repeat(64) + "\":\"" + "v".repeat(512) + "\"}}").then().statusCode(200);
        assertEnvelope(create(KEY_A, "{\"metadata\":{\"" + "k".repeat(65) + "\":\"v\"}}"), 400, "metadata", "invalid_value");
        assertEnvelope(create(KEY_A, "{\"metadata\":{\"k\":\"" + "v".repeat(513) + "\"}}"), 400, "metadata.k", "invalid_value");
    }

    @Test
    void retrieveIsForItsProjectOnly() {
        String id = create(KEY_A, "{\"name\":\"" + name() + "\"}").then().statusCode(200).extract().path("id");
        as(KEY_A).get("/v1/jobs/" + id).then().statusCode(200);
        String m = assertEnvelope(as(KEY_B).get("/v1/jobs/" + id), 404, null, "not_found");
        assertTrue(m.contains(id), m);
        assertEnvelope(as(KEY_A).get("/v1/jobs/job-unknown"), 404, null, "not_found");
    }

    @Test
    void everyProjectHasItsOwnDefaultJob() {
        Map<String, Object> a = defaultJob(KEY_A);
        Map<String, Object> b = defaultJob(KEY_B);
        assertNotEquals(a.get("id"), b.get("id"));
        assertEquals("24h", a.get("completion_window"));
        assertNull(a.get("model"));
        assertEquals(1, all(KEY_A).stream().filter(j -> "default".equals(j.get("name"))).count());
    }

    @Test
    void listIsNewestFirstWithACursor() {
        String j1 = create(KEY_A, "{\"name\":\"" + name() + "\"}").then().statusCode(200).extract().path("id");
        String j2 = create(KEY_A, "{\"name\":\"" + name() + "\"}").then().statusCode(200).extract().path("id");
        String j3 = create(KEY_A, "{\"name\":\"" + name() + "\"}").then().statusCode(200).extract().path("id");

        JsonPath top = as(KEY_A).queryParam("limit", 3).get("/v1/jobs").then().statusCode(200).extract().jsonPath();
        assertEquals(Set.of("object", "data", "first_id", "last_id", "has_more"), top.getMap("$").keySet());
        assertEquals("list", top.getString("object"));
        assertEquals(List.of(j3, j2, j1), top.getList("data.id"));
        assertEquals(j3, top.getString("first_id"));
        assertEquals(j1, top.getString("last_id"));
        assertTrue(top.getBoolean("has_more")); // the default job is older
        for (Map<String, Object> j : top.<Map<String, Object>>getList("data")) {
            assertEquals(JOB_KEYS, j.keySet());
        }

        JsonPath next = as(KEY_A).queryParam("limit", 1).queryParam("after", j3).get("/v1/jobs").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(j2), next.getList("data.id"));
        assertTrue(next.getBoolean("has_more"));

        List<Map<String, Object>> every = all(KEY_A);
        List<String> ids = every.stream().map(j -> (String) j.get("id")).toList();
        assertEquals(ids.size(), new HashSet<>(ids).size(), "no job twice");
        for (int i = 1; i < every.size(); i++) {
            assertTrue(((Number) every.get(i - 1).get("created_at")).longValue() >= ((Number) every.get(i).get("created_at")).longValue());
        }
        assertTrue(ids.containsAll(List.of(j1, j2, j3)));
        assertFalse(all(KEY_B).stream().map(j -> j.get("id")).anyMatch(ids::contains), "another project's jobs never appear");

        // the default list size is 20
        JsonPath dflt = as(KEY_A).get("/v1/jobs").then().statusCode(200).extract().jsonPath();
        assertEquals(Math.min(20, every.size()), dflt.getList("data").size());
    }

    @Test
    void listRejectsBadParameters() {
        String ofA = create(KEY_A, "{}").then().statusCode(200).extract().path("id");
        assertEnvelope(as(KEY_A).queryParam("limit", "abc").get("/v1/jobs"), 400, "limit", "invalid_type");
        assertEnvelope(as(KEY_A).queryParam("limit", 0).get("/v1/jobs"), 400, "limit", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("limit", 101).get("/v1/jobs"), 400, "limit", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("after", "job-unknown").get("/v1/jobs"), 400, "after", "invalid_value");
        assertEnvelope(as(KEY_B).queryParam("after", ofA).get("/v1/jobs"), 400, "after", "invalid_value");
        as(KEY_A).queryParam("limit", 100).get("/v1/jobs").then().statusCode(200);
    }

    @Test
    void batchesBelongToTheirJob() {
        String fileA = Api.upload(KEY_A, Api.chatLine("job-link-" + UUID.randomUUID(), "fake-model", null) + "\n");
        String dflt = (String) defaultJob(KEY_A).get("id");
        assertEquals(dflt, Api.createBatch(KEY_A, fileA, "/v1/chat/completions", null).getString("job_id"));

        String job = create(KEY_A, "{\"name\":\"" + name() + "\",\"completion_window\":\"2h\"}").then().statusCode(200).extract().path("id");
        JsonPath b = as(KEY_A).contentType("application/json")
                .body("{\"input_file_id\":\"" + fileA + "\",\"endpoint\":\"/v1/chat/completions\",\"job_id\":\"" + job + "\"}")
                .post("/v1/batches").then().statusCode(200).extract().jsonPath();
        assertEquals(job, b.getString("job_id"));
        assertEquals("2h", b.getString("completion_window"));
        assertEquals(b.getLong("created_at") + 7200, b.getLong("expires_at"));

        String jobOfB = create(KEY_B, "{}").then().statusCode(200).extract().path("id");
        assertEnvelope(as(KEY_A).contentType("application/json")
                .body("{\"input_file_id\":\"" + fileA + "\",\"endpoint\":\"/v1/chat/completions\",\"job_id\":\"" + jobOfB + "\"}")
                .post("/v1/batches"), 404, null, "not_found");
        assertEnvelope(as(KEY_A).contentType("application/json")
                .body("{\"input_file_id\":\"" + fileA + "\",\"endpoint\":\"/v1/chat/completions\",\"job_id\":\"job-unknown\"}")
                .post("/v1/batches"), 404, null, "not_found");
    }
}
