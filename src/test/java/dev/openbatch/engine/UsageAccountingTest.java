package dev.openbatch.engine;

import static dev.openbatch.engine.EngineTesting.awaitInFlight;
import static dev.openbatch.engine.EngineTesting.sleep;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.await;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.usage.UsageQuery;
import dev.openbatch.usage.UsageService;
import dev.openbatch.usage.UsageViews.BatchUsage;
import dev.openbatch.usage.UsageViews.Bucket;
import dev.openbatch.usage.UsageViews.Page;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;

/**
 * Usage is counted in the transactions that settle lines: after a process dies mid-batch (its
 * answers not yet written are lost, as with kill -9) and another takes over, and after a cancel
 * or an expiry that settles lines in bulk, what the usage route reads equals the batch's own
 * counters, and the per-project metrics moved as much.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class UsageAccountingTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";
    private static final String PROJECT = "project-a";
    private static final String MODEL = "fake-model";

    @Inject
    UsageService usage;
    @Inject
    MeterRegistry registry;

    /** Lines settled, succeeded, failed, input and output tokens of project-a's fake-model, around now. */
    private long[] totals() {
        long now = time.seconds();
        UsageQuery q = UsageQuery.parse(Long.toString(now - 3 * 86_400), Long.toString(now + 3 * 86_400), "1d", List.of("project_id", "model"),
                List.of(PROJECT), List.of(MODEL), "7", null, now, UsageService.USAGE_GROUPS);
        Page<BatchUsage> page = usage.usage(q).await().atMost(Duration.ofSeconds(10));
        long[] t = new long[5];
        for (Bucket<BatchUsage> b : page.data()) {
            for (BatchUsage u : b.results()) {
                assertEquals(PROJECT, u.project_id());
                assertEquals(MODEL, u.model());
                t[0] += u.num_model_requests();
                t[1] += u.lines_succeeded();
                t[2] += u.lines_failed();
                t[3] += u.input_tokens();
                t[4] += u.output_tokens();
            }
        }
        return t;
    }

    private double metric(String name, String tag, String value) {
        Counter c = registry.find(name).tag("project", PROJECT).tag("model", MODEL).tag(tag, value).counter();
        return c == null ? 0 : c.count();
    }

    private double[] metrics() {
        return new double[] { metric("openbatch_project_lines", "outcome", "succeeded"), metric("openbatch_project_lines", "outcome", "failed"),
                metric("openbatch_project_tokens", "kind", "input"), metric("openbatch_project_tokens", "kind", "output") };
    }

    /** The usage counted since {@code before} is the batch's: its request counts and its usage. */
    private void assertCountedAsTheBatch(long[] before, double[] metricsBefore, JsonPath done) {
        long[] after = totals();
        int ok = done.getInt("request_counts.completed");
        int bad = done.getInt("request_counts.failed");
        assertEquals(ok + bad, after[0] - before[0], "requests: lines settled");
        assertEquals(ok, after[1] - before[1], "lines succeeded");
        assertEquals(bad, after[2] - before[2], "lines failed");
        assertEquals(done.getLong("usage.input_tokens"), after[3] - before[3], "input tokens");
        assertEquals(done.getLong("usage.output_tokens"), after[4] - before[4], "output tokens");
        double[] m = metrics();
        assertEquals(ok, m[0] - metricsBefore[0], 0.0, "openbatch_project_lines_total{outcome=succeeded}");
        assertEquals(bad, m[1] - metricsBefore[1], 0.0, "openbatch_project_lines_total{outcome=failed}");
        assertEquals(done.getLong("usage.input_tokens"), m[2] - metricsBefore[2], 0.0, "openbatch_project_tokens_total{kind=input}");
        assertEquals(done.getLong("usage.output_tokens"), m[3] - metricsBefore[3], 0.0, "openbatch_project_tokens_total{kind=output}");
    }

    @Test
    void usageEqualsTheBatchAfterAProcessDiesMidBatchAndAnotherTakesOver() {
        String r = EngineTest.run();
        String fast = IntStream.rangeClosed(1, 8).mapToObj(i -> chatLine(r + "-ok-" + i, MODEL, null)).collect(Collectors.joining("\n"));
        String bad = IntStream.rangeClosed(1, 4).mapToObj(i -> chatLine(r + "-bad-" + i, MODEL, "{\"statuses\":[400]}"))
                .collect(Collectors.joining("\n"));
        String slow = IntStream.rangeClosed(1, 12).mapToObj(i -> chatLine(r + "-slow-" + i, MODEL, "{\"latency_ms\":1500}"))
                .collect(Collectors.joining("\n"));
        long[] before = totals();
        double[] metricsBefore = metrics();
        String id = createBatch(KEY_A, upload(KEY_A, fast + "\n" + bad + "\n" + slow), CHAT, "24h").getString("id");
        Engine first = engine("usage-first", config);
        // the fast lines' results are written; the slow ones are in flight when the process dies
        await(KEY_A, id, b -> b.getInt("request_counts.completed") + b.getInt("request_counts.failed") >= 12, Duration.ofSeconds(20));
        awaitInFlight(first, 12);
        first.halt();
        JsonPath mid = dev.openbatch.testing.Api.batch(KEY_A, id);
        long[] atCrash = totals();
        assertEquals(mid.getInt("request_counts.completed"), atCrash[1] - before[1], "what was written before the crash is counted");

        clock.set(Clock.offset(Clock.systemUTC(), config.lease().plusSeconds(1)));
        engine("usage-second", config);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(20, done.getInt("request_counts.completed"));
        assertEquals(4, done.getInt("request_counts.failed"));
        assertTrue(done.getLong("usage.input_tokens") > 0);
        assertCountedAsTheBatch(before, metricsBefore, done);
    }

    @Test
    void cancelledLinesQueuedOrInFlightCountAsFailed() {
        String r = EngineTest.run();
        String fast = IntStream.rangeClosed(1, 3).mapToObj(i -> chatLine(r + "-ok-" + i, MODEL, null)).collect(Collectors.joining("\n"));
        // more slow lines than a process holds (the fake's 16 slots, and as many claimed ahead): some are
        // queued at the cancel (settled in bulk), some in flight (aborted, written as cancelled)
        String slow = IntStream.rangeClosed(1, 50).mapToObj(i -> chatLine(r + "-slow-" + i, MODEL, "{\"latency_ms\":3000}"))
                .collect(Collectors.joining("\n"));
        long[] before = totals();
        double[] metricsBefore = metrics();
        String id = createBatch(KEY_A, upload(KEY_A, fast + "\n" + slow), CHAT, "24h").getString("id");
        Engine e = engine("usage-cancel", config);
        await(KEY_A, id, b -> b.getInt("request_counts.completed") >= 3, Duration.ofSeconds(20));
        awaitInFlight(e, 10);
        as(KEY_A).post("/v1/batches/" + id + "/cancel").then().statusCode(200);
        JsonPath done = awaitStatus(KEY_A, id, "cancelled", Duration.ofSeconds(20));
        assertEquals(3, done.getInt("request_counts.completed"));
        assertEquals(50, done.getInt("request_counts.failed"));
        assertCountedAsTheBatch(before, metricsBefore, done);
    }

    @Test
    void expiredLinesQueuedOrInFlightCountAsFailed() {
        String r = EngineTest.run();
        String fast = IntStream.rangeClosed(1, 2).mapToObj(i -> chatLine(r + "-ok-" + i, MODEL, null)).collect(Collectors.joining("\n"));
        // more lines that never answer than a process holds (in flight to the fake's 16 slots, and as many
        // claimed ahead): when the batch's minute runs out, some are in flight (aborted, written as expired)
        // and the rest queued (settled in bulk)
        String hang = IntStream.rangeClosed(1, 50).mapToObj(i -> chatLine(r + "-hang-" + i, MODEL, "{\"hang\":true}"))
                .collect(Collectors.joining("\n"));
        long[] before = totals();
        double[] metricsBefore = metrics();
        String id = createBatch(KEY_A, upload(KEY_A, fast + "\n" + hang), CHAT, "1m").getString("id");
        Engine e = engine("usage-expire", config);
        await(KEY_A, id, b -> b.getInt("request_counts.completed") >= 2, Duration.ofSeconds(20));
        awaitInFlight(e, 4);
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2)));
        JsonPath done = awaitStatus(KEY_A, id, "expired", Duration.ofSeconds(20));
        assertEquals(2, done.getInt("request_counts.completed"));
        assertEquals(50, done.getInt("request_counts.failed"));
        assertCountedAsTheBatch(before, metricsBefore, done);
    }
}
