package dev.openbatch.engine;

import static dev.openbatch.engine.EngineTesting.awaitInFlight;
import static dev.openbatch.engine.EngineTesting.lines;
import static dev.openbatch.engine.EngineTesting.sleep;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.await;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Configs;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonObject;

/**
 * The engine's hard cases, with engines started by hand as separate processes would be:
 * a lease taken over after it ran out, a crash between the upstream's answer and the write,
 * two engines on one database, and a graceful stop.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class EngineFaultsTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";

    private static void assertEachOnce(JsonPath done, String r, int n) {
        Map<String, JsonObject> out = EngineTest.file(KEY_A, done.getString("output_file_id"));
        Map<String, JsonObject> err = EngineTest.file(KEY_A, done.getString("error_file_id"));
        assertEquals(n, out.size() + err.size());
        for (int i = 1; i <= n; i++) {
            String k = r + "-" + i;
            assertTrue(out.containsKey(k) ^ err.containsKey(k), k + " must be in exactly one file");
        }
        assertEquals(n, done.getInt("request_counts.completed") + done.getInt("request_counts.failed"));
    }

    @Test
    void aClaimWhoseLeaseRanOutIsTakenOverAndItsLateWriteChangesNothing() throws Exception {
        String r = EngineTest.run();
        int n = 12;
        // lines answer only after 1.5 s: they are in flight when the first engine dies
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":1500}")), CHAT, "24h").getString("id");
        Engine first = engine("first", config);
        await(KEY_A, id, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(20));
        awaitInFlight(first, n);
        assertEquals(n, first.inFlight());
        first.halt();

        Engine second = engine("second", config);
        // within the lease nobody may take the lines
        assertEquals(0, sweep(second));
        tick(second);
        sleep(300);
        assertEquals(0, sent(second), "lines under a live lease must not be sent again");
        // the lease runs out (the clock moves, nobody sleeps 30 s)
        clock.set(Clock.offset(Clock.systemUTC(), config.lease().plusSeconds(1)));
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(n, done.getInt("request_counts.completed"));
        assertEachOnce(done, r, n);
        for (int i = 1; i <= n; i++) {
            assertEquals(2, FAKE.attemptsOf(r + "-" + i), "the upstream sees a line in flight at the crash at most twice");
        }
    }

    @Test
    void aCrashBetweenTheUpstreamAnswerAndTheWriteLosesNothing() throws Exception {
        String r = EngineTest.run();
        int n = 30;
        int slots = 16; // the fake upstream's max-concurrency
        int unwritten = 4; // answers that may wait for their write beyond the slots
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, null)), CHAT, "24h").getString("id");
        // this engine keeps its results in memory for an hour: they are never written
        Engine first = engine("answered-but-not-written", Configs.of(config).holdingResults(Duration.ofHours(1)).unwritten(unwritten));
        long deadline = System.currentTimeMillis() + 20_000;
        while (sent(first) < slots + unwritten && System.currentTimeMillis() < deadline) {
            sleep(20);
        }
        sleep(500);
        // an answer frees its slot, but answers waiting to be written have their own bound: no more
        // lines go out than the upstream's slots plus that bound
        assertEquals(slots + unwritten, sent(first), "unwritten answers beyond their bound must stop sends");
        assertEquals(0, first.inFlight(), "every line sent was answered");
        first.halt();
        assertEquals(0, EngineTest.file(KEY_A, null).size());
        JsonPath mid = dev.openbatch.testing.Api.batch(KEY_A, id);
        assertEquals(0, mid.getInt("request_counts.completed"), "nothing was written before the crash");

        clock.set(Clock.offset(Clock.systemUTC(), config.lease().plusSeconds(1)));
        engine("after-restart", config);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(n, done.getInt("request_counts.completed"));
        assertEachOnce(done, r, n);
        int twice = 0;
        for (int i = 1; i <= n; i++) {
            int a = FAKE.attemptsOf(r + "-" + i);
            assertTrue(a == 1 || a == 2, "line " + i + " sent " + a + " times");
            twice += a == 2 ? 1 : 0;
        }
        assertEquals(slots + unwritten, twice, "only the lines answered before the crash are sent again");
    }

    @Test
    void twoEnginesOnOneDatabaseShareTheWorkAndNeverSendALineTwice() {
        String r = EngineTest.run();
        int n = 300;
        // 200 ms a line: the batch lasts about 4 s, long enough for the second engine to get its share
        // of the fake's cap (a newcomer sends once the first has published a smaller share: a round or two)
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":200}")), CHAT, "24h").getString("id");
        Engine one = engine("one", config);
        Engine two = engine("two", config);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEquals(n, done.getInt("request_counts.completed"));
        assertEachOnce(done, r, n);
        for (int i = 1; i <= n; i++) {
            assertEquals(1, FAKE.attemptsOf(r + "-" + i), "line " + i + " was sent twice");
        }
        assertEquals(n, sent(one) + sent(two));
        assertTrue(sent(one) > 0 && sent(two) > 0, "both engines should have worked: " + sent(one) + " / " + sent(two));
    }

    @Test
    void aGracefulStopFinishesWhatIsInFlightAndGivesBackTheRest() throws Exception {
        String r = EngineTest.run();
        int n = 60;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":400}")), CHAT, "24h").getString("id");
        Engine first = engine("stopping", config);
        await(KEY_A, id, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(20));
        awaitInFlight(first, 1);
        first.stop(Duration.ofSeconds(5)).toCompletableFuture().get(20, TimeUnit.SECONDS);
        started.remove(first);
        JsonPath mid = dev.openbatch.testing.Api.batch(KEY_A, id);
        assertTrue(mid.getInt("request_counts.completed") > 0, "lines in flight at the stop finish and are written");
        assertTrue(mid.getInt("request_counts.completed") < n);

        // the next process takes the rest at once: nothing waits for a lease to run out
        engine("next", config);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEachOnce(done, r, n);
        for (int i = 1; i <= n; i++) {
            assertEquals(1, FAKE.attemptsOf(r + "-" + i), "a graceful stop sends no line twice");
        }
    }
}
