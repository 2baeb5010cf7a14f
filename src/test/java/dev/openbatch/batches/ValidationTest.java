package dev.openbatch.batches;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
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
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/** Every rule the contract sets for input lines: a bad file ends failed, naming the line and the field. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
public class ValidationTest {
    public static final String CHAT = "/v1/chat/completions";

    @Inject
    Pool pool;

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    public static String line(String customId, String method, String url, String body) {
        return "{\"custom_id\":\"" + customId + "\",\"method\":\"" + method + "\",\"url\":\"" + url + "\",\"body\":" + body + "}";
    }

    public static String chat(String customId, String model) {
        return Api.chatLine(customId, model, null);
    }

    /** Uploads the text, creates a chat batch from it, and waits for it to fail. */
    public static JsonPath failed(String text) {
        return failed(text, null);
    }

    public static JsonPath failed(String text, String jobId) {
        String fileId = Api.upload(KEY_A, text);
        String json = "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"" + CHAT + "\"" + (jobId == null ? "" : ",\"job_id\":\"" + jobId + "\"") + "}";
        JsonPath created = as(KEY_A).contentType("application/json").body(json).post("/v1/batches").then().statusCode(200).extract().jsonPath();
        assertEquals("validating", created.getString("status"));
        JsonPath b = Api.await(KEY_A, created.getString("id"), p -> !"validating".equals(p.getString("status")), Duration.ofSeconds(60));
        assertEquals("failed", b.getString("status"), () -> b.prettify());
        assertNotNull(b.get("failed_at"));
        assertTrue(b.getLong("failed_at") >= b.getLong("created_at"));
        for (String none : List.of("in_progress_at", "finalizing_at", "completed_at", "expired_at", "cancelling_at", "cancelled_at",
                "output_file_id", "error_file_id")) {
            assertNull(b.get(none), none);
        }
        assertEquals(Map.of("total", 0, "completed", 0, "failed", 0), b.getMap("request_counts"));
        assertEquals("list", b.getString("errors.object"));
        for (Map<String, Object> e : b.<Map<String, Object>>getList("errors.data")) {
            assertEquals(Set.of("code", "message", "param", "line"), e.keySet());
            assertFalse(((String) e.get("message")).isBlank());
        }
        return b;
    }

    long rows(String batchId) {
        return pool.preparedQuery("select count(*) from requests where batch_id = $1").execute(Tuple.of(batchId))
                .await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
    }

    /** Asserts that the batch has exactly one error, with this line, param and code. */
    void onlyError(JsonPath b, Integer line, String param, String code) {
        assertEquals(1, b.getList("errors.data").size(), () -> b.prettify());
        assertEquals(line, b.get("errors.data[0].line"), () -> b.prettify());
        assertEquals(param, b.get("errors.data[0].param"), () -> b.prettify());
        assertEquals(code, b.get("errors.data[0].code"), () -> b.prettify());
        assertEquals(0, rows(b.getString("id")), "a failed batch leaves no request rows");
    }

    @Test
    void lineThatIsNotJson() {
        String r = run();
        onlyError(failed(chat(r + "-1", "fake-model") + "\n{\"custom_id\": \"" + r + "-2\", \"method\": \n"), 2, null, "invalid_json_line");
        onlyError(failed(chat(r + "-3", "fake-model") + "\n[1, 2]\n"), 2, null, "invalid_json_line");
        onlyError(failed("not json at all\n" + chat(r + "-4", "fake-model") + "\n"), 1, null, "invalid_json_line");
        onlyError(failed(chat(r + "-5", "fake-model") + " {}\n"), 1, null, "invalid_json_line");
    }

    @Test
    void lineWithoutCustomId() {
        String r = run();
        onlyError(failed(chat(r + "-1", "fake-model") + "\n{\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"model\":\"fake-model\"}}\n"),
                2, "custom_id", "missing_required_parameter");
        onlyError(failed(line("", "POST", CHAT, "{\"model\":\"fake-model\"}") + "\n"), 1, "custom_id", "invalid_value");
    }

    @Test
    void duplicateCustomId() {
        String r = run();
        onlyError(failed(chat(r + "-1", "fake-model") + "\n" + chat(r + "-2", "fake-model") + "\n" + chat(r + "-1", "fake-model") + "\n"),
                3, "custom_id", "duplicate_custom_id");
    }

    @Test
    void methodOtherThanPost() {
        String r = run();
        onlyError(failed(chat(r + "-1", "fake-model") + "\n" + line(r + "-2", "GET", CHAT, "{\"model\":\"fake-model\"}") + "\n"),
                2, "method", "invalid_method");
        onlyError(failed(line(r + "-3", "post", CHAT, "{\"model\":\"fake-model\"}") + "\n"), 1, "method", "invalid_method");
    }

    @Test
    void urlOtherThanTheBatchsEndpoint() {
        String r = run();
        onlyError(failed(chat(r + "-1", "fake-model") + "\n" + line(r + "-2", "POST", "/v1/embeddings", "{\"model\":\"fake-model\"}") + "\n"),
                2, "url", "invalid_url");
    }

    @Test
    void bodyWithoutModel() {
        String r = run();
        onlyError(failed(chat(r + "-1", "fake-model") + "\n" + line(r + "-2", "POST", CHAT, "{\"messages\":[]}") + "\n"),
                2, "body.model", "missing_required_parameter");
        onlyError(failed(line(r + "-3", "POST", CHAT, "{\"model\":7}") + "\n"), 1, "body.model", "missing_required_parameter");
    }

    @Test
    void modelOtherThanTheFirstLines() {
        String r = run();
        JsonPath b = failed(chat(r + "-1", "fake-model") + "\n" + chat(r + "-2", "fake-model") + "\n" + chat(r + "-3", "fake-model-2") + "\n");
        onlyError(b, 3, "body.model", "mismatched_model");
        assertEquals("fake-model", b.getString("model"));
    }

    @Test
    void modelThatNoUpstreamServes() {
        String r = run();
        JsonPath b = failed(chat(r + "-1", "no-such-model") + "\n" + chat(r + "-2", "no-such-model") + "\n");
        onlyError(b, 1, "body.model", "model_not_found");
        assertEquals("no-such-model", b.getString("model"));
        assertTrue(b.getString("errors.data[0].message").contains("no-such-model"));
    }

    @Test
    void modelOtherThanTheJobs() {
        String job = as(KEY_A).contentType("application/json").body("{\"model\":\"fake-model-2\"}").post("/v1/jobs")
                .then().statusCode(200).extract().path("id");
        onlyError(failed(chat(run(), "fake-model") + "\n", job), 1, "body.model", "mismatched_model");
    }

    @Test
    void nulCharactersInCustomIdOrModel() {
        String r = run();
        onlyError(failed(line(r + "\\u0000", "POST", CHAT, "{\"model\":\"fake-model\"}") + "\n"), 1, "custom_id", "invalid_value");
        onlyError(failed(line(r + "-m", "POST", CHAT, "{\"model\":\"fake\\u0000model\"}") + "\n"), 1, "body.model", "invalid_value");
    }

    @Test
    void emptyFile() {
        onlyError(failed(""), null, "input_file_id", "empty_file");
        onlyError(failed("\n  \n\t\n"), null, "input_file_id", "empty_file");
    }

    @Test
    void overTheLineLimit() {
        String r = run();
        StringBuilder sb = new StringBuilder(50_001 * 100);
        for (int i = 1; i <= 50_001; i++) {
            sb.append("{\"custom_id\":\"").append(r).append(i).append("\",\"method\":\"POST\",\"url\":\"").append(CHAT)
                    .append("\",\"body\":{\"model\":\"fake-model\"}}\n");
        }
        JsonPath b = failed(sb.toString());
        onlyError(b, 50_001, null, "too_many_requests");
        assertTrue(b.getString("errors.data[0].message").contains("50000"));
    }

    @Test
    void everyBadLineIsReportedWithItsNumber() {
        String r = run();
        String text = chat(r + "-1", "fake-model") + "\n"
                + "\n" // blank lines are skipped but keep their number
                + "{oops\n"
                + chat(r + "-4", "fake-model") + "\n"
                + line(r + "-5", "DELETE", CHAT, "{\"model\":\"fake-model\"}") + "\n"
                + chat(r + "-4", "fake-model") + "\n";
        JsonPath b = failed(text);
        List<Integer> lines = new ArrayList<>(b.getList("errors.data.line"));
        assertEquals(List.of(3, 5, 6), lines, () -> b.prettify());
        assertEquals(List.of("invalid_json_line", "invalid_method", "duplicate_custom_id"), b.getList("errors.data.code"));
        assertEquals(0, rows(b.getString("id")));
    }

    @Test
    void validFileBecomesOneRequestRowPerLine() {
        String r = run();
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= 5; i++) {
            sb.append(chat(r + "-" + i, "fake-model")).append(i == 3 ? "\n\n" : "\n");
        }
        sb.setLength(sb.length() - 1); // the last line has no line break
        String fileId = Api.upload(KEY_A, sb.toString());
        String id = Api.createBatch(KEY_A, fileId, CHAT, null).getString("id");
        JsonPath running = Api.await(KEY_A, id, p -> Set.of("in_progress", "finalizing", "completed").contains(p.getString("status")),
                Duration.ofSeconds(30));
        assertEquals(5, running.getInt("request_counts.total"));
        assertNotNull(running.get("in_progress_at"));
        assertNull(running.get("errors"));
        assertEquals("fake-model", running.getString("model"));

        List<Row> rows = new ArrayList<>();
        pool.preparedQuery(Api.ROWS_WITH_BODIES).execute(Tuple.of(id))
                .await().atMost(Duration.ofSeconds(10)).forEach(rows::add);
        assertEquals(List.of(1, 2, 3, 5, 6), rows.stream().map(x -> x.getInteger(0)).toList());
        assertEquals(List.of(r + "-1", r + "-2", r + "-3", r + "-4", r + "-5"), rows.stream().map(x -> x.getString(1)).toList());
        // the body is the client's bytes, unchanged
        String first = chat(r + "-1", "fake-model");
        assertEquals(first.substring(first.indexOf("\"body\":") + 7, first.length() - 1), rows.get(0).getString(2));

        JsonPath done = Api.awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(Map.of("total", 5, "completed", 5, "failed", 0), done.getMap("request_counts"));
    }

    @Test
    void validLinesWithCrlfAndUnicode() {
        String r = run();
        String text = chat(r + "-é", "fake-model") + "\r\n" + chat(r + "-\u65e5\u672c", "fake-model") + "\r\n";
        String fileId = as(KEY_A).multiPart("file", "crlf.jsonl", text.getBytes(StandardCharsets.UTF_8), "application/jsonl")
                .multiPart("purpose", "batch").post("/v1/files").then().statusCode(200).extract().path("id");
        String id = Api.createBatch(KEY_A, fileId, CHAT, null).getString("id");
        JsonPath done = Api.awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(2, done.getInt("request_counts.total"));
        String out = Api.content(KEY_A, done.getString("output_file_id"));
        assertTrue(out.contains(r + "-\u65e5\u672c") && out.contains(r + "-é"), out);
    }
}
