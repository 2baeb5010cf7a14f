package dev.openbatch.upstream;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.content;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonObject;

/**
 * What comes back from an upstream is read within bounds, and what a tenant reads of it holds
 * nothing of the operator's: answers over {@code max-response-bytes} (4 MiB in tests) are cut
 * off and fail their line, refused credentials and unreachable servers give fixed messages, and
 * the detail goes to the operator's log with the batch id and line number.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class UpstreamEdgesTest {
    private static final String CHAT = "/v1/chat/completions";
    private static final long CAP = 4_194_304;
    /** Far more than the cap plus what the loopback's socket buffers hold. */
    private static final long HUGE = 128L * 1024 * 1024;

    private final List<LogRecord> log = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            log.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void captureTheOperatorsLog() {
        Logger.getLogger("dev.openbatch.engine.dispatch.RetryPolicy").addHandler(capture);
    }

    @AfterEach
    void stopCapturing() {
        Logger.getLogger("dev.openbatch.engine.dispatch.RetryPolicy").removeHandler(capture);
    }

    private static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    private static Map<String, JsonObject> errors(JsonPath done) {
        Map<String, JsonObject> out = new HashMap<>();
        String id = done.getString("error_file_id");
        assertNotNull(id, "an error file");
        for (String line : content(KEY_A, id).split("\n")) {
            if (!line.isBlank()) {
                JsonObject o = new JsonObject(line);
                out.put(o.getString("custom_id"), o);
            }
        }
        return out;
    }

    private List<String> warnings(String batchId) {
        return log.stream().filter(r -> r.getLevel().intValue() >= Level.WARNING.intValue())
                .map(r -> r instanceof org.jboss.logmanager.ExtLogRecord e ? e.getFormattedMessage() : r.getMessage())
                .filter(m -> m.contains(batchId)).toList();
    }

    @Test
    void anAnswerOverTheCapIsCutOffAndFailsItsLineWithoutARetry() {
        String r = run();
        String input = String.join("\n",
                chatLine(r + "-declared", "fake-model", "{\"body_bytes\":" + HUGE + "}"),
                chatLine(r + "-chunked", "fake-model", "{\"body_bytes\":" + HUGE + ",\"chunked\":true}"),
                chatLine(r + "-at-cap", "fake-model", "{\"body_bytes\":" + CAP + ",\"chunked\":true}"),
                chatLine(r + "-ok", "fake-model", null)) + "\n";
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEquals(2, done.getInt("request_counts.completed"), done.prettify());
        assertEquals(2, done.getInt("request_counts.failed"), done.prettify());

        Map<String, JsonObject> err = errors(done);
        assertEquals(2, err.size(), err.toString());
        for (String big : List.of(r + "-declared", r + "-chunked")) {
            JsonObject line = err.get(big);
            assertNotNull(line, big + " is in the error file");
            assertNull(line.getValue("response"), line.encode());
            assertEquals("response_too_large", line.getJsonObject("error").getString("code"), line.encode());
            assertTrue(line.getJsonObject("error").getString("message").contains(Long.toString(CAP)), "the message names the cap: " + line);
            assertEquals(1, FAKE.attemptsOf(big), big + " is not retried");
            // cut off as soon as the cap was passed: the rest of the answer was never read
            long read = FAKE.written.get(big).get();
            assertTrue(read < 32L * 1024 * 1024, big + ": " + read + " bytes got out of " + HUGE);
        }
        // an answer of exactly the cap is read whole
        assertEquals(CAP, FAKE.written.get(r + "-at-cap").get());
        List<String> warned = warnings(id);
        assertTrue(warned.stream().anyMatch(m -> m.contains("line 1 ") && m.contains("Content-Length " + HUGE)), warned.toString());
        assertTrue(warned.stream().anyMatch(m -> m.contains("line 2 ") && m.contains("cut off while streaming")), warned.toString());
    }

    @Test
    void refusedCredentialsNeverShowTheUpstreamsAnswerToTheTenant() {
        String r = run();
        String leak = "Incorrect API key provided: sk-upstr*******cret. You can find your API key at https://vendor.example/keys";
        String input = String.join("\n",
                chatLine(r + "-401", "fake-model", "{\"statuses\":[401],\"error_body\":\"" + leak + "\"}"),
                chatLine(r + "-403", "fake-model", "{\"statuses\":[403],\"error_body\":\"" + leak + "\"}"),
                chatLine(r + "-407", "fake-model", "{\"statuses\":[407],\"error_body\":\"" + leak + "\"}"),
                chatLine(r + "-404", "fake-model", "{\"statuses\":[404],\"error_body\":\"{\\\"error\\\":\\\"no such model\\\"}\"}")) + "\n";
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        String file = content(KEY_A, done.getString("error_file_id"));
        assertFalse(file.contains("sk-upstr") || file.contains("vendor.example"), file);

        Map<String, JsonObject> err = errors(done);
        for (String status : List.of("401", "403", "407")) {
            JsonObject line = err.get(r + "-" + status);
            assertNull(line.getValue("response"), line.encode());
            assertEquals("upstream_auth_failed", line.getJsonObject("error").getString("code"), line.encode());
            assertTrue(line.getJsonObject("error").getString("message").contains("HTTP " + status), line.encode());
            assertEquals(1, FAKE.attemptsOf(r + "-" + status), "credentials refused: not retried");
        }
        // any other 4xx keeps the contract: the upstream's status and body, as they came
        JsonObject notFound = err.get(r + "-404");
        assertEquals(404, notFound.getJsonObject("response").getInteger("status_code"));
        assertEquals("no such model", notFound.getJsonObject("response").getJsonObject("body").getString("error"));
        // the operator's log has the upstream's answer, tied to the line
        List<String> warned = warnings(id);
        assertTrue(warned.stream().anyMatch(m -> m.contains("line 1 ") && m.contains("HTTP 401") && m.contains("sk-upstr*******cret")),
                warned.toString());
    }

    @Test
    void anUnreachableUpstreamFailsNoLineAndSpendsNoAttempt() {
        // (what a tenant reads when a line does fail unanswered is RetryPolicyTest's: a fixed sentence per kind)
        String r = run();
        String id = createBatch(KEY_A, upload(KEY_A, chatLine(r + "-1", "dead-model", null) + "\n"), CHAT, "24h").getString("id");
        try {
            dev.openbatch.testing.Api.await(KEY_A, id, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(20));
            try {
                Thread.sleep(1500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Map<String, Object> line = dev.openbatch.testing.Api.as(KEY_A).get("/v1/batches/" + id + "/requests").then().statusCode(200)
                    .extract().jsonPath().getMap("data[0]");
            assertEquals("queued", line.get("state"));
            assertEquals(0, line.get("attempts"));
            assertEquals(0, dev.openbatch.testing.Api.batch(KEY_A, id).getInt("request_counts.failed"));
        } finally {
            dev.openbatch.testing.Api.as(KEY_A).post("/v1/batches/" + id + "/cancel");
        }
        JsonPath done = awaitStatus(KEY_A, id, "cancelled", Duration.ofSeconds(20));
        assertEquals("batch_cancelled", errors(done).get(r + "-1").getJsonObject("error").getString("code"));
    }
}
