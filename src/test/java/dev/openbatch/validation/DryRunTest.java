package dev.openbatch.validation;
import dev.openbatch.batches.ValidationTest;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.openbatch.api.ApiException;
import dev.openbatch.validation.DryRun;
import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;

/** POST /v1/batches/validate: what a batch's validation would say, the same errors, and nothing created. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class DryRunTest {
    static final String CHAT = ValidationTest.CHAT;

    @Inject
    DryRun dryRun;

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    static String body(String fileId, String jobId) {
        return "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"" + CHAT + "\"" + (jobId == null ? "" : ",\"job_id\":\"" + jobId + "\"") + "}";
    }

    static JsonPath dry(String body) {
        return as(KEY_A).contentType("application/json").body(body).post("/v1/batches/validate").then().statusCode(200).extract().jsonPath();
    }

    @Test
    void aValidFileIsReportedWithItsLinesModelAndUpstreamAndNothingIsCreated() {
        String r = run();
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= 12; i++) {
            sb.append(ValidationTest.chat(r + "-" + i, "fake-model")).append(i == 5 ? "\n\n" : "\n");
        }
        String fileId = Api.upload(KEY_A, sb.toString());
        String newestBefore = as(KEY_A).get("/v1/batches?limit=1").then().statusCode(200).extract().path("first_id");
        JsonPath report = dry(body(fileId, null));
        assertEquals(Set.of("object", "valid", "endpoint", "input_file_id", "lines", "model", "upstream", "models", "errors"),
                report.getMap("$").keySet());
        assertEquals("batch.validation", report.getString("object"));
        assertTrue(report.getBoolean("valid"));
        assertEquals(CHAT, report.getString("endpoint"));
        assertEquals(fileId, report.getString("input_file_id"));
        assertEquals(12, report.getInt("lines"), "request lines, blank ones not counted");
        assertEquals("fake-model", report.getString("model"));
        assertEquals("fake", report.getString("upstream"));
        assertEquals(List.of(Map.of("model", "fake-model", "lines", 12, "upstream", "fake")), report.getList("models"));
        assertNull(report.get("errors"));
        assertEquals(newestBefore, as(KEY_A).get("/v1/batches?limit=1").then().statusCode(200).extract().path("first_id"), "no batch was made");

        // and a real batch of the same file agrees: 12 lines of fake-model
        String id = Api.createBatch(KEY_A, fileId, CHAT, "24h").getString("id");
        JsonPath b = Api.await(KEY_A, id, p -> !"validating".equals(p.getString("status")), Duration.ofSeconds(60));
        assertEquals(12, b.getInt("request_counts.total"));
        assertEquals("fake-model", b.getString("model"));
    }

    @Test
    void everyModelIsCountedWithTheUpstreamThatServesIt() {
        String r = run();
        String text = String.join("\n", ValidationTest.chat(r + "-1", "fake-model"), ValidationTest.chat(r + "-2", "fake-model-2"),
                ValidationTest.chat(r + "-3", "fake-model"), ValidationTest.chat(r + "-4", "no-such-model"), ValidationTest.chat(r + "-5", "fake-model"));
        JsonPath report = dry(body(Api.upload(KEY_A, text), null));
        assertFalse(report.getBoolean("valid"));
        assertEquals(5, report.getInt("lines"));
        assertEquals("fake-model", report.getString("model"));
        assertNull(report.get("upstream"), "an invalid batch would not start");
        Map<String, Object> none = new LinkedHashMap<>();
        none.put("model", "no-such-model");
        none.put("lines", 1);
        none.put("upstream", null);
        assertEquals(List.of(Map.of("model", "fake-model", "lines", 3, "upstream", "fake"), Map.of("model", "fake-model-2", "lines", 1,
                "upstream", "fake"), none), report.getList("models"));
        assertEquals(List.of(2, 4), report.getList("errors.data.line"));
        assertEquals(List.of("mismatched_model", "mismatched_model"), report.getList("errors.data.code"));
    }

    /** Uploads the text; a dry run and a real batch of the same body must report exactly the same errors. */
    private void sameBothWays(String text, String jobId) {
        String fileId = Api.upload(KEY_A, text);
        JsonPath report = dry(body(fileId, jobId));
        JsonPath failed = ValidationTest.failed(text, jobId);
        assertFalse(report.getBoolean("valid"));
        assertEquals(failed.getList("errors.data"), report.getList("errors.data"), () -> "dry run: " + report.prettify() + "\nbatch: " + failed.prettify());
        assertEquals("list", report.getString("errors.object"));
        assertEquals(failed.getString("model"), report.getString("model"));
    }

    @Test
    void aBadFileGetsTheErrorsARealBatchFailsWith() {
        String r = run();
        String ok = ValidationTest.chat(r + "-1", "fake-model");
        sameBothWays(ok + "\n{\"custom_id\": \"" + r + "-2\", \"method\": \n", null);
        sameBothWays(ok + "\n{\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"model\":\"fake-model\"}}\n", null);
        sameBothWays(ok + "\n" + ValidationTest.chat(r + "-2", "fake-model") + "\n" + ok + "\n", null);
        sameBothWays(ok + "\n" + ValidationTest.line(r + "-2", "GET", CHAT, "{\"model\":\"fake-model\"}") + "\n", null);
        sameBothWays(ok + "\n" + ValidationTest.line(r + "-2", "POST", "/v1/embeddings", "{\"model\":\"fake-model\"}") + "\n", null);
        sameBothWays(ok + "\n" + ValidationTest.line(r + "-2", "POST", CHAT, "{\"messages\":[]}") + "\n", null);
        sameBothWays(ok + "\n" + ValidationTest.chat(r + "-2", "fake-model-2") + "\n", null);
        sameBothWays(ValidationTest.chat(r + "-1", "no-such-model") + "\n", null);
        sameBothWays("", null);
        sameBothWays(ok + "\n\n{oops\n" + ValidationTest.chat(r + "-4", "fake-model") + "\n"
                + ValidationTest.line(r + "-5", "DELETE", CHAT, "{\"model\":\"fake-model\"}") + "\n" + ValidationTest.chat(r + "-4", "fake-model"), null);
        String job = as(KEY_A).contentType("application/json").body("{\"model\":\"fake-model-2\"}").post("/v1/jobs")
                .then().statusCode(200).extract().path("id");
        sameBothWays(ok + "\n", job);
    }

    @Test
    void aFileOverTheLineLimitStopsWhereTheBatchWould() {
        String r = run();
        StringBuilder sb = new StringBuilder(50_001 * 100);
        for (int i = 1; i <= 50_001; i++) {
            sb.append("{\"custom_id\":\"").append(r).append(i).append("\",\"method\":\"POST\",\"url\":\"").append(CHAT)
                    .append("\",\"body\":{\"model\":\"fake-model\"}}\n");
        }
        sameBothWays(sb.toString(), null);
        JsonPath report = dry(body(Api.upload(KEY_A, sb.toString()), null));
        assertEquals(50_000, report.getInt("lines"), "the lines read before the limit stopped it");
    }

    @Test
    void theBodyFileAndJobAreCheckedAsACreateChecksThem() {
        assertEnvelope(as(KEY_A).contentType("application/json").body(body("file-nope", null)).post("/v1/batches/validate"), 404, null, "not_found");
        String output = Api.upload(KEY_A, "x".getBytes(), "x.txt", "assistants");
        assertEnvelope(as(KEY_A).contentType("application/json").body(body(output, null)).post("/v1/batches/validate"),
                400, "input_file_id", "invalid_file_purpose");
        String fileId = Api.upload(KEY_A, ValidationTest.chat(run(), "fake-model"));
        assertEnvelope(as(KEY_A).contentType("application/json").body(body(fileId, "job-nope")).post("/v1/batches/validate"), 404, null, "not_found");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/images\"}")
                .post("/v1/batches/validate"), 400, "endpoint", "invalid_value");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"" + CHAT
                + "\",\"colour\":1}").post("/v1/batches/validate"), 400, "colour", "unknown_parameter");
        assertEnvelope(given().contentType("application/json").body(body(fileId, null)).post("/v1/batches/validate"), 401, null, "invalid_api_key");
        assertEnvelope(as(dev.openbatch.testing.Api.KEY_B).contentType("application/json").body(body(fileId, null)).post("/v1/batches/validate"),
                404, null, "not_found");
    }

    @Test
    void moreDryRunsAtOnceThanTheLimitGet429() {
        String fileId = Api.upload(KEY_A, ValidationTest.chat(run(), "fake-model"));
        // two dry runs taken (openbatch.limits.dry-runs = 2), not finished yet
        Uni<ValidationReport> one = dryRun.run(CHAT, fileId, 100, null);
        Uni<ValidationReport> two = dryRun.run(CHAT, fileId, 100, null);
        ApiException third = assertThrows(ApiException.class, () -> dryRun.run(CHAT, fileId, 100, null));
        assertEquals(429, third.status());
        assertEnvelope(as(KEY_A).contentType("application/json").body(body(fileId, null)).post("/v1/batches/validate"), 429, null,
                "rate_limit_exceeded");
        one.await().atMost(Duration.ofSeconds(30));
        two.await().atMost(Duration.ofSeconds(30));
        assertTrue(dry(body(fileId, null)).getBoolean("valid"), "a place is free again once a dry run ends");
    }
}
