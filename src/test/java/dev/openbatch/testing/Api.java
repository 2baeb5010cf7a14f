package dev.openbatch.testing;

import static io.restassured.RestAssured.given;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Predicate;

import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;

/** Small helpers that drive the API the way a client does. */
public final class Api {
    public static final String KEY_A = "sk-test-a";
    public static final String KEY_B = "sk-test-b";
    /**
     * A batch's rows ($1) in line order as (line, custom_id, body): the body its row holds, or the
     * one cut out of the input file where the row says it lies (V18: a body is stored once).
     */
    public static final String ROWS_WITH_BODIES = "select r.line, r.custom_id,"
            + " coalesce(r.body, convert_from(substring(c.data from r.body_at + 1 for r.body_length), 'UTF8'))"
            + " from requests r join batches b on b.id = r.batch_id"
            + " left join file_chunks c on c.file_id = b.input_file_id and c.seq = r.body_seq"
            + " where r.batch_id = $1 order by r.line";

    private Api() {
    }

    public static RequestSpecification as(String key) {
        return given().header("Authorization", "Bearer " + key);
    }

    public static String upload(String key, String content) {
        return upload(key, content.getBytes(StandardCharsets.UTF_8), "input.jsonl", "batch");
    }

    public static String upload(String key, byte[] content, String filename, String purpose) {
        return as(key).multiPart("file", filename, content, "application/jsonl").multiPart("purpose", purpose)
                .post("/v1/files").then().statusCode(200).extract().path("id");
    }

    public static JsonPath createBatch(String key, String fileId, String endpoint, String window) {
        String body = "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"" + endpoint + "\""
                + (window == null ? "" : ",\"completion_window\":\"" + window + "\"") + "}";
        return as(key).contentType("application/json").body(body).post("/v1/batches").then().statusCode(200).extract().jsonPath();
    }

    public static JsonPath batch(String key, String id) {
        return as(key).get("/v1/batches/" + id).then().statusCode(200).extract().jsonPath();
    }

    /** Polls the batch until the predicate holds (or fails after the timeout). */
    public static JsonPath await(String key, String id, Predicate<JsonPath> until, Duration timeout) {
        long end = System.currentTimeMillis() + timeout.toMillis();
        JsonPath last = null;
        while (System.currentTimeMillis() < end) {
            last = batch(key, id);
            if (until.test(last)) {
                return last;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("batch " + id + " did not reach the expected state in " + timeout + "; last: "
                + (last == null ? null : last.prettify()));
    }

    public static JsonPath awaitStatus(String key, String id, String status, Duration timeout) {
        return await(key, id, b -> status.equals(b.getString("status")), timeout);
    }

    public static String content(String key, String fileId) {
        return as(key).get("/v1/files/" + fileId + "/content").then().statusCode(200).extract().asString();
    }

    /** A chat line for the fake upstream; {@code fake} is the steering object (or null). */
    public static String chatLine(String customId, String model, String fake) {
        return "{\"custom_id\":\"" + customId + "\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\""
                + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + customId + "\"}]"
                + (fake == null ? "" : ",\"fake\":" + fake) + "}}";
    }
}
