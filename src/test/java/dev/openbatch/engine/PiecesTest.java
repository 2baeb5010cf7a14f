package dev.openbatch.engine;
import dev.openbatch.engine.lifecycle.OutputFiles;
import dev.openbatch.engine.dispatch.Answers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.openbatch.api.Ids;
import io.vertx.core.json.JsonObject;

/** The engine's small pure pieces: reading answers, writing file lines. */
class PiecesTest {

    @Test
    void readsTokenCountsOfEveryOpenAiShape() {
        var chat = Answers.scan("{\"id\":\"x\",\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}");
        assertEquals(new Answers.Scan(true, new Answers.Usage(7, 3, 10)), chat);
        var responses = Answers.scan("{\"output\":[{\"usage\":{\"input_tokens\":99}}],\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}");
        assertEquals(new Answers.Scan(true, new Answers.Usage(5, 2, 7)), responses);
        var embeddings = Answers.scan("{\"data\":[],\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}");
        assertEquals(new Answers.Scan(true, new Answers.Usage(4, 0, 4)), embeddings);
        assertFalse(Answers.scan("<html>bad gateway</html>").json());
        assertFalse(Answers.scan("{\"a\":1} trailing").json());
    }

    @Test
    void answerBodiesBecomeOneLineOfJson() {
        assertEquals("{\"a\":  1}", Answers.oneLine("{\"a\":\n 1}\n"));
        assertEquals("\"<html>\\n</html>\"", Answers.oneLine("<html>\n</html>"));
        assertEquals("{\"s\":\"line\\nbreak\"}", Answers.oneLine("{\"s\":\"line\\nbreak\"}"));
    }

    @Test
    void fileLinesHaveTheContractShape() {
        Ids.LineIds ids = new Ids.LineIds(new byte[16]);
        JsonObject ok = new JsonObject(OutputFiles.line(ids.of(1), "c\"1", 200, "req_1", "{\"x\":1}", null, null));
        assertEquals(ids.of(1), ok.getString("id"));
        assertEquals("c\"1", ok.getString("custom_id"));
        assertEquals(200, ok.getJsonObject("response").getInteger("status_code"));
        assertEquals("req_1", ok.getJsonObject("response").getString("request_id"));
        assertEquals(1, ok.getJsonObject("response").getJsonObject("body").getInteger("x"));
        assertTrue(ok.containsKey("error") && ok.getValue("error") == null);

        JsonObject err = new JsonObject(OutputFiles.line(ids.of(2), "c2", 429, "r", "{}", "batch_expired", "window ran out"));
        assertTrue(err.containsKey("response") && err.getValue("response") == null);
        assertEquals("batch_expired", err.getJsonObject("error").getString("code"));
        assertEquals("window ran out", err.getJsonObject("error").getString("message"));
    }
}
