package dev.openbatch.engine;

import dev.openbatch.testing.TestServer;

import static dev.openbatch.engine.EngineTesting.lines;
import static dev.openbatch.engine.EngineTesting.sleep;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstream;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.upstream.HttpUpstream;
import dev.openbatch.upstream.Upstream;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.core.Vertx;
import jakarta.inject.Inject;

/**
 * Several upstreams for one model: each takes the batch's lines as fast as its limit lets it; one
 * that refuses connections is drained, the others carry its lines, no line fails and no attempt
 * is spent on a refused connection, and it comes back when it answers again; an overflow one takes
 * lines only when a batch needs it.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class FleetTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";

    @Inject
    Vertx vertx;
    @Inject
    MeterRegistry registry;

    private final List<FakeUpstream> fakes = new ArrayList<>();
    private final List<HttpUpstream> clients = new ArrayList<>();

    @AfterEach
    void stopFakes() {
        clients.forEach(HttpUpstream::close);
        clients.clear();
        fakes.forEach(FakeUpstream::stop);
        fakes.clear();
    }

    private FakeUpstream fake(int port) throws Exception {
        FakeUpstream f = new FakeUpstream();
        f.start(port);
        fakes.add(f);
        return f;
    }

    private Upstream upstream(String name, int port, int maxConcurrency, boolean overflow) {
        HttpUpstream u = new HttpUpstream(vertx, name, TestServer.of("http://127.0.0.1:" + port).models("fake-model").maxConcurrency(maxConcurrency).overflow(overflow),
                Duration.ofSeconds(10), 1 << 20);
        clients.add(u);
        return u;
    }

    private Engine engine(String node, Upstream... upstreams) {
        return start(builder(node).upstreams(List.of(upstreams)));
    }

    private static int seen(FakeUpstream f, String r, int n) {
        int sum = 0;
        for (int i = 1; i <= n; i++) {
            sum += f.attemptsOf(r + "-" + i);
        }
        return sum;
    }

    private static void assertEachOnceNoneFailed(JsonPath done, String r, int n) {
        assertEquals(n, done.getInt("request_counts.completed"), "every line completed");
        assertEquals(0, done.getInt("request_counts.failed"), "none failed");
        Map<String, JsonObject> out = EngineTest.file(KEY_A, done.getString("output_file_id"));
        assertEquals(n, out.size());
        for (int i = 1; i <= n; i++) {
            assertTrue(out.containsKey(r + "-" + i), r + "-" + i + " in the output");
        }
    }

    private double metric(String name, String upstream) {
        var gauge = registry.find(name).tag("upstream", upstream).gauge();
        if (gauge != null) {
            return gauge.value();
        }
        var counter = registry.find(name).tag("upstream", upstream).counter();
        return counter == null ? Double.NaN : counter.count();
    }

    private static void until(BooleanSupplier what, Duration within, String why) {
        long deadline = System.currentTimeMillis() + within.toMillis();
        while (!what.getAsBoolean()) {
            assertTrue(System.currentTimeMillis() < deadline, why);
            sleep(20);
        }
    }

    @Test
    void twoUpstreamsOfOneModelBothTakeItsLines() throws Exception {
        FakeUpstream a = fake(0);
        FakeUpstream b = fake(0);
        a.latency(20);
        b.latency(20);
        String r = EngineTest.run();
        int n = 200;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, null)), CHAT, "24h").getString("id");
        engine("fleet-two", upstream("fleet-a", portOf(a), 8, false), upstream("fleet-b", portOf(b), 8, false));
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEachOnceNoneFailed(done, r, n);
        for (int i = 1; i <= n; i++) {
            assertEquals(1, a.attemptsOf(r + "-" + i) + b.attemptsOf(r + "-" + i), "line " + i + " sent once");
        }
        assertTrue(seen(a, r, n) > n / 5 && seen(b, r, n) > n / 5, "both carry lines: " + seen(a, r, n) + " / " + seen(b, r, n));
    }

    @Test
    void anUpstreamStoppedMidBatchIsDrainedTheOtherCarriesItsLinesAndItComesBack() throws Exception {
        FakeUpstream a = fake(0);
        FakeUpstream b = fake(0);
        a.latency(30);
        b.latency(30);
        int portB = portOf(b);
        String r = EngineTest.run();
        int n = 300;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, null)), CHAT, "24h").getString("id");
        engine("fleet-drain", upstream("fleet-a", portOf(a), 8, false), upstream("fleet-b", portB, 8, false));
        until(() -> seen(b, r, n) >= 20, Duration.ofSeconds(30), "b takes lines");
        double drainsBefore = metric("openbatch_upstream_drains", "fleet-b");
        b.stopNow(); // connections to b are refused from now on
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEachOnceNoneFailed(done, r, n);
        assertEquals(1.0, metric("openbatch_upstream_drained", "fleet-b"), "b is drained");
        assertEquals(Double.isNaN(drainsBefore) ? 1.0 : drainsBefore + 1, metric("openbatch_upstream_drains", "fleet-b"));
        assertEquals(0.0, metric("openbatch_upstream_drained", "fleet-a"));
        // a refused connection spends no attempt: each line counts the attempts that reached a server,
        // but for lines in flight to b when it stopped (at most its 8 slots): their connection closed after
        // the request went out, which may or may not have reached b's handler, so the attempt counts
        List<Map<String, Object>> rows = rows(id);
        assertEquals(n, rows.size());
        int unseen = 0;
        for (Map<String, Object> row : rows) {
            String key = (String) row.get("custom_id");
            int arrived = a.attemptsOf(key) + b.attemptsOf(key);
            int recorded = ((Number) row.get("attempts")).intValue();
            assertTrue(recorded == arrived || recorded == arrived + 1, key + ": attempts recorded " + recorded + ", arrived " + arrived);
            unseen += recorded - arrived;
        }
        assertTrue(unseen <= 8, "attempts spent that no server saw, at most b's lines in flight at its stop: " + unseen);

        // b is back on the same port: a probe finds it and it takes lines again
        FakeUpstream back = fake(portB);
        until(() -> metric("openbatch_upstream_drained", "fleet-b") == 0.0, Duration.ofSeconds(10), "b is undrained");
        String r2 = EngineTest.run();
        int n2 = 100;
        back.latency(20);
        a.latency(20);
        String id2 = createBatch(KEY_A, upload(KEY_A, lines(r2, n2, null)), CHAT, "24h").getString("id");
        JsonPath done2 = awaitStatus(KEY_A, id2, "completed", Duration.ofSeconds(60));
        assertEachOnceNoneFailed(done2, r2, n2);
        assertTrue(seen(back, r2, n2) > 0, "b takes lines again");
    }

    @Test
    void anOverflowUpstreamTakesNothingWhileTheDeadlineIsComfortable() throws Exception {
        FakeUpstream a = fake(0);
        FakeUpstream o = fake(0);
        String r = EngineTest.run();
        int n = 60;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":10}")), CHAT, "24h").getString("id");
        engine("fleet-comfortable", upstream("fleet-a", portOf(a), 4, false), upstream("fleet-o", portOf(o), 16, true));
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEachOnceNoneFailed(done, r, n);
        assertEquals(n, seen(a, r, n));
        assertEquals(0, seen(o, r, n), "a comfortable deadline needs no overflow");
    }

    @Test
    void anOverflowUpstreamTakesLinesOfABatchAtRisk() throws Exception {
        FakeUpstream a = fake(0);
        FakeUpstream o = fake(0);
        String r = EngineTest.run();
        int n = 60;
        // a one-minute window is in its last minute from the start: at risk whatever its rate
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, "{\"latency_ms\":100}")), CHAT, "1m").getString("id");
        engine("fleet-at-risk", upstream("fleet-a", portOf(a), 2, false), upstream("fleet-o", portOf(o), 16, true));
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEachOnceNoneFailed(done, r, n);
        assertTrue(seen(o, r, n) > 0, "the overflow upstream helps: " + seen(o, r, n));
        assertTrue(seen(a, r, n) > 0, "the regular one keeps working: " + seen(a, r, n));
    }

    @Test
    void anOverflowUpstreamTakesLinesWhenTheRegularOneIsDrained() throws Exception {
        FakeUpstream o = fake(0);
        String r = EngineTest.run();
        int n = 40;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, null)), CHAT, "24h").getString("id");
        // nothing listens on port 1: the regular upstream refuses every connection
        engine("fleet-regular-down", upstream("fleet-dead", 1, 4, false), upstream("fleet-o", portOf(o), 8, true));
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEachOnceNoneFailed(done, r, n);
        assertEquals(n, seen(o, r, n));
        List<Map<String, Object>> rows = rows(id);
        rows.forEach(row -> assertEquals(1, row.get("attempts"), "refused connections spent no attempt: " + row));
    }

    private static int portOf(FakeUpstream f) {
        return f.port();
    }

    /** Every line of the batch as the lines API shows it. */
    private static List<Map<String, Object>> rows(String id) {
        List<Map<String, Object>> out = new ArrayList<>();
        String after = null;
        while (true) {
            JsonPath p = as(KEY_A).get("/v1/batches/" + id + "/requests?limit=100" + (after == null ? "" : "&after=" + after)).then()
                    .statusCode(200).extract().jsonPath();
            out.addAll(p.getList("data"));
            if (!p.getBoolean("has_more")) {
                return out;
            }
            after = p.getString("last_id");
        }
    }
}
