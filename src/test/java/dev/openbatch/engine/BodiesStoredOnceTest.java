package dev.openbatch.engine;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * A batch validated from its file's line index keeps no copy of its request bodies: each row says
 * where its body lies in the input file, and the engine sends exactly those bytes, cut out of the
 * file's chunks (V18). A retry shares the file; once the file is deleted, the bodies are gone with
 * it and a retry is refused. A retry call copies no line: the engine does, and fails the retry
 * when the lines went meanwhile.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class BodiesStoredOnceTest extends EngineTesting {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final String CHAT = "/v1/chat/completions";

    @BeforeEach
    void startEngine() {
        FAKE.reset();
        engine("bodies-once");
    }

    /**
     * The body of line {@code i}, as it stands in the file (spaces and all): a chat request whose
     * key is {@code key}, with about {@code pad} characters of text that is not ASCII (two and three
     * bytes a character), different from line to line.
     */
    private static String body(String key, int i, int pad, String fake) {
        StringBuilder note = new StringBuilder();
        String[] words = { "é", "日本", "✓", "ß", "€", "naïve", "😀" };
        while (note.length() < pad) {
            note.append(words[(note.length() + i) % words.length]).append(i % 10);
        }
        return "{\"model\": \"fake-model\",  \"messages\": [{\"role\": \"user\", \"content\": \"" + key + "\"}], \"note\": \"" + note
                + "\"" + (fake == null ? "" : ", \"fake\": " + fake) + "}";
    }

    private static String line(String key, String body) {
        return "{\"custom_id\": \"" + key + "\", \"method\": \"POST\", \"url\": \"" + CHAT + "\", \"body\": " + body + "}";
    }

    private Row row(String sql, Object... args) {
        return pool.preparedQuery(sql).execute(Tuple.from(args)).await().atMost(WAIT).iterator().next();
    }

    @Test
    void eachLineIsSentWithTheBytesOfItsBodyInTheFileAndNoRowCopiesIt() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        int n = 900; // ~2.7 MB: three chunks of the file
        List<String> bodies = new ArrayList<>();
        StringBuilder file = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String b = body(run + "-" + i, i, 1200, null);
            bodies.add(b);
            file.append(line(run + "-" + i, b)).append(i % 3 == 0 ? "\r\n" : "\n");
        }
        String fileId = upload(KEY_A, file.toString());
        String id = createBatch(KEY_A, fileId, CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", WAIT);
        assertEquals(n, done.getInt("request_counts.completed"));

        assertTrue(row("select count(*) from file_chunks where file_id = $1", fileId).getLong(0) >= 3, "the file spans chunks");
        Row stored = row("select count(*) filter (where body is null and body_seq is not null), count(body),"
                + " coalesce(sum(body_length), 0), count(distinct body_seq) from requests where batch_id = $1", id);
        assertEquals(n, stored.getLong(0), "no row holds its body");
        assertEquals(0, stored.getLong(1));
        long bodyBytes = bodies.stream().mapToLong(b -> b.getBytes(java.nio.charset.StandardCharsets.UTF_8).length).sum();
        assertEquals(bodyBytes, stored.getLong(2), "each row points at exactly its body's bytes");
        assertTrue(stored.getLong(3) >= 3, "the lines point into every chunk");

        List<String> received = new ArrayList<>(FAKE.bodies);
        for (String b : bodies) {
            assertTrue(received.contains(b), "sent as it stands in the file: " + b.substring(0, 80));
        }
        assertEquals(n, received.size());
    }

    @Test
    void aRetrySendsTheBodiesFromTheFileAndIsRefusedOnceTheFileIsDeleted() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        StringBuilder file = new StringBuilder();
        List<String> failing = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            String b = body(run + "-" + i, i, 40, i % 4 == 1 ? "{\"statuses\": [400]}" : null);
            if (i % 4 == 1) {
                failing.add(b);
            }
            file.append(line(run + "-" + i, b)).append('\n');
        }
        String fileId = upload(KEY_A, file.toString());
        String id = createBatch(KEY_A, fileId, CHAT, "24h").getString("id");
        assertEquals(failing.size(), awaitStatus(KEY_A, id, "completed", WAIT).getInt("request_counts.failed"));

        String retry = as(KEY_A).post("/v1/batches/" + id + "/retry").then().statusCode(200).extract().path("id");
        assertEquals(failing.size(), awaitStatus(KEY_A, retry, "completed", WAIT).getInt("request_counts.total"));
        for (String b : failing) {
            assertEquals(2, FAKE.bodies.stream().filter(b::equals).count(), "sent again as it stands in the file: " + b);
        }
        assertEquals(0, row("select count(body) from requests where batch_id = $1", retry).getLong(0), "the retry copies no body either");

        as(KEY_A).delete("/v1/files/" + fileId).then().statusCode(200);
        as(KEY_A).post("/v1/batches/" + id + "/retry").then().statusCode(409)
                .body("error.code", org.hamcrest.Matchers.equalTo("input_file_deleted"));
        assertEquals(0, row("select count(*) from batches where project = 'project-a' and input_file_id = $1 and status = 'in_progress'",
                fileId).getLong(0), "nothing was created");
    }

    /** A completed batch of four lines, two of them failed (a 400), and its retry asked for with no engine running: validating. */
    private String[] retryLeftValidating() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        StringBuilder file = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            file.append(line(run + "-" + i, body(run + "-" + i, i, 40, i % 2 == 0 ? "{\"statuses\": [400]}" : null))).append('\n');
        }
        String id = createBatch(KEY_A, upload(KEY_A, file.toString()), CHAT, "24h").getString("id");
        assertEquals(2, awaitStatus(KEY_A, id, "completed", WAIT).getInt("request_counts.failed"));

        haltEngines(); // no engine: the retry stays as the call left it
        String retry = as(KEY_A).post("/v1/batches/" + id + "/retry").then().statusCode(200)
                .body("status", org.hamcrest.Matchers.equalTo("validating")).extract().path("id");
        assertEquals(0, row("select count(*) from requests where batch_id = $1", retry).getLong(0), "the call copies no line");
        assertEquals("validating", Api.batch(KEY_A, retry).getString("status"));
        return new String[] { id, retry };
    }

    @Test
    void aRetryCallCopiesNoLineAndTheEngineFailsTheRetryWhoseLinesWereDeletedMeanwhile() {
        String[] ids = retryLeftValidating();
        // the retried batch's lines are deleted (its data expired) before an engine copies them
        row("update batches set data_purged_at = 1 where id = $1 returning id", ids[0]);
        engine("bodies-once-after");
        JsonPath failed = awaitStatus(KEY_A, ids[1], "failed", WAIT);
        assertEquals(List.of("data_expired"), failed.getList("errors.data.code"), failed.prettify());
        assertEquals(0, failed.getInt("request_counts.total"));
        assertEquals(0, row("select count(*) from requests where batch_id = $1", ids[1]).getLong(0));
    }

    @Test
    void aRetryCancelledBeforeItsLinesAreCopiedEndsCancelledWithEveryLineCancelledAndNoneSent() {
        String[] ids = retryLeftValidating();
        int sentBefore = FAKE.bodies.size();
        as(KEY_A).post("/v1/batches/" + ids[1] + "/cancel").then().statusCode(200).body("status", org.hamcrest.Matchers.equalTo("cancelling"));
        engine("bodies-once-cancel");
        JsonPath cancelled = awaitStatus(KEY_A, ids[1], "cancelled", WAIT);
        assertEquals(2, cancelled.getInt("request_counts.total"), cancelled.prettify());
        assertEquals(2, cancelled.getInt("request_counts.failed"));
        assertEquals(sentBefore, FAKE.bodies.size(), "nothing of a cancelled retry went upstream");
    }
}
