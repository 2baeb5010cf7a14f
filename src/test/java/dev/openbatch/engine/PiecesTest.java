package dev.openbatch.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.vertx.core.json.JsonObject;

/** The engine's small pure pieces: reading answers, writing file lines, backoff. */
class PiecesTest {

    @Test
    void readsTokenCountsOfEveryOpenAiShape() {
        var chat = Dispatcher.scan("{\"id\":\"x\",\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}");
        assertEquals(new Dispatcher.Scan(true, 7, 3, 10), chat);
        var responses = Dispatcher.scan("{\"output\":[{\"usage\":{\"input_tokens\":99}}],\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}");
        assertEquals(new Dispatcher.Scan(true, 5, 2, 7), responses);
        var embeddings = Dispatcher.scan("{\"data\":[],\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}");
        assertEquals(new Dispatcher.Scan(true, 4, 0, 4), embeddings);
        assertFalse(Dispatcher.scan("<html>bad gateway</html>").json());
        assertFalse(Dispatcher.scan("{\"a\":1} trailing").json());
    }

    @Test
    void answerBodiesBecomeOneLineOfJson() {
        assertEquals("{\"a\":  1}", Dispatcher.jsonBody("{\"a\":\n 1}\n"));
        assertEquals("\"<html>\\n</html>\"", Dispatcher.jsonBody("<html>\n</html>"));
        assertEquals("{\"s\":\"line\\nbreak\"}", Dispatcher.jsonBody("{\"s\":\"line\\nbreak\"}"));
    }

    @Test
    void fileLinesHaveTheContractShape() {
        JsonObject ok = new JsonObject(OutputFiles.line("c\"1", 200, "req_1", "{\"x\":1}", null, null));
        assertTrue(ok.getString("id").startsWith("batch_req-"));
        assertEquals("c\"1", ok.getString("custom_id"));
        assertEquals(200, ok.getJsonObject("response").getInteger("status_code"));
        assertEquals("req_1", ok.getJsonObject("response").getString("request_id"));
        assertEquals(1, ok.getJsonObject("response").getJsonObject("body").getInteger("x"));
        assertTrue(ok.containsKey("error") && ok.getValue("error") == null);

        JsonObject err = new JsonObject(OutputFiles.line("c2", 429, "r", "{}", "batch_expired", "window ran out"));
        assertTrue(err.containsKey("response") && err.getValue("response") == null);
        assertEquals("batch_expired", err.getJsonObject("error").getString("code"));
        assertEquals("window ran out", err.getJsonObject("error").getString("message"));
    }

    @Test
    void backoffGrowsHasJitterAndYieldsToRetryAfter() {
        for (int attempt = 1; attempt <= 10; attempt++) {
            long step = Math.min(60_000, 1000L << (attempt - 1));
            long d = Backoff.delayMillis(attempt, 1000, 60_000, null);
            assertTrue(d >= step / 2 && d <= step, "attempt " + attempt + ": " + d);
        }
        assertEquals(7000, Backoff.delayMillis(3, 1000, 60_000, 7000L));
        assertTrue(Backoff.retryable(429) && Backoff.retryable(408) && Backoff.retryable(500) && Backoff.retryable(503));
        assertFalse(Backoff.retryable(400) || Backoff.retryable(401) || Backoff.retryable(404) || Backoff.retryable(422));
    }
}
