package dev.openbatch.upstream.local;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.content;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** An embeddings batch end to end on the built-in engine, and GET /v1/models. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class LocalBatchTest {

    private static String line(String id, String input, String extra) {
        return "{\"custom_id\":\"" + id + "\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{\"model\":\"all-minilm-l6-v2\",\"input\":"
                + input + (extra == null ? "" : "," + extra) + "}}";
    }

    @Test
    void embedsABatchInProcessWithTheSameCountsAndFilesAsAnyUpstream() {
        String input = String.join("\n",
                line("one", "\"The quick brown fox jumps over the lazy dog.\"", null),
                line("two", "[\"first text\",\"second text\",\"third text\"]", null),
                line("b64", "\"encoded as base64\"", "\"encoding_format\":\"base64\""),
                line("same", "\"The quick brown fox jumps over the lazy dog.\"", null),
                line("bad", "42", null),
                line("empty", "\"\"", null)) + "\n";
        String id = createBatch(KEY_A, upload(KEY_A, input), "/v1/embeddings", "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(120));

        assertEquals("all-minilm-l6-v2", done.getString("model"));
        assertEquals(6, done.getInt("request_counts.total"));
        assertEquals(4, done.getInt("request_counts.completed"));
        assertEquals(2, done.getInt("request_counts.failed"));
        assertTrue(done.getLong("usage.input_tokens") > 10);
        assertEquals(done.getLong("usage.input_tokens"), done.getLong("usage.total_tokens"));

        Map<String, JsonObject> out = lines(content(KEY_A, done.getString("output_file_id")));
        Map<String, JsonObject> err = lines(content(KEY_A, done.getString("error_file_id")));
        assertEquals(4, out.size());
        assertEquals(2, err.size());

        JsonObject one = out.get("one").getJsonObject("response");
        assertEquals(200, one.getInteger("status_code"));
        JsonObject body = one.getJsonObject("body");
        assertEquals("list", body.getString("object"));
        assertEquals("all-minilm-l6-v2", body.getString("model"));
        JsonObject first = body.getJsonArray("data").getJsonObject(0);
        assertEquals("embedding", first.getString("object"));
        assertEquals(0, first.getInteger("index"));
        JsonArray vector = first.getJsonArray("embedding");
        assertEquals(384, vector.size());
        assertTrue(body.getJsonObject("usage").getInteger("prompt_tokens") > 5);
        assertEquals(body.getJsonObject("usage").getInteger("prompt_tokens"), body.getJsonObject("usage").getInteger("total_tokens"));

        // an array input answers one embedding per text, in order
        JsonArray three = out.get("two").getJsonObject("response").getJsonObject("body").getJsonArray("data");
        assertEquals(3, three.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(i, three.getJsonObject(i).getInteger("index"));
            assertEquals(384, three.getJsonObject(i).getJsonArray("embedding").size());
        }
        // the same text embeds the same, whichever group it was computed in
        JsonArray same = out.get("same").getJsonObject("response").getJsonObject("body").getJsonArray("data").getJsonObject(0)
                .getJsonArray("embedding");
        for (int i = 0; i < 384; i++) {
            assertEquals(vector.getDouble(i), same.getDouble(i), 1e-5);
        }
        // base64: 384 little-endian float32
        String b64 = out.get("b64").getJsonObject("response").getJsonObject("body").getJsonArray("data").getJsonObject(0)
                .getString("embedding");
        ByteBuffer floats = ByteBuffer.wrap(Base64.getDecoder().decode(b64)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(384 * 4, floats.capacity());

        // a bad body is a 400-style line in the error file, not a crash
        JsonObject bad = err.get("bad").getJsonObject("response");
        assertEquals(400, bad.getInteger("status_code"));
        assertTrue(bad.getJsonObject("body").getJsonObject("error").getString("message").length() > 0);
        assertNull(err.get("bad").getValue("error"));
        assertEquals(400, err.get("empty").getJsonObject("response").getInteger("status_code"));
    }

    @Test
    void modelsListsTheBuiltInModelAndEveryUpstreamModel() {
        JsonPath models = as(KEY_A).get("/v1/models").then().statusCode(200).extract().jsonPath();
        assertEquals("list", models.getString("object"));
        var ids = models.getList("data.id");
        assertTrue(ids.contains("all-minilm-l6-v2"), ids.toString());
        assertTrue(ids.contains("fake-model") && ids.contains("fake-model-2") && ids.contains("dead-model"), ids.toString());
        assertEquals("model", models.getString("data[0].object"));
        as(KEY_A).get("/v1/models/all-minilm-l6-v2").then().statusCode(200);
        as(KEY_A).get("/v1/models/nope").then().statusCode(404);
    }

    private static Map<String, JsonObject> lines(String jsonl) {
        Map<String, JsonObject> out = new HashMap<>();
        for (String l : jsonl.split("\n")) {
            if (!l.isBlank()) {
                JsonObject o = new JsonObject(l);
                assertNull(out.put(o.getString("custom_id"), o), "custom_id twice");
            }
        }
        return out;
    }
}
