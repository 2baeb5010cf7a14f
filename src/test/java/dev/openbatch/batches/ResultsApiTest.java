package dev.openbatch.batches;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.ResultsReader.assertSameLines;
import static dev.openbatch.testing.ResultsReader.fileLines;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.Envelope;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.TestClock;
import dev.openbatch.testing.ResultsReader;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.vertx.core.json.JsonObject;
import jakarta.inject.Inject;

/** GET /v1/batches/{id}/results: the lines settled since a cursor, while the batch runs, each once, the files' lines exactly. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class ResultsApiTest {
    private static final String CHAT = "/v1/chat/completions";

    @Inject
    TestClock clock;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** n lines r-1 … r-n: every 7th fails with a 400, every 5th fails once with a 503 first, all answer after latencyMs. */
    static String mixed(String r, int n, int latencyMs) {
        return IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, "fake-model", "{\"latency_ms\":" + latencyMs
                + (i % 7 == 0 ? ",\"statuses\":[400]" : i % 5 == 0 ? ",\"statuses\":[503,200]" : "") + "}"))
                .collect(Collectors.joining("\n", "", "\n"));
    }

    @Test
    void linesArriveWhileTheBatchRunsEachOnceAndTheirUnionIsTheFiles() {
        String r = run();
        int n = 60;
        int hanging = 4; // the last lines never get an answer: timed out five times, they keep the batch running for over 10 s
        String input = mixed(r, n - hanging, 250) + IntStream.rangeClosed(n - hanging + 1, n)
                .mapToObj(i -> chatLine(r + "-" + i, "fake-model", "{\"hang\":true}")).collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        ResultsReader reader = new ResultsReader(KEY_A, id, "");
        // the first lines come while the batch still runs (a line is readable once every writing transaction older than the
        // one that settled it has ended on the server, other tests' included: the batch runs long enough for that)
        long end = System.currentTimeMillis() + 30_000;
        while (reader.lines().isEmpty() && System.currentTimeMillis() < end) {
            reader.poll();
            Api.await(KEY_A, id, b -> true, Duration.ofSeconds(1));
        }
        assertFalse(reader.lines().isEmpty(), "no result came within 30 s");
        String statusThen = Api.batch(KEY_A, id).getString("status");
        assertTrue(List.of("in_progress", "finalizing").contains(statusThen), "results are read while the batch runs (it is " + statusThen + ")");
        assertFalse(reader.complete(), "the stream is not complete while the batch runs");

        reader.readToEnd(Duration.ofSeconds(90), Duration.ofMillis(100));
        JsonPath done = Api.batch(KEY_A, id);
        assertEquals("completed", done.getString("status"), "the stream is complete only once the batch has ended");
        // (how many calls brought lines while it ran depends on every writing transaction on the server, other tests' too)
        assertTrue(reader.callsWithLinesBeforeComplete() >= 1, "lines came while it ran");
        Map<String, Integer> counts = reader.counts();
        assertEquals(n, counts.size());
        for (int i = 1; i <= n; i++) {
            assertEquals(1, counts.get(r + "-" + i), "line " + i + " is received exactly once");
        }
        assertSameLines(reader.lines(), fileLines(KEY_A, done.getString("output_file_id")), fileLines(KEY_A, done.getString("error_file_id")));
        int failed = (int) IntStream.rangeClosed(1, n - hanging).filter(i -> i % 7 == 0).count() + hanging;
        assertEquals(failed, done.getInt("request_counts.failed"));
        // a line that was retried (503, then 200) is in the stream once, with its final answer
        JsonObject retried = reader.lines().stream().map(JsonObject::new).filter(o -> o.getString("custom_id").equals(r + "-5")).findFirst().orElseThrow();
        assertEquals(200, retried.getJsonObject("response").getInteger("status_code"));

        // once complete, the cursor stays complete and returns nothing more
        ResultsReader.Poll again = reader.poll();
        assertEquals(0, again.lines());
        assertTrue(reader.complete());
    }

    @Test
    void outcomeKeepsTheLinesOfOneFileAndSmallPagesCarryTheCursor() {
        String r = run();
        int n = 30;
        String id = createBatch(KEY_A, upload(KEY_A, mixed(r, n, 0)), CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        List<String> output = fileLines(KEY_A, done.getString("output_file_id"));
        List<String> errors = fileLines(KEY_A, done.getString("error_file_id"));
        assertEquals(n - n / 7, output.size());

        ResultsReader ok = new ResultsReader(KEY_A, id, "outcome=succeeded").readToEnd(Duration.ofSeconds(20), Duration.ofMillis(50));
        assertSameLines(ok.lines(), output, List.of());
        ResultsReader bad = new ResultsReader(KEY_A, id, "outcome=failed").readToEnd(Duration.ofSeconds(20), Duration.ofMillis(50));
        assertSameLines(bad.lines(), List.of(), errors);

        ResultsReader paged = new ResultsReader(KEY_A, id, "limit=7");
        List<ResultsReader.Poll> polls = new ArrayList<>();
        while (!paged.complete()) {
            polls.add(paged.poll());
        }
        assertEquals(5, polls.size(), "30 lines in pages of 7: four full pages, then the last 2");
        for (int i = 0; i < 4; i++) {
            assertEquals(new ResultsReader.Poll(7, true), polls.get(i));
        }
        assertEquals(new ResultsReader.Poll(2, false), polls.get(4));
        assertSameLines(paged.lines(), output, errors);
    }

    @Test
    void largeAnswersComeAFewMegabytesAtATime() {
        String r = run();
        int n = 14;
        int pad = 1_000_000; // each answer about 1 MB
        String input = IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, "fake-model", "{\"pad\":" + pad + "}"))
                .collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(90));
        ResultsReader reader = new ResultsReader(KEY_A, id, "");
        List<ResultsReader.Poll> polls = new ArrayList<>();
        while (!reader.complete()) {
            polls.add(reader.poll());
        }
        int budgetLines = dev.openbatch.batches.BatchLines.RESULTS_BYTES / pad; // whole lines that fit the budget, plus the one that passes it
        for (ResultsReader.Poll p : polls.subList(0, polls.size() - 1)) {
            assertTrue(p.lines() >= 1 && p.lines() <= budgetLines + 1, "a read holds about " + dev.openbatch.batches.BatchLines.RESULTS_BYTES
                    + " bytes of lines: " + polls);
            assertTrue(p.hasMore());
        }
        assertTrue(polls.size() >= n / (budgetLines + 1), "the budget split the stream: " + polls);
        assertSameLines(reader.lines(), fileLines(KEY_A, done.getString("output_file_id")), List.of());
    }

    @Test
    void cancelledAndExpiredLinesAreInTheStreamAsInTheErrorFile() {
        String r = run();
        String fast = IntStream.rangeClosed(1, 4).mapToObj(i -> chatLine(r + "-fast-" + i, "fake-model", null)).collect(Collectors.joining("\n"));
        String slow = IntStream.rangeClosed(1, 40).mapToObj(i -> chatLine(r + "-slow-" + i, "fake-model", "{\"latency_ms\":1500}"))
                .collect(Collectors.joining("\n"));
        String cancelled = createBatch(KEY_A, upload(KEY_A, fast + "\n" + slow), CHAT, "24h").getString("id");
        ResultsReader reader = new ResultsReader(KEY_A, cancelled, "");
        Api.await(KEY_A, cancelled, b -> b.getInt("request_counts.completed") >= 4, Duration.ofSeconds(20));
        reader.poll();
        as(KEY_A).post("/v1/batches/" + cancelled + "/cancel").then().statusCode(200);
        reader.readToEnd(Duration.ofSeconds(30), Duration.ofMillis(100));
        JsonPath c = Api.batch(KEY_A, cancelled);
        assertEquals("cancelled", c.getString("status"));
        assertSameLines(reader.lines(), fileLines(KEY_A, c.getString("output_file_id")), fileLines(KEY_A, c.getString("error_file_id")));
        assertTrue(reader.lines().stream().anyMatch(l -> l.contains("\"batch_cancelled\"")));

        String expiring = createBatch(KEY_A, upload(KEY_A, fast.replace("-fast-", "-efast-") + "\n" + slow.replace("-slow-", "-eslow-")), CHAT, "1m")
                .getString("id");
        ResultsReader late = new ResultsReader(KEY_A, expiring, "");
        Api.await(KEY_A, expiring, b -> b.getInt("request_counts.completed") >= 4, Duration.ofSeconds(20));
        late.poll();
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2)));
        late.readToEnd(Duration.ofSeconds(30), Duration.ofMillis(100));
        JsonPath e = Api.batch(KEY_A, expiring);
        assertEquals("expired", e.getString("status"));
        assertSameLines(late.lines(), fileLines(KEY_A, e.getString("output_file_id")), fileLines(KEY_A, e.getString("error_file_id")));
        assertTrue(late.lines().stream().anyMatch(l -> l.contains("\"batch_expired\"")));
        assertEquals(44, late.counts().size());
    }

    @Test
    void aBatchWithoutLinesIsEmptyUntilItEnds() {
        // a file that fails validation: no line ever settles, and the stream is complete once the batch failed
        String id = createBatch(KEY_A, upload(KEY_A, "not json\n"), CHAT, "24h").getString("id");
        awaitStatus(KEY_A, id, "failed", Duration.ofSeconds(30));
        ResultsReader reader = new ResultsReader(KEY_A, id, "");
        assertEquals(new ResultsReader.Poll(0, false), reader.poll());
        assertTrue(reader.complete());
    }

    @Test
    void badRequestsGetTheEnvelope() {
        String r = run();
        String id = createBatch(KEY_A, upload(KEY_A, chatLine(r + "-1", "fake-model", null)), CHAT, "24h").getString("id");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        Envelope.assertEnvelope(as(KEY_B).get("/v1/batches/" + id + "/results"), 404, null, "not_found");
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/batch-nope/results"), 404, null, "not_found");
        for (String after : List.of("x", "1", "1.", ".1", "-1.2", "1.-2", "01.2", "99999999999999999999.1", "1.2.3", "1.99999999999")) {
            Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/results?after=" + after), 400, "after", "invalid_value");
        }
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/results?outcome=expired"), 400, "outcome", "invalid_value");
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/results?limit=0"), 400, "limit", "invalid_value");
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/results?limit=50001"), 400, "limit", "invalid_value");
        Envelope.assertEnvelope(as(KEY_A).get("/v1/batches/" + id + "/results?limit=x"), 400, "limit", "invalid_type");
        // whatever Accept asks for, as a file's content
        Response any = as(KEY_A).accept("application/octet-stream").get("/v1/batches/" + id + "/results");
        assertEquals(200, any.statusCode());
        assertEquals(1, any.asString().split("\n").length);
    }
}
