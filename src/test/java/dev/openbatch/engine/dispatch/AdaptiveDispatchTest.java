package dev.openbatch.engine.dispatch;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.content;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonObject;
import jakarta.inject.Inject;

/**
 * Upstreams with {@code adaptive=true}, against the fake server: this process's engine sends to
 * {@code fake} (fixed, 16), {@code afake} (adaptive, ceiling 16, latency only) and {@code qfake}
 * (adaptive, ceiling 16, reading the fake's {@code /metrics} queue), all the same fake server.
 */
@QuarkusTest
@TestProfile(AdaptiveDispatchTest.Adaptive.class)
@WithTestResource(FakeUpstreamResource.class)
class AdaptiveDispatchTest {
    private static final String CHAT = "/v1/chat/completions";

    /** Two more upstreams at the fake's address, adaptive (the default). */
    public static class Adaptive implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("openbatch.upstreams.afake.url", "${openbatch.upstreams.fake.url}",
                    "openbatch.upstreams.afake.models", "adaptive-model",
                    "openbatch.upstreams.afake.max-concurrency", "16",
                    "openbatch.upstreams.afake.adaptive-initial", "4",
                    "openbatch.upstreams.qfake.url", "${openbatch.upstreams.fake.url}",
                    "openbatch.upstreams.qfake.models", "queue-model",
                    "openbatch.upstreams.qfake.max-concurrency", "16",
                    "openbatch.upstreams.qfake.adaptive-initial", "4",
                    "openbatch.upstreams.qfake.metrics-url", "${openbatch.upstreams.fake.url}/metrics");
        }
    }

    @Inject
    MeterRegistry registry;

    @AfterEach
    void resetFake() {
        FAKE.reset();
    }

    /**
     * 12 lines, each answered 429 with {@code Retry-After: 1} and then 200: a fixed limit of 16
     * sends all 12 at once; the adaptive one starts at 4 and the 429s cut it to 1. (12 answers are
     * fewer than a latency window of 16, so it does not grow back within the run: with more lines
     * it would, by one line per round trip, as {@link AdaptiveLimit} says.)
     */
    @Test
    void retryAfterKeepsFewerLinesInFlightThanAFixedLimitAndEveryLineCompletesOnce() {
        String fake = "{\"statuses\":[429,200],\"retry_after\":1,\"latency_ms\":100}";
        FAKE.reset();
        String fixed = run();
        runToCompletion(fixed, "fake-model", 12, fake);
        int fixedMax = maxInFlight("fake-model");
        for (int i = 1; i <= 12; i++) {
            assertEquals(2, FAKE.attemptsOf(fixed + "-" + i), "line " + i + ": one 429, then one 200");
        }

        FAKE.reset();
        String adaptive = run();
        runToCompletion(adaptive, "adaptive-model", 12, fake);
        int adaptiveMax = maxInFlight("adaptive-model");

        assertTrue(fixedMax >= 8, "a fixed limit of 16 sends the 12 lines together; saw at most " + fixedMax);
        assertTrue(adaptiveMax <= 4 && adaptiveMax < fixedMax,
                "adaptive: at most " + adaptiveMax + " in flight, fixed: " + fixedMax);
        for (int i = 1; i <= 12; i++) {
            assertEquals(2, FAKE.attemptsOf(adaptive + "-" + i), "line " + i + ": one 429, then one 200");
        }
        assertEquals(16, gauge("openbatch_upstream_limit", "fake"), "a fixed upstream's limit is its max-concurrency");
        assertEquals(1, gauge("openbatch_upstream_limit", "afake"), "the 429s with Retry-After cut the limit from 4 to 1");
    }

    @Test
    void aQueueAtTheServerHoldsTheLimitAtOneAndEveryLineCompletesOnce() {
        FAKE.reset();
        FAKE.waiting(40);
        String r = run();
        // 250 ms answers: the first read (metrics-interval, 100 ms, after the first line) comes before a latency window (16 answers) could grow the limit
        runToCompletion(r, "queue-model", 16, "{\"latency_ms\":250}");
        for (int i = 1; i <= 16; i++) {
            assertEquals(1, FAKE.attemptsOf(r + "-" + i), "line " + i + " was sent more than once");
        }
        assertTrue(maxInFlight("queue-model") <= 4,
                "never above where the limit starts while the server has a queue: " + maxInFlight("queue-model"));
        assertEquals(40, gauge("openbatch_upstream_queue", "qfake"), "the queue as last read");
        assertEquals(1, gauge("openbatch_upstream_limit", "qfake"), "40 waiting: the limit falls to 1");
    }

    /** The most requests of this model the fake had in flight at once since its reset (other tests' leftovers left out). */
    private static int maxInFlight(String model) {
        var n = FAKE.maxInFlightByModel.get(model);
        return n == null ? 0 : n.get();
    }

    private double gauge(String name, String upstream) {
        var g = registry.find(name).tag("upstream", upstream).gauge();
        assertNotNull(g, name + "{upstream=" + upstream + "} is not registered");
        return g.value();
    }

    private static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** Runs {@code n} lines of {@code model} as one batch to completion; checks each is in the output once, answered 200. */
    private static void runToCompletion(String r, String model, int n, String fake) {
        String input = IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, model, fake))
                .collect(Collectors.joining("\n", "", "\n"));
        JsonPath created = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h");
        JsonPath done = awaitStatus(KEY_A, created.getString("id"), "completed", Duration.ofSeconds(30));
        assertEquals(n, done.getInt("request_counts.completed"));
        assertEquals(0, done.getInt("request_counts.failed"));
        Map<String, JsonObject> out = new HashMap<>();
        for (String line : content(KEY_A, done.getString("output_file_id")).split("\n")) {
            if (!line.isBlank()) {
                JsonObject o = new JsonObject(line);
                assertNull(out.put(o.getString("custom_id"), o), "custom_id " + o.getString("custom_id") + " appears twice");
            }
        }
        assertEquals(n, out.size());
        out.values().forEach(o -> assertEquals(200, o.getJsonObject("response").getInteger("status_code")));
    }
}
