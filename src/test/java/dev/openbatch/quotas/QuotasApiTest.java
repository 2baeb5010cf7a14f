package dev.openbatch.quotas;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.api.ApiException;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.TestClock;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.smallrye.config.WithDefault;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * Each quota at its limit through the API, with creates in parallel right at the limit; the headroom
 * route moving as things are created and deleted; the routes refusing a key that is not the
 * project's (or not the admin's). With no engine: batches stay validating, so they stay live.
 * Limits are set as the admin would, through {@link Quotas#override}, at what the project
 * already uses plus a few (earlier tests leave things behind), and removed after each test.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class QuotasApiTest {
    private static final String PROJECT = "project-a";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    Quotas quotas;
    @Inject
    Pool pool;
    @Inject
    TestClock clock;

    private final List<String> batches = Collections.synchronizedList(new ArrayList<>());
    private final List<String> endpoints = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void cleanUp() {
        Map<String, Long> none = new HashMap<>();
        for (Quota q : Quota.values()) {
            none.put(q.wire(), null);
        }
        quotas.override(PROJECT, none).await().atMost(WAIT);
        clock.reset();
        // this test's batches end here: they must not stay live for the next test's engines
        pool.preparedQuery("update batches set status = $2 where id = any($1)")
                .execute(Tuple.of(batches.toArray(String[]::new), BatchStatus.FAILED.wire())).await().atMost(WAIT);
        batches.clear();
        endpoints.forEach(id -> as(KEY_A).delete("/v1/webhooks/" + id));
        endpoints.clear();
    }

    private void limit(Quota q, long value) {
        quotas.override(PROJECT, Map.of(q.wire(), value)).await().atMost(WAIT);
    }

    private static JsonPath headroom(String key, String project) {
        return as(key).get("/v1/organization/projects/" + project + "/quotas").then().statusCode(200).extract().jsonPath();
    }

    /** The row of {@code quota} (model null) in the project's headroom. */
    private static Map<String, Object> row(String quota) {
        List<Map<String, Object>> rows = headroom(KEY_A, PROJECT).getList("data");
        return rows.stream().filter(r -> quota.equals(r.get("quota")) && r.get("model") == null).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + quota + " in " + rows));
    }

    private static long used(Quota q) {
        return ((Number) row(q.wire()).get("used")).longValue();
    }

    /** Runs the calls all at once; their answers. */
    private static List<Response> parallel(int n, Callable<Response> call) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Response>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                futures.add(pool.submit(call));
            }
            List<Response> out = new ArrayList<>();
            for (Future<Response> f : futures) {
                out.add(f.get());
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static long count(List<Response> answers, int status) {
        return answers.stream().filter(r -> r.statusCode() == status).count();
    }

    private Response createBatch(String fileId) {
        Response r = as(KEY_A).contentType("application/json")
                .body("{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}")
                .post("/v1/batches");
        if (r.statusCode() == 200) {
            batches.add(r.jsonPath().getString("id"));
        }
        return r;
    }

    @Test
    void liveBatchesAtTheLimitWithCreatesInParallel() throws Exception {
        String file = upload(KEY_A, chatLine("q-1", "fake-model", null));
        long before = used(Quota.LIVE_BATCHES);
        limit(Quota.LIVE_BATCHES, before + 3);
        assertEquals(3L, row("live_batches").get("remaining") instanceof Number n ? n.longValue() : -1);

        List<Response> answers = parallel(8, () -> createBatch(file));
        assertEquals(3, count(answers, 200), "exactly the quota's worth is created");
        assertEquals(5, count(answers, 429));
        Response refused = answers.stream().filter(r -> r.statusCode() == 429).findFirst().orElseThrow();
        assertEnvelope(refused, 429, null, QuotaExceeded.CODE);
        assertEquals("Project project-a has " + (before + 3) + " live batches; its quota is " + (before + 3) + " (quota: live_batches).",
                refused.jsonPath().getString("error.message"));
        assertEquals(before + 3, used(Quota.LIVE_BATCHES));
        assertEquals(0L, ((Number) row("live_batches").get("remaining")).longValue());

        // one ends: one more may be created
        pool.preparedQuery("update batches set status = $2 where id = $1").execute(Tuple.of(batches.get(0), BatchStatus.FAILED.wire()))
                .await().atMost(WAIT);
        assertEquals(before + 2, used(Quota.LIVE_BATCHES));
        assertEquals(200, createBatch(file).statusCode());
        assertEquals(429, createBatch(file).statusCode());
    }

    @Test
    void storedFileBytesAtTheLimit() throws Exception {
        byte[] sixty = "x".repeat(60).getBytes(StandardCharsets.UTF_8);
        long before = used(Quota.FILE_BYTES);
        limit(Quota.FILE_BYTES, before + 130);

        List<Response> answers = parallel(4, () -> as(KEY_A).multiPart("file", "a.txt", sixty, "text/plain").multiPart("purpose", "user_data")
                .post("/v1/files"));
        assertEquals(2, count(answers, 200), "two files of 60 bytes fit in 130");
        Response refused = answers.stream().filter(r -> r.statusCode() != 200).findFirst().orElseThrow();
        assertEnvelope(refused, 413, null, QuotaExceeded.CODE);
        assertEquals("Project project-a stores " + (before + 120) + " bytes of files and this upload has 60; its quota is " + (before + 130)
                + " (quota: file_bytes).", refused.jsonPath().getString("error.message"));
        assertEquals(before + 120, used(Quota.FILE_BYTES));

        // a deleted file frees its bytes
        String one = answers.stream().filter(r -> r.statusCode() == 200).findFirst().orElseThrow().jsonPath().getString("id");
        as(KEY_A).delete("/v1/files/" + one).then().statusCode(200);
        assertEquals(before + 60, used(Quota.FILE_BYTES));
        assertEquals(70L, ((Number) row("file_bytes").get("remaining")).longValue());
        upload(KEY_A, sixty, "b.txt", "user_data");
    }

    @Test
    void webhookEndpointsAtTheLimitWithCreatesInParallel() throws Exception {
        long before = used(Quota.WEBHOOK_ENDPOINTS);
        limit(Quota.WEBHOOK_ENDPOINTS, before + 2);
        List<Response> answers = parallel(5, () -> {
            Response r = as(KEY_A).contentType("application/json").body("{\"url\":\"http://127.0.0.1:9/hooks\"}").post("/v1/webhooks");
            if (r.statusCode() == 200) {
                endpoints.add(r.jsonPath().getString("id"));
            }
            return r;
        });
        assertEquals(2, count(answers, 200));
        assertEquals(3, count(answers, 429));
        assertEnvelope(answers.stream().filter(r -> r.statusCode() == 429).findFirst().orElseThrow(), 429, null, QuotaExceeded.CODE);
        assertEquals(before + 2, used(Quota.WEBHOOK_ENDPOINTS));
        as(KEY_A).delete("/v1/webhooks/" + endpoints.remove(0)).then().statusCode(200);
        assertEquals(before + 1, used(Quota.WEBHOOK_ENDPOINTS));
    }

    @Test
    void uploadsAndDryRunsAtOnceCountEveryReplicasSlots() throws Exception {
        // slots held elsewhere (as another replica's uploads in progress would be)
        limit(Quota.UPLOADS_AT_ONCE, 2);
        List<Quotas.Slot> held = new ArrayList<>();
        held.add(quotas.acquire(PROJECT, Quota.UPLOADS_AT_ONCE).await().atMost(WAIT));
        held.add(quotas.acquire(PROJECT, Quota.UPLOADS_AT_ONCE).await().atMost(WAIT));
        assertEquals(2, used(Quota.UPLOADS_AT_ONCE));
        Response refused = as(KEY_A).multiPart("file", "in.jsonl", chatLine("u-1", "fake-model", null).getBytes(StandardCharsets.UTF_8),
                "application/jsonl").multiPart("purpose", "batch").post("/v1/files");
        assertEnvelope(refused, 429, null, QuotaExceeded.CODE);
        assertEquals("Project project-a has 2 uploads in progress; its quota is 2 (quota: uploads_at_once).",
                refused.jsonPath().getString("error.message"));
        quotas.release(held.remove(0)).await().atMost(WAIT);
        String file = upload(KEY_A, chatLine("u-1", "fake-model", null));
        assertEquals(1, used(Quota.UPLOADS_AT_ONCE), "the upload gave its slot back");
        quotas.release(held.remove(0)).await().atMost(WAIT);

        limit(Quota.DRY_RUNS_AT_ONCE, 1);
        Quotas.Slot dry = quotas.acquire(PROJECT, Quota.DRY_RUNS_AT_ONCE).await().atMost(WAIT);
        String body = "{\"input_file_id\":\"" + file + "\",\"endpoint\":\"/v1/chat/completions\"}";
        assertEnvelope(as(KEY_A).contentType("application/json").body(body).post("/v1/batches/validate"), 429, null, QuotaExceeded.CODE);
        quotas.release(dry).await().atMost(WAIT);
        as(KEY_A).contentType("application/json").body(body).post("/v1/batches/validate").then().statusCode(200);
        assertEquals(0, used(Quota.DRY_RUNS_AT_ONCE));
    }

    @Test
    void byDefaultOneProjectHoldsOneDryRunAndTwentyResultsReadsASecond() throws Exception {
        // the defaults (issue 21): one project cannot hold both of a process's dry-run slots, nor read results without bound
        Quotas.Slot held = quotas.acquire(PROJECT, Quota.DRY_RUNS_AT_ONCE).await().atMost(WAIT);
        try {
            QuotaExceeded refused = assertThrows(QuotaExceeded.class, () -> quotas.acquire(PROJECT, Quota.DRY_RUNS_AT_ONCE).await().atMost(WAIT));
            assertTrue(refused.getMessage().contains("its quota is 1 (quota: dry_runs_at_once)"), refused.getMessage());
            quotas.release(quotas.acquire("project-b", Quota.DRY_RUNS_AT_ONCE).await().atMost(WAIT)).await().atMost(WAIT);
        } finally {
            quotas.release(held).await().atMost(WAIT);
        }

        // results reads: 20 a second unless configured (the test profile raises it for the tests' fast readers;
        // resultsReadsPerSecondAtTheLimitOnReadsInParallel checks the counting)
        assertEquals("20", QuotasConfig.class.getMethod("resultsReadsPerSecond").getAnnotation(WithDefault.class).value());
    }

    @Test
    void slotsTakenInParallelStopExactlyAtTheLimit() throws Exception {
        limit(Quota.UPLOADS_AT_ONCE, 3);
        ExecutorService threads = Executors.newFixedThreadPool(10);
        try {
            List<Future<Quotas.Slot>> tries = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                tries.add(threads.submit(() -> quotas.acquire(PROJECT, Quota.UPLOADS_AT_ONCE).onFailure(QuotaExceeded.class).recoverWithNull()
                        .await().atMost(WAIT)));
            }
            List<Quotas.Slot> granted = new ArrayList<>();
            for (Future<Quotas.Slot> f : tries) {
                if (f.get() != null) {
                    granted.add(f.get());
                }
            }
            assertEquals(3, granted.size());
            granted.forEach(s -> quotas.release(s).await().atMost(WAIT));
            assertEquals(0, used(Quota.UPLOADS_AT_ONCE));
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void resultsReadsPerSecondAtTheLimitOnReadsInParallel() throws Exception {
        String file = upload(KEY_A, chatLine("r-1", "fake-model", null));
        Response created = createBatch(file);
        assertEquals(200, created.statusCode());
        String results = "/v1/batches/" + created.jsonPath().getString("id") + "/results";
        clock.set(Clock.fixed(Instant.now(), ZoneOffset.UTC)); // every read falls in one second
        limit(Quota.RESULTS_READS_PER_SECOND, 3);

        List<Response> answers = parallel(8, () -> as(KEY_A).get(results));
        assertEquals(3, count(answers, 200));
        assertEquals(5, count(answers, 429));
        Response refused = answers.stream().filter(r -> r.statusCode() == 429).findFirst().orElseThrow();
        assertEnvelope(refused, 429, null, QuotaExceeded.CODE);
        assertEquals("Project project-a has made 3 results reads this second; its quota is 3 (quota: results_reads_per_second)."
                + " Try again in a second.", refused.jsonPath().getString("error.message"));
        assertEquals(3, used(Quota.RESULTS_READS_PER_SECOND));
        assertEquals(0L, ((Number) row("results_reads_per_second").get("remaining")).longValue());

        clock.advance(Duration.ofSeconds(1));
        assertEquals(0, used(Quota.RESULTS_READS_PER_SECOND));
        as(KEY_A).get(results).then().statusCode(200);
        assertEquals(1, used(Quota.RESULTS_READS_PER_SECOND));
    }

    @Test
    void headroomListsEveryQuotaUnlimitedByDefault() {
        JsonPath h = headroom(KEY_A, PROJECT);
        assertEquals("list", h.getString("object"));
        assertEquals(PROJECT, h.getString("project"));
        List<Map<String, Object>> rows = h.getList("data");
        for (Quota q : Quota.values()) {
            assertTrue(rows.stream().anyMatch(r -> q.wire().equals(r.get("quota"))), q.wire());
        }
        Map<String, Object> live = row("live_batches");
        assertNull(live.get("limit"));
        assertEquals(1L, ((Number) row("dry_runs_at_once").get("limit")).longValue());
        assertEquals(1000L, ((Number) row("results_reads_per_second").get("limit")).longValue(), "the test profile's");
        assertNull(live.get("remaining"));
        assertEquals(100L, ((Number) row("webhook_endpoints").get("limit")).longValue(), "the configured default");
    }

    @Test
    void aProjectKeyReadsItsOwnQuotasOnlyAndSetsNone() {
        assertEnvelope(as(KEY_A).get("/v1/organization/projects/project-b/quotas"), 403, null, "insufficient_permissions");
        headroom(KEY_B, "project-b");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"live_batches\":1000}")
                .post("/v1/organization/projects/project-a/quotas"), 403, null, "insufficient_permissions");
        assertNull(row("live_batches").get("limit"), "nothing was set");
    }

    @Test
    void theAdminSetsAndReadsAnyProjectsQuotas() {
        String admin = "sk-test-admin"; // the test profile's openbatch.auth.admin-key
        as(admin).contentType("application/json").body("{\"live_batches\":9}").post("/v1/organization/projects/" + PROJECT + "/quotas")
                .then().statusCode(200);
        List<Map<String, Object>> rows = as(admin).get("/v1/organization/projects/" + PROJECT + "/quotas").then().statusCode(200)
                .extract().jsonPath().getList("data");
        Map<String, Object> live = rows.stream().filter(r -> "live_batches".equals(r.get("quota"))).findFirst().orElseThrow();
        assertEquals(9L, ((Number) live.get("limit")).longValue());
        assertEquals(9L, ((Number) row("live_batches").get("limit")).longValue(), "the project sees the same");
        Map<String, Long> remove = new HashMap<>();
        remove.put("live_batches", null);
        quotas.override(PROJECT, remove).await().atMost(WAIT);
    }

    @Test
    void overridesAreCheckedAndRemovable() {
        assertEquals(400, assertThrows(ApiException.class, () -> quotas.override(PROJECT, Map.of("no_such_quota", 1L))).status());
        assertEquals(400, assertThrows(ApiException.class, () -> quotas.override(PROJECT, Map.of("live_batches", -1L))).status());
        limit(Quota.LIVE_BATCHES, 7);
        assertEquals(7L, ((Number) row("live_batches").get("limit")).longValue());
        Map<String, Long> remove = new HashMap<>();
        remove.put("live_batches", null);
        quotas.override(PROJECT, remove).await().atMost(WAIT);
        assertNull(row("live_batches").get("limit"));
    }
}
