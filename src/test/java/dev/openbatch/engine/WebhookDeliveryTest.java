package dev.openbatch.engine;
import dev.openbatch.store.Tx;
import dev.openbatch.store.BatchStore;

import static dev.openbatch.engine.EngineTesting.lines;
import static dev.openbatch.engine.EngineTesting.sleep;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.await;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;


import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.openai.core.http.Headers;
import com.openai.models.webhooks.WebhookVerificationParams;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.WebhookConfigs;
import dev.openbatch.testing.WebhookReceiver;
import dev.openbatch.testing.WebhookReceiver.Received;
import dev.openbatch.webhooks.SecretBox;
import dev.openbatch.webhooks.Signatures;
import dev.openbatch.webhooks.WebhooksConfig;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * Webhooks end to end: engines started by hand (as separate processes would be) end real batches,
 * and a real HTTP receiver checks what arrives with the official OpenAI SDK's verification and a
 * hand-computed HMAC: every terminal status, retries, two engines, a process killed before it
 * delivered, untrusted receivers, the outbox's transaction, and the signing secrets as the
 * database keeps them (sealed, after a rotation too; a copied value that signs nothing; values in
 * clear or under a previous key sealed again under a new one).
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class WebhookDeliveryTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";
    private static final WebhookReceiver RECEIVER = new WebhookReceiver();

    @Inject
    WebhooksConfig webhooks;

    @TestHTTPResource(value = "/", management = true)
    URL management;

    private final List<String[]> endpoints = new ArrayList<>();

    @BeforeAll
    static void startReceiver() throws Exception {
        RECEIVER.start();
    }

    @AfterAll
    static void stopReceiver() {
        RECEIVER.stop();
    }

    @AfterEach
    void cleanUp() {
        haltEngines();
        // an endpoint left behind would get the events of later tests' batches
        endpoints.forEach(e -> as(e[0]).delete("/v1/webhooks/" + e[1]));
        endpoints.clear();
    }

    private Engine engine(String node, WebhooksConfig w) {
        return start(builder(node).webhooks(w));
    }

    /** An endpoint at the receiver's {@code path}; returns {id, secret}. */
    private String[] endpoint(String key, String path, String... types) {
        String events = types.length == 0 ? "" : ",\"event_types\":[\"" + String.join("\",\"", types) + "\"]";
        JsonPath made = as(key).contentType("application/json").body("{\"url\":\"" + RECEIVER.url(path) + "\"" + events + "}")
                .post("/v1/webhooks").then().statusCode(200).extract().jsonPath();
        endpoints.add(new String[] { key, made.getString("id") });
        return new String[] { made.getString("id"), made.getString("signing_secret") };
    }

    /** Waits for {@code n} requests at {@code prefix} about these batches (other tests' batches may end meanwhile). */
    private static List<Received> awaitReceived(String prefix, Collection<String> batches, int n, Duration timeout) {
        return RECEIVER.await(prefix, batches, n, timeout);
    }

    private static List<Received> awaitReceived(String prefix, String batch, int n, Duration timeout) {
        return awaitReceived(prefix, Set.of(batch), n, timeout);
    }

    private static <T> T awaitValue(Supplier<T> read, java.util.function.Predicate<T> until, Duration timeout) {
        long end = System.currentTimeMillis() + timeout.toMillis();
        T last = read.get();
        while (!until.test(last) && System.currentTimeMillis() < end) {
            sleep(50);
            last = read.get();
        }
        assertTrue(until.test(last), "not reached in " + timeout + "; last: " + last);
        return last;
    }

    private static JsonPath deliveries(String key, String endpointId) {
        return as(key).get("/v1/webhooks/" + endpointId + "/deliveries").then().statusCode(200).extract().jsonPath();
    }

    /** The endpoint's delivery of the event about {@code batchId} (an empty map until there is one). */
    private static Map<String, Object> delivery(String key, String endpointId, String batchId) {
        List<Map<String, Object>> all = as(key).get("/v1/webhooks/" + endpointId + "/deliveries?limit=100").then().statusCode(200)
                .extract().jsonPath().getList("data");
        return all.stream().filter(d -> batchId.equals(d.get("batch_id"))).findFirst().orElse(Map.of());
    }

    private int events(String batchId) {
        return pool.preparedQuery("select count(*) from webhook_events where batch_id = $1").execute(Tuple.of(batchId))
                .await().atMost(Duration.ofSeconds(10)).iterator().next().getInteger(0);
    }

    private static String batch(String key, String content, String window) {
        return createBatch(key, upload(key, content), CHAT, window).getString("id");
    }

    @Test
    void eachTerminalStatusSendsOneSignedEventThatTheSdkVerifies() throws Exception {
        String r = EngineTest.run();
        String[] all = endpoint(KEY_A, "/all/" + r);
        String[] failedOnly = endpoint(KEY_A, "/failed-only/" + r, "batch.failed");
        endpoint(KEY_B, "/other-project/" + r);
        engine("wh-kinds");

        String completed = batch(KEY_A, lines(r + "-c", 2, null), "24h");
        String failed = batch(KEY_A, "{\"custom_id\":\"x\",\"method\":\"GET\"}\n", "24h");
        String cancelled = batch(KEY_A, lines(r + "-x", 60, "{\"latency_ms\":1500}"), "24h");
        // enough lines that some are still queued at the deadline (all of them in flight would make it completed)
        String expired = batch(KEY_A, lines(r + "-e", 60, "{\"latency_ms\":1500}"), "1m");
        await(KEY_A, cancelled, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(30));
        as(KEY_A).post("/v1/batches/" + cancelled + "/cancel").then().statusCode(200);
        JsonPath done = awaitStatus(KEY_A, completed, "completed", Duration.ofSeconds(30));
        awaitStatus(KEY_A, failed, "failed", Duration.ofSeconds(30));
        awaitStatus(KEY_A, cancelled, "cancelled", Duration.ofSeconds(30));
        await(KEY_A, expired, b -> "in_progress".equals(b.getString("status")), Duration.ofSeconds(30));
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2)));
        awaitStatus(KEY_A, expired, "expired", Duration.ofSeconds(30));

        Map<String, String> expected = Map.of(completed, "batch.completed", failed, "batch.failed", cancelled, "batch.cancelled",
                expired, "batch.expired");
        List<Received> got = awaitReceived("/all/" + r, expected.keySet(), 4, Duration.ofSeconds(30));
        Set<String> seen = new HashSet<>();
        for (Received x : got) {
            JsonObject e = RECEIVER.verified(x, all[1]);
            assertEquals("event", e.getString("object"));
            assertTrue(e.getString("id").startsWith("evt_"));
            String batchId = e.getJsonObject("data").getString("id");
            assertEquals(expected.get(batchId), e.getString("type"), "the event of " + batchId);
            assertEquals(Set.of("id", "object", "created_at", "type", "data"), e.fieldNames());
            assertTrue(seen.add(batchId), "one event per batch: " + batchId);
            if (batchId.equals(completed)) {
                assertEquals(done.getLong("completed_at"), e.getLong("created_at"));
                assertTrue(RECEIVER.sdk().webhooks().unwrap(WebhookVerificationParams.builder().payload(x.body())
                        .headers(Headers.builder().put("webhook-id", x.webhookId()).put("webhook-timestamp", x.timestamp())
                                .put("webhook-signature", x.signature()).build())
                        .secret(all[1]).build()).batchCompleted().isPresent());
            }
        }
        assertEquals(expected.keySet(), seen);
        for (String id : expected.keySet()) {
            assertEquals(1, events(id), "exactly one event in the outbox for " + id);
        }
        // the filter: only batch.failed; the other project's endpoint hears nothing of project A
        List<Received> onlyFailed = awaitReceived("/failed-only/" + r, failed, 1, Duration.ofSeconds(10));
        sleep(500);
        assertEquals(1, RECEIVER.at("/failed-only/" + r, expected.keySet()).size());
        assertEquals(failed, RECEIVER.verified(onlyFailed.get(0), failedOnly[1]).getJsonObject("data").getString("id"));
        assertEquals(0, RECEIVER.at("/other-project/" + r, expected.keySet()).size());

        JsonPath list = deliveries(KEY_A, all[0]);
        assertTrue(list.getList("data").size() >= 4);
        for (int i = 0; i < list.getList("data").size(); i++) {
            if (!expected.containsKey(list.getString("data[" + i + "].batch_id"))) {
                continue; // another test's batch ended meanwhile
            }
            assertEquals("webhook_delivery", list.getString("data[" + i + "].object"));
            assertEquals("succeeded", list.getString("data[" + i + "].status"));
            assertEquals(1, list.getInt("data[" + i + "].attempts"));
            assertEquals(200, list.getInt("data[" + i + "].last_status_code"));
            assertNull(list.get("data[" + i + "].next_attempt_at"));
            assertNull(list.get("data[" + i + "].last_error"));
        }
        // newest first, and a page continues after the event_id it names
        JsonPath first = as(KEY_A).get("/v1/webhooks/" + all[0] + "/deliveries?limit=3").then().statusCode(200).extract().jsonPath();
        assertTrue(first.getBoolean("has_more"));
        JsonPath rest = as(KEY_A).get("/v1/webhooks/" + all[0] + "/deliveries?limit=3&after=" + first.getString("last_id")).then()
                .statusCode(200).extract().jsonPath();
        assertEquals(list.getList("data").size() - 3, rest.getList("data").size());
        assertEquals(list.getString("data[3].event_id"), rest.getString("data[0].event_id"));
        assertEquals(list.getList("data.event_id").subList(0, 3), first.getList("data.event_id"));
    }

    @Test
    void aReceiverAnswering500AndThenTimingOutGetsRetriesWithTheSameWebhookId() throws Exception {
        String r = EngineTest.run();
        String[] ep = endpoint(KEY_A, "/script/500,500,hang,200/" + r);
        engine("wh-retries");
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));

        awaitReceived("/script/500,500,hang,200/" + r, id, 4, Duration.ofSeconds(30));
        sleep(500);
        List<Received> got = RECEIVER.at("/script/500,500,hang,200/" + r, Set.of(id));
        assertEquals(List.of("500", "500", "hang", "200"), got.stream().map(Received::answer).toList());
        for (Received x : got) {
            assertEquals(got.get(0).webhookId(), x.webhookId(), "the same webhook-id on every attempt");
            assertArrayEquals(got.get(0).body(), x.body(), "the same event on every attempt");
            assertEquals(id, RECEIVER.verified(x, ep[1]).getJsonObject("data").getString("id"));
        }
        Map<String, Object> d = awaitValue(() -> delivery(KEY_A, ep[0], id), x -> "succeeded".equals(x.get("status")), Duration.ofSeconds(10));
        assertEquals(4, d.get("attempts"));
        assertEquals(200, d.get("last_status_code"));
        assertEquals(got.get(0).webhookId(), d.get("event_id"));

        String metrics = given().get("http://" + management.getHost() + ":" + management.getPort() + "/q/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.contains("openbatch_webhook_deliveries_total{outcome=\"retried\"}"), "deliveries by outcome");
        assertTrue(metrics.contains("openbatch_webhook_deliveries_total{outcome=\"succeeded\"}"));
        assertTrue(metrics.contains("openbatch_webhook_delivery_seconds_count"), "delivery latency");
        assertTrue(metrics.contains("openbatch_webhook_backlog"), "the backlog");
    }

    @Test
    void aDeliveryThatNeverSucceedsIsFailedOnceItsRetryWindowIsOver() {
        String r = EngineTest.run();
        String[] ep = endpoint(KEY_A, "/script/500/" + r);
        engine("wh-give-up");
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        awaitReceived("/script/500/" + r, id, 2, Duration.ofSeconds(30));

        Map<String, Object> pending = awaitValue(() -> delivery(KEY_A, ep[0], id), x -> x.get("last_status_code") != null,
                Duration.ofSeconds(10));
        assertEquals("pending", pending.get("status"));
        assertEquals(500, pending.get("last_status_code"));
        assertTrue(((String) pending.get("last_error")).contains("HTTP 500"), (String) pending.get("last_error"));
        assertNotNull(pending.get("next_attempt_at"), "a user sees when the next attempt is due");
        assertTrue((Integer) pending.get("attempts") >= 1);

        clock.set(Clock.offset(Clock.systemUTC(), webhooks.retryFor().plusHours(1)));
        Map<String, Object> failed = awaitValue(() -> delivery(KEY_A, ep[0], id), x -> "failed".equals(x.get("status")),
                Duration.ofSeconds(20));
        assertNull(failed.get("next_attempt_at"));
        assertNotNull(failed.get("finished_at"));
        int n = RECEIVER.at("/script/500/" + r, Set.of(id)).size();
        sleep(600);
        assertEquals(n, RECEIVER.at("/script/500/" + r, Set.of(id)).size(), "no attempt after the delivery failed");
    }

    @Test
    void twoEnginesOnOneDatabaseDeliverEachEventOnce() {
        String r = EngineTest.run();
        String[] ep = endpoint(KEY_A, "/once/" + r);
        engine("wh-one");
        engine("wh-two");
        int n = 8;
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(batch(KEY_A, lines(r + "-" + i, 2, null), "24h"));
        }
        for (String id : ids) {
            awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        }
        awaitReceived("/once/" + r, ids, n, Duration.ofSeconds(30));
        sleep(1000);
        List<Received> got = RECEIVER.at("/once/" + r, ids);
        assertEquals(n, got.size(), "one delivery per event: " + got.stream().map(Received::webhookId).toList());
        Set<String> batches = new HashSet<>();
        Set<String> webhookIds = new HashSet<>();
        for (Received x : got) {
            webhookIds.add(x.webhookId());
            batches.add(new JsonObject(new String(x.body(), StandardCharsets.UTF_8)).getJsonObject("data").getString("id"));
        }
        assertEquals(n, webhookIds.size());
        assertEquals(new HashSet<>(ids), batches);
        for (String id : ids) {
            assertEquals(1, delivery(KEY_A, ep[0], id).get("attempts"));
        }
    }

    @Test
    void theEventArrivesThoughTheProcessThatEndedTheBatchDiedBeforeDelivering() throws Exception {
        String r = EngineTest.run();
        String[] ep = endpoint(KEY_A, "/orphan/" + r);
        // this process ends batches but never gets to deliver: it dies first
        Engine ender = engine("wh-ender", WebhookConfigs.of(webhooks).withConcurrency(0, 0));
        String id = batch(KEY_A, lines(r, 2, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(1, events(id), "the event is in the outbox with the terminal batch");
        sleep(500);
        assertEquals(0, RECEIVER.at("/orphan/" + r).size());
        ender.halt();

        engine("wh-survivor");
        Received x = awaitReceived("/orphan/" + r, id, 1, Duration.ofSeconds(20)).get(0);
        assertEquals(id, RECEIVER.verified(x, ep[1]).getJsonObject("data").getString("id"));
        sleep(500);
        assertEquals(1, RECEIVER.at("/orphan/" + r, Set.of(id)).size());
    }

    @Test
    void aDeliveryCutShortByTheDeathOfItsSenderIsSentAgainByAnotherWithTheSameWebhookId() throws Exception {
        String r = EngineTest.run();
        String path = "/script/hang,200/" + r;
        String[] ep = endpoint(KEY_A, path);
        // its attempt hangs (a long timeout, so that only its death ends it)
        Engine dying = engine("wh-dying", WebhookConfigs.of(webhooks).withTimeout(Duration.ofSeconds(30)));
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        awaitReceived(path, id, 1, Duration.ofSeconds(20));
        assertTrue(RECEIVER.hanging(path) >= 1, "the attempt is in flight when its sender dies");
        dying.halt();

        engine("wh-heir");
        sleep(800);
        assertEquals(1, RECEIVER.at(path, Set.of(id)).size(), "a claim under its lease is not sent again");
        // the dead sender's claim lapses (the clock moves, nobody waits a minute)
        clock.set(Clock.offset(Clock.systemUTC(), Duration.ofSeconds(30).plus(config.lease()).plusSeconds(5)));
        List<Received> got = awaitReceived(path, id, 2, Duration.ofSeconds(20));
        assertEquals("200", got.get(1).answer());
        assertEquals(got.get(0).webhookId(), got.get(1).webhookId(), "receivers can deduplicate by webhook-id");
        assertEquals(id, RECEIVER.verified(got.get(1), ep[1]).getJsonObject("data").getString("id"));
        Map<String, Object> d = awaitValue(() -> delivery(KEY_A, ep[0], id), x -> "succeeded".equals(x.get("status")), Duration.ofSeconds(10));
        assertEquals(200, d.get("last_status_code"));
    }

    @Test
    void aRedirectIsNotFollowedAndAHugeAnswerIsNotRead() throws Exception {
        String r = EngineTest.run();
        String[] redirecting = endpoint(KEY_A, "/script/redirect,200/" + r);
        String[] huge = endpoint(KEY_A, "/script/huge/" + r, "batch.completed");
        // a host name: the request goes to the address checked, with the name in Host
        String named = RECEIVER.url("/named/" + r).replace("127.0.0.1", "localhost");
        endpoints.add(new String[] { KEY_A, as(KEY_A).contentType("application/json").body("{\"url\":\"" + named + "\"}")
                .post("/v1/webhooks").then().statusCode(200).extract().path("id") });
        engine("wh-untrusted");
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));

        awaitReceived("/script/redirect,200/" + r, id, 2, Duration.ofSeconds(20));
        Map<String, Object> d = awaitValue(() -> delivery(KEY_A, redirecting[0], id), x -> "succeeded".equals(x.get("status")),
                Duration.ofSeconds(10));
        assertEquals(2, d.get("attempts"), "the 302 counted as a failed attempt");
        assertEquals(0, RECEIVER.at("/redirected").size(), "the redirect was not followed");

        Received big = awaitReceived("/script/huge/" + r, id, 1, Duration.ofSeconds(20)).get(0);
        Map<String, Object> h = awaitValue(() -> delivery(KEY_A, huge[0], id), x -> "succeeded".equals(x.get("status")), Duration.ofSeconds(10));
        assertEquals(200, h.get("last_status_code"));
        sleep(500);
        long written = RECEIVER.hugeBytes(big.webhookId());
        sleep(500);
        assertEquals(written, RECEIVER.hugeBytes(big.webhookId()), "the connection was closed: nothing more is written");
        assertTrue(written < 32L << 20, "the answer was cut off, not read: " + written + " bytes got out");

        Received byName = awaitReceived("/named/" + r, id, 1, Duration.ofSeconds(20)).get(0);
        assertEquals(java.net.URI.create(named).getAuthority(), byName.headers().get("host"));
    }

    @Test
    void hangingReceiversOfOneProjectHoldUpNeitherAnotherProjectsEventsNorBatches() throws Exception {
        String r = EngineTest.run();
        String[] hanging = endpoint(KEY_A, "/script/hang/" + r);
        endpoint(KEY_B, "/prompt/" + r);
        // twelve events of project A wait for a receiver that never answers
        long now = clock.millis();
        for (int k = 0; k < 12; k++) {
            int i = k;
            String evt = "evt_fake" + r + i;
            pool.preparedQuery("insert into webhook_events (id, project, type, batch_id, created_at, created_us) values ($1, 'project-a',"
                    + " 'batch.completed', $2, $3, $4)").execute(Tuple.of(evt, "batch-fake-" + r + i, now / 1000, now * 1000 + i))
                    .chain(() -> pool.preparedQuery("insert into webhook_deliveries (endpoint_id, event_id, project, state, next_attempt_at,"
                            + " created_at, created_us) values ($1, $2, 'project-a', 'pending', $3, $4, $5)")
                            .execute(Tuple.of(hanging[0], evt, now, now / 1000, now * 1000 + i)))
                    .await().atMost(Duration.ofSeconds(10));
        }
        engine("wh-fair", WebhookConfigs.of(webhooks).withTimeout(Duration.ofSeconds(30)).withConcurrency(4, 2));
        long until = System.currentTimeMillis() + 10_000;
        while (RECEIVER.at("/script/hang/" + r).size() < 2 && System.currentTimeMillis() < until) {
            sleep(20);
        }

        long t0 = System.currentTimeMillis();
        String id = batch(KEY_B, lines(r, 3, null), "24h");
        awaitStatus(KEY_B, id, "completed", Duration.ofSeconds(20));
        awaitReceived("/prompt/" + r, id, 1, Duration.ofSeconds(10));
        long took = System.currentTimeMillis() - t0;
        assertTrue(took < 15_000, "project B's batch and event took " + took + " ms beside project A's hanging receiver");
        assertEquals(2, RECEIVER.at("/script/hang/" + r).size(), "project A holds at most its share of this process's slots");
    }

    @Test
    void aReceiverWhoseHostResolvesToARefusedAddressIsNotContacted() {
        String r = EngineTest.run();
        // allowed when it was made (this profile allows loopback), refused by the engine that delivers
        String[] ep = endpoint(KEY_A, "/refused/" + r);
        engine("wh-strict", WebhookConfigs.of(webhooks).withLoopback(false));
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        Map<String, Object> d = awaitValue(() -> delivery(KEY_A, ep[0], id), x -> x.get("last_error") != null, Duration.ofSeconds(20));
        assertTrue(((String) d.get("last_error")).contains("loopback"), (String) d.get("last_error"));
        assertNull(d.get("last_status_code"));
        assertEquals("pending", d.get("status"));
        assertEquals(0, RECEIVER.at("/refused/" + r).size(), "no connection to a refused address");
    }

    /** A batch store whose terminal write fails while told to, after the event was recorded in the same transaction. */
    static final class FailingEnd extends BatchStore {
        final AtomicBoolean failing = new AtomicBoolean(true);
        final AtomicInteger tries = new AtomicInteger();

        FailingEnd(Pool pool) {
            super(pool);
        }

        @Override
        public Uni<Boolean> end(Tx tx, String batchId, long fence, BatchStatus to, long nowSeconds, String outputFileId, String errorFileId,
                long dataExpiresAt) {
            return super.end(tx, batchId, fence, to, nowSeconds, outputFileId, errorFileId, dataExpiresAt).chain(ok -> {
                tries.incrementAndGet();
                return failing.get() ? Uni.createFrom().failure(new IllegalStateException("the database went away (made by the test)"))
                        : Uni.createFrom().item(ok);
            });
        }
    }

    @Test
    void aRolledBackTransitionLeavesNoEventAndTheCommittedOneHasExactlyOne() {
        String r = EngineTest.run();
        endpoint(KEY_A, "/rollback/" + r);
        FailingEnd store = new FailingEnd(pool);
        start(builder("wh-rollback").batches(store));
        String id = batch(KEY_A, lines(r, 2, null), "24h");
        awaitValue(store.tries::get, n -> n >= 3, Duration.ofSeconds(30));
        assertEquals("finalizing", dev.openbatch.testing.Api.batch(KEY_A, id).getString("status"));
        assertEquals(0, events(id), "the event rolled back with the transition");
        sleep(300);
        assertEquals(0, RECEIVER.at("/rollback/" + r, Set.of(id)).size());

        store.failing.set(false);
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(1, events(id), "the committed transition has its event");
        awaitReceived("/rollback/" + r, id, 1, Duration.ofSeconds(20));
        sleep(500);
        assertEquals(1, RECEIVER.at("/rollback/" + r, Set.of(id)).size());
    }

    // ---- the secrets as the database keeps them ----

    /** Another key than the test profile's, to move to. */
    private static final String NEW_KEY = "EdaE1lYe4UqsFlaWGJxLqEqbZI0hyymrEpIdw0FF/CM=";

    /** An endpoint's row as stored: {secret, previous_secret, secret_hint}. */
    private String[] stored(String endpointId) {
        var row = pool.preparedQuery("select secret, previous_secret, secret_hint from webhook_endpoints where id = $1")
                .execute(Tuple.of(endpointId)).await().atMost(Duration.ofSeconds(10)).iterator().next();
        return new String[] { row.getString(0), row.getString(1), row.getString(2) };
    }

    private void sql(String statement, Object... args) {
        pool.preparedQuery(statement).execute(Tuple.from(args)).await().atMost(Duration.ofSeconds(10));
    }

    /** A stored value that is sealed by {@code box}'s key and holds neither these secrets nor their base64 payloads. */
    private static void assertSealed(SecretBox box, String stored, String... secrets) {
        assertTrue(stored.startsWith("enc:v1:" + box.currentKeyId() + ":"), stored);
        for (String s : secrets) {
            assertFalse(stored.contains(s), "the secret in the database");
            assertFalse(stored.contains(s.substring("whsec_".length())), "the secret's base64 payload in the database");
        }
    }

    @Test
    void theDatabaseKeepsTheSecretEncryptedAndDeliveriesAreSignedWithIt() throws Exception {
        String r = EngineTest.run();
        String[] ep = endpoint(KEY_A, "/sealed/" + r);
        String[] row = stored(ep[0]);
        SecretBox box = SecretBox.of(webhooks);
        assertSealed(box, row[0], ep[1]);
        assertNull(row[1]);
        assertEquals(Signatures.hint(ep[1]), row[2]);
        assertEquals(Signatures.hint(ep[1]), as(KEY_A).get("/v1/webhooks/" + ep[0]).then().statusCode(200).extract()
                .path("signing_secret_hint"));
        assertEquals(ep[1], box.open(ep[0], row[0]));

        engine("wh-sealed");
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        Received x = awaitReceived("/sealed/" + r, id, 1, Duration.ofSeconds(20)).get(0);
        assertEquals(id, RECEIVER.verified(x, ep[1]).getJsonObject("data").getString("id"));
        assertEquals(1, x.signature().split(" ").length);
    }

    @Test
    void aRotationKeepsBothSecretsEncryptedAndBothSign() throws Exception {
        String r = EngineTest.run();
        String[] sealed = endpoint(KEY_A, "/rotated-sealed/" + r);
        String[] clear = endpoint(KEY_A, "/rotated-clear/" + r);
        sql("update webhook_endpoints set secret = $2 where id = $1", clear[0], clear[1]); // as an earlier version kept it
        SecretBox box = SecretBox.of(webhooks);
        List<String> fresh = new ArrayList<>();
        for (String[] ep : List.of(sealed, clear)) {
            String now = as(KEY_A).post("/v1/webhooks/" + ep[0] + "/rotate_secret").then().statusCode(200).extract().path("signing_secret");
            fresh.add(now);
            String[] row = stored(ep[0]);
            assertSealed(box, row[0], ep[1], now);
            assertSealed(box, row[1], ep[1], now);
            assertEquals(now, box.open(ep[0], row[0]));
            assertEquals(ep[1], box.open(ep[0], row[1]), "the previous secret, sealed");
            assertEquals(Signatures.hint(now), row[2]);
        }

        engine("wh-rotated");
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        for (int i = 0; i < 2; i++) {
            String[] ep = i == 0 ? sealed : clear;
            Received x = awaitReceived("/rotated-" + (i == 0 ? "sealed/" : "clear/") + r, id, 1, Duration.ofSeconds(20)).get(0);
            assertEquals(2, x.signature().split(" ").length, "signed with the new secret and the previous one");
            RECEIVER.verified(x, fresh.get(i));
            RECEIVER.verified(x, ep[1]);
        }
    }

    @Test
    void aSecretCopiedOntoAnotherEndpointSignsNothingThere() throws Exception {
        String r = EngineTest.run();
        String[] from = endpoint(KEY_A, "/copied-from/" + r);
        String[] to = endpoint(KEY_A, "/copied-to/" + r);
        sql("update webhook_endpoints set secret = (select secret from webhook_endpoints where id = $2) where id = $1", to[0], from[0]);
        engine("wh-copied");
        String id = batch(KEY_A, lines(r, 1, null), "24h");
        awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        RECEIVER.verified(awaitReceived("/copied-from/" + r, id, 1, Duration.ofSeconds(20)).get(0), from[1]);

        Map<String, Object> d = awaitValue(() -> delivery(KEY_A, to[0], id), x -> x.get("last_error") != null, Duration.ofSeconds(20));
        assertTrue(((String) d.get("last_error")).contains("cannot be decrypted"), (String) d.get("last_error"));
        assertNull(d.get("last_status_code"));
        assertEquals("pending", d.get("status"), "retried: a configuration put right delivers it");
        assertEquals(0, RECEIVER.at("/copied-to/" + r).size(), "nothing sent without its own secret");

        // nor can it go on signing beside a new secret: the rotation is refused, and changes nothing
        String copied = stored(to[0])[0];
        assertEnvelope(as(KEY_A).post("/v1/webhooks/" + to[0] + "/rotate_secret"), 500, null, "webhook_secret_unreadable");
        assertEquals(copied, stored(to[0])[0]);
        assertNull(stored(to[0])[1]);
    }

    @Test
    void secretsInClearAndUnderAPreviousKeyAreSealedUnderANewKeyAndStillSign() throws Exception {
        String r = EngineTest.run();
        String[] clear = endpoint(KEY_A, "/was-clear/" + r);
        String[] old = endpoint(KEY_A, "/was-old-key/" + r);
        sql("update webhook_endpoints set secret = $2 where id = $1", clear[0], clear[1]);
        String key = webhooks.secretKey().orElseThrow();
        WebhookConfigs moved = WebhookConfigs.of(webhooks).withKeys(NEW_KEY, key);
        SecretBox box = SecretBox.of(moved);
        try {
            long sealed = builder("wh-reseal").webhooks(moved).webhookSecretSealing().run().await().atMost(Duration.ofSeconds(30));
            assertTrue(sealed >= 2, "sealed " + sealed);
            for (String[] ep : List.of(clear, old)) {
                String[] row = stored(ep[0]);
                assertSealed(box, row[0], ep[1]);
                assertEquals(ep[1], box.open(ep[0], row[0]));
            }
            assertEquals(0, builder("wh-reseal").webhooks(moved).webhookSecretSealing().run().await().atMost(Duration.ofSeconds(30)),
                    "nothing left to seal");

            // the old key is no longer needed to sign
            engine("wh-new-key", WebhookConfigs.of(webhooks).withKeys(NEW_KEY));
            String id = batch(KEY_A, lines(r, 1, null), "24h");
            awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
            RECEIVER.verified(awaitReceived("/was-clear/" + r, id, 1, Duration.ofSeconds(20)).get(0), clear[1]);
            RECEIVER.verified(awaitReceived("/was-old-key/" + r, id, 1, Duration.ofSeconds(20)).get(0), old[1]);
        } finally {
            // every endpoint of the database back under the test profile's key, for the tests after this one
            haltEngines();
            builder("wh-reseal-back").webhooks(WebhookConfigs.of(webhooks).withKeys(key, NEW_KEY)).webhookSecretSealing().run()
                    .await().atMost(Duration.ofSeconds(30));
        }
    }
}
