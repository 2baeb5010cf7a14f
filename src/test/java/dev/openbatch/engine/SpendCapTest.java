package dev.openbatch.engine;

import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.quotas.Spend;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.testing.Api;
import dev.openbatch.testing.Configs;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;

/**
 * The spend cap of a project, end to end: engines built as this process's (two of them, as two
 * replicas would be), a project made and capped through the admin API, its batch run against the
 * fake upstream, whose answers (10 tokens each) are held and let go a wave at a time, so the test
 * decides what is in flight when the cap is reached. Once the project's settled lines reach the
 * cap the batch shows why it is paused, nothing more is sent (from either engine), the lines in
 * flight finish, the rest stay queued and nothing fails; raising the cap, or the UTC day rolling
 * over, lets it finish.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class SpendCapTest extends EngineTesting {
    private static final String ADMIN = "sk-test-admin";
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** Tokens of one fake chat answer (7 in, 3 out). */
    private static final int TOKENS_PER_LINE = 10;
    /** Lines of a batch: many more than go out before a pause is seen. */
    private static final int LINES = 200;
    /**
     * Each answer takes 600 ms (well within the tests' 2 s request timeout), 16 lines at once: a few
     * waves settle between a cap being reached and the check that pauses the project.
     */
    private static final String SLOW = "{\"latency_ms\":600}";

    @Inject
    MeterRegistry registry;

    /** This test's custom_ids start with it: the fake's counts of them are this test's alone. */
    private final String run = UUID.randomUUID().toString().substring(0, 8);
    /** This test's batch and its key, cancelled after the test if it is still live (a paused batch must not outlive its test). */
    private String batch;
    private String batchKey;

    @BeforeEach
    void resetTheFake() {
        FAKE.reset();
    }

    @AfterEach
    void cancelTheBatch() {
        if (batch != null) {
            as(batchKey).post("/v1/batches/" + batch + "/cancel"); // 409 once it has ended: nothing to do
        }
        FAKE.reset();
    }

    /** Lines of this test's batch sent to the fake so far (each once: the answers come well within the request timeout). */
    private int sentLines() {
        return (int) FAKE.attempts.keySet().stream().filter(k -> k.startsWith(run)).count();
    }

    /** Answers given by the fake to this test's lines so far, every attempt. */
    private int attempts() {
        return FAKE.attempts.entrySet().stream().filter(e -> e.getKey().startsWith(run)).mapToInt(e -> e.getValue().get()).sum();
    }

    /** Uploads this test's batch of {@link #LINES} slow lines and creates it with the window given. */
    private String createBatch(String key, String window) {
        String file = Api.upload(key, lines(run, LINES, SLOW));
        batchKey = key;
        batch = Api.createBatch(key, file, "/v1/chat/completions", window).getString("id");
        return batch;
    }

    /** A new project of its own (its spend starts at 0 whatever earlier tests ran), and a key of it. */
    private static String[] newProject() {
        String id = as(ADMIN).contentType("application/json").body("{\"name\":\"spend-" + UUID.randomUUID().toString().substring(0, 8) + "\"}")
                .post("/v1/organization/projects").then().statusCode(200).extract().path("id");
        String key = as(ADMIN).contentType("application/json").body("{\"name\":\"k\"}").post("/v1/organization/projects/" + id + "/api_keys")
                .then().statusCode(200).extract().path("value");
        return new String[] { id, key };
    }

    /** Sets quotas as the admin does; answers the headroom after. */
    private static JsonPath setQuotas(String project, String json) {
        return as(ADMIN).contentType("application/json").body(json).post("/v1/organization/projects/" + project + "/quotas")
                .then().statusCode(200).extract().jsonPath();
    }

    private static Map<String, Object> row(JsonPath headroom, String quota) {
        List<Map<String, Object>> rows = headroom.getList("data");
        return rows.stream().filter(r -> quota.equals(r.get("quota"))).findFirst().orElseThrow();
    }

    private static int queued(String key, String batchId) {
        return as(key).get("/v1/batches/" + batchId + "/requests?state=queued&limit=1000").then().statusCode(200).extract().jsonPath()
                .getList("data").size();
    }

    private Double pausedGauge(String project) {
        Gauge g = registry.find("openbatch_project_paused").tag("project", project).gauge();
        return g == null ? null : g.value();
    }

    private static void await(String what, BooleanSupplier until) {
        long end = System.currentTimeMillis() + WAIT.toMillis();
        while (!until.getAsBoolean()) {
            assertTrue(System.currentTimeMillis() < end, "timed out waiting until " + what);
            sleep(20);
        }
    }

    /** The batch once it shows a pause. */
    private static JsonPath awaitPaused(String key, String id) {
        return awaitBatch(key, id, b -> b.get("paused") != null);
    }

    /**
     * The batch as its GET answers it, with the {@code openbatch-paused} header's object put in as
     * {@code paused} (null without the header), after checking that the Batch object itself keeps
     * exactly its fields.
     */
    private static JsonPath batch(String key, String id) {
        io.restassured.response.Response r = as(key).get("/v1/batches/" + id);
        r.then().statusCode(200);
        io.vertx.core.json.JsonObject b = new io.vertx.core.json.JsonObject(r.asString());
        assertTrue(!b.containsKey("paused"), "the Batch object keeps exactly its fields: the pause is in a header");
        String paused = r.getHeader("openbatch-paused");
        b.put("paused", paused == null ? null : new io.vertx.core.json.JsonObject(paused));
        return JsonPath.from(b.encode());
    }

    private static JsonPath awaitBatch(String key, String id, java.util.function.Predicate<JsonPath> until) {
        long end = System.currentTimeMillis() + WAIT.toMillis();
        while (true) {
            JsonPath b = batch(key, id);
            if (until.test(b)) {
                return b;
            }
            assertTrue(System.currentTimeMillis() < end, "timed out: " + b.prettify());
            sleep(50);
        }
    }

    /**
     * Once the project is paused: waits until the lines in flight have finished and their results
     * are written (the engines hold none), then checks that nothing more goes out for a while
     * (longer than a spend check and a claim's list), every line sent succeeded, none failed, and
     * the others stay queued. Returns the batch then.
     */
    private JsonPath assertPausedQuietly(String key, String id, int lines, int before) {
        assertEquals(sentLines(), attempts(), "each line was sent once");
        await("the lines in flight to finish", () -> FAKE.inFlight.get() == 0 && started.stream().allMatch(e -> e.inFlight() == 0));
        awaitBatch(key, id, x -> x.getInt("request_counts.completed") + x.getInt("request_counts.failed") >= sentLines());
        int sent = attempts();
        sleep(2500);
        assertEquals(sent, attempts(), "nothing was sent while the project was paused");
        JsonPath b = batch(key, id);
        int completed = b.getInt("request_counts.completed");
        assertEquals(sentLines(), completed, "every line sent, those in flight at the pause too, succeeded");
        assertEquals(0, b.getInt("request_counts.failed"), "nothing failed");
        assertTrue(completed > before && completed < lines, "paused part way: " + completed);
        assertEquals(lines - completed, queued(key, id), "the rest stay queued");
        assertEquals(BatchStatus.IN_PROGRESS.wire(), b.getString("status"));
        assertNotNull(b.get("paused"), b.prettify());
        return b;
    }

    @Test
    void aCappedProjectPausesWithItsLinesQueuedAndFinishesOnceTheCapIsRaised() {
        engine("spend-1");
        engine("spend-2");
        String[] p = newProject();
        String project = p[0];
        String key = p[1];
        JsonPath capped = setQuotas(project, "{\"spend_tokens_per_day\": 100}");
        assertEquals(100, ((Number) row(capped, "spend_tokens_per_day").get("limit")).intValue());
        assertEquals(0, ((Number) row(capped, "spend_tokens_per_day").get("used")).intValue());
        String id = createBatch(key, "24h");

        JsonPath b = awaitPaused(key, id); // once 10 lines have settled
        assertEquals(BatchStatus.IN_PROGRESS.wire(), b.getString("status"));
        assertEquals("spend_cap", b.getString("paused.reason"));
        assertEquals("spend_tokens_per_day", b.getString("paused.quota"));
        String message = b.getString("paused.message");
        assertTrue(message.contains(project) && message.contains("100 tokens") && message.contains("(quota: spend_tokens_per_day)"), message);
        long midnight = LocalDate.now(ZoneOffset.UTC).plusDays(1).atStartOfDay(ZoneOffset.UTC).toEpochSecond();
        assertEquals(midnight, b.getLong("paused.resumes_at"), "it resumes by itself when the UTC day ends");
        long since = b.getLong("paused.since");
        assertTrue(since <= Instant.now().getEpochSecond() && since >= b.getLong("created_at"), "since " + since);
        assertTrue(b.getInt("request_counts.completed") >= 10, b.prettify());

        b = assertPausedQuietly(key, id, LINES, 0);
        int completed = b.getInt("request_counts.completed");
        assertEquals(since, b.getLong("paused.since"), "a pause keeps the second it began");
        assertEquals(1.0, pausedGauge(project));

        JsonPath headroom = as(key).get("/v1/organization/projects/" + project + "/quotas").then().statusCode(200).extract().jsonPath();
        Map<String, Object> spend = row(headroom, "spend_tokens_per_day");
        assertEquals(completed * TOKENS_PER_LINE, ((Number) spend.get("used")).intValue(), "the project's own key reads its spend");
        assertEquals(0, ((Number) spend.get("remaining")).intValue());
        assertNull(spend.get("model"));

        JsonPath raised = setQuotas(project, "{\"spend_tokens_per_day\": 100000}");
        assertTrue(((Number) row(raised, "spend_tokens_per_day").get("remaining")).intValue() > 0);
        assertNull(batch(key, id).get("paused"), "raising the cap resumes the project at once");
        JsonPath done = Api.awaitStatus(key, id, BatchStatus.COMPLETED.wire(), WAIT);
        assertEquals(LINES, done.getInt("request_counts.completed"));
        assertEquals(0, done.getInt("request_counts.failed"));
        assertNull(batch(key, id).get("paused"), "no pause header on an ended batch");
        await("the gauge to show the resume", () -> Double.valueOf(0.0).equals(pausedGauge(project)));
    }

    @Test
    void spendCapsAreSetInWholeTokensAndInDollarsToAMillionth() {
        String project = newProject()[0];
        JsonPath h = setQuotas(project, "{\"spend_usd_per_month\": 2.5, \"spend_tokens_per_month\": 5000}");
        Map<String, Object> usd = row(h, "spend_usd_per_month");
        assertEquals(0, new java.math.BigDecimal("2.5").compareTo(new java.math.BigDecimal(usd.get("limit").toString())), usd.toString());
        assertEquals(0, ((Number) usd.get("used")).intValue());
        assertEquals(0, new java.math.BigDecimal("2.5").compareTo(new java.math.BigDecimal(usd.get("remaining").toString())), usd.toString());
        assertNull(usd.get("model"));
        assertEquals(5000, ((Number) row(h, "spend_tokens_per_month").get("limit")).intValue());
        assertNull(row(h, "spend_usd_per_day").get("limit"), "unlimited unless set");
        for (String bad : List.of("{\"spend_usd_per_day\": 0.0000001}", "{\"spend_tokens_per_day\": 1.5}", "{\"live_batches\": 2.5}",
                "{\"spend_usd_per_day\": -1}")) {
            String param = bad.substring(2, bad.indexOf('"', 2));
            dev.openbatch.testing.Envelope.assertEnvelope(as(ADMIN).contentType("application/json").body(bad)
                    .post("/v1/organization/projects/" + project + "/quotas"), 400, param, "invalid_value");
        }
        assertNull(row(setQuotas(project, "{\"spend_usd_per_month\": null}"), "spend_usd_per_month").get("limit"), "null removes it");
    }

    @Test
    void aPausedProjectResumesWhenTheUtcDayRollsOverAndItsNewDayCountsFromZero() {
        // a lease longer than the jump below: the engine's heartbeat does not lapse when the clock moves up to a day
        engine("spend-roll", Configs.of(config).withLease(Duration.ofDays(2)));
        String[] p = newProject();
        String project = p[0];
        String key = p[1];
        setQuotas(project, "{\"spend_tokens_per_day\": 100}");
        String id = createBatch(key, "72h");

        long midnight = awaitPaused(key, id).getLong("paused.resumes_at");
        int yesterday = assertPausedQuietly(key, id, LINES, 0).getInt("request_counts.completed");

        // the UTC day ends: the project resumes without anyone raising the cap
        long now = System.currentTimeMillis() / 1000;
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofSeconds(midnight + 1 - now)));
        JsonPath again = awaitBatch(key, id, b -> b.getInt("request_counts.completed") > yesterday);
        assertEquals(BatchStatus.IN_PROGRESS.wire(), again.getString("status"));
        // its new day counts from zero: 100 tokens more, then it pauses until the next midnight
        JsonPath second = awaitBatch(key, id, b -> b.get("paused") != null && b.getLong("paused.resumes_at") == midnight + 86_400);
        assertTrue(second.getLong("paused.since") >= midnight, "a new pause, of the new day");
        JsonPath b = assertPausedQuietly(key, id, LINES, yesterday);
        int today = b.getInt("request_counts.completed") - yesterday;
        assertTrue(today >= 10, "the new day's lines: " + today);
        JsonPath headroom = as(key).get("/v1/organization/projects/" + project + "/quotas").then().statusCode(200).extract().jsonPath();
        assertEquals(today * TOKENS_PER_LINE, ((Number) row(headroom, "spend_tokens_per_day").get("used")).intValue(), "the new day's spend only");
        boolean newMonth = Spend.Period.MONTH.start(midnight) == midnight;
        assertEquals((newMonth ? today : yesterday + today) * TOKENS_PER_LINE,
                ((Number) row(headroom, "spend_tokens_per_month").get("used")).intValue(), "the month's spend");
        as(key).post("/v1/batches/" + id + "/cancel").then().statusCode(200);
        JsonPath cancelled = Api.awaitStatus(key, id, BatchStatus.CANCELLED.wire(), WAIT);
        assertEquals(LINES - yesterday - today, cancelled.getInt("request_counts.failed"), "a paused batch cancels as any other");
        assertNull(batch(key, id).get("paused"), "no pause header on a cancelled batch");
    }
}
