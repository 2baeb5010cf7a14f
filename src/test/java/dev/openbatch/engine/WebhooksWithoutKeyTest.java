package dev.openbatch.engine;

import static dev.openbatch.engine.EngineTesting.lines;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.WebhookReceiver;
import dev.openbatch.webhooks.Signatures;
import dev.openbatch.webhooks.WebhooksConfig;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * A server whose operator set no {@code openbatch.webhooks.secret-key} (as production is by
 * default): it makes no endpoint and rotates no secret, since the new secret would be kept in
 * clear, and says what to set; the endpoints an earlier version made, their secrets in clear, are
 * still read, listed, counted in {@code openbatch_webhook_secrets_not_current{state="in_clear"}},
 * and delivered to, signed with their secret.
 */
@QuarkusTest
@TestProfile(WebhooksWithoutKeyTest.NoKey.class)
@WithTestResource(FakeUpstreamResource.class)
class WebhooksWithoutKeyTest extends EngineTesting {
    private static final WebhookReceiver RECEIVER = new WebhookReceiver();

    /**
     * The test profile without its webhook secret key (both keys empty, as {@code k8s/secret.yaml}
     * ships them), and without the process's own engine (the test starts one).
     */
    public static class NoKey implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("openbatch.engine.enabled", "false", "openbatch.webhooks.secret-key", "",
                    "openbatch.webhooks.previous-secret-keys", "");
        }
    }

    @Inject
    WebhooksConfig webhooks;

    @TestHTTPResource(value = "/", management = true)
    URL management;

    @BeforeAll
    static void startReceiver() throws Exception {
        RECEIVER.start();
    }

    @AfterAll
    static void stopReceiver() {
        RECEIVER.stop();
    }

    private double gauge(String state) {
        String text = given().get("http://" + management.getHost() + ":" + management.getPort() + "/q/metrics").then().statusCode(200)
                .extract().asString();
        Matcher m = Pattern.compile("(?m)^openbatch_webhook_secrets_not_current\\{state=\"" + state + "\"\\} (\\S+)$").matcher(text);
        assertTrue(m.find(), "the gauge of " + state);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void noEndpointIsMadeNorRotatedAndOnesKeptInClearStillSign() throws Exception {
        assertTrue(webhooks.secretKey().isEmpty());
        assertTrue(webhooks.previousSecretKeys().orElse(List.of()).isEmpty());
        String why = assertEnvelope(as(KEY_A).contentType("application/json").body("{\"url\":\"" + RECEIVER.url("/never") + "\"}")
                .post("/v1/webhooks"), 503, null, "webhook_secret_key_missing");
        assertTrue(why.contains("openbatch.webhooks.secret-key") && why.contains("openssl rand -base64 32"), why);

        String r = EngineTest.run();
        String id = "webhook-clear-" + r;
        String secret = Signatures.newSecret();
        pool.preparedQuery("insert into webhook_endpoints (id, project, url, name, event_types, secret, secret_hint, created_at, created_us,"
                + " updated_at) values ($1, 'project-a', $2, 'kept in clear', 'batch.completed', $3, $4, 0, 0, 0)")
                .execute(Tuple.of(id, RECEIVER.url("/clear/" + r), secret, Signatures.hint(secret))).await().atMost(Duration.ofSeconds(10));
        try {
            assertEnvelope(as(KEY_A).post("/v1/webhooks/" + id + "/rotate_secret"), 503, null, "webhook_secret_key_missing");
            assertEquals(Signatures.hint(secret), as(KEY_A).get("/v1/webhooks/" + id).then().statusCode(200).extract()
                    .path("signing_secret_hint"), "reading an endpoint needs no key");

            assertEquals(0, builder("wh-no-key").webhookSecretSealing().run().await().atMost(Duration.ofSeconds(30)),
                    "nothing sealed without a key");
            assertEquals(secret, pool.preparedQuery("select secret from webhook_endpoints where id = $1").execute(Tuple.of(id))
                    .await().atMost(Duration.ofSeconds(10)).iterator().next().getString(0), "left as it was");
            assertTrue(gauge("in_clear") >= 1, "counted as kept in clear");

            engine("wh-no-key");
            String batch = createBatch(KEY_A, upload(KEY_A, lines(r, 1, null)), "/v1/chat/completions", "24h").getString("id");
            awaitStatus(KEY_A, batch, "completed", Duration.ofSeconds(30));
            RECEIVER.verified(RECEIVER.await("/clear/" + r, Set.of(batch), 1, Duration.ofSeconds(20)).get(0), secret);
        } finally {
            pool.preparedQuery("delete from webhook_endpoints where id = $1").execute(Tuple.of(id)).await().atMost(Duration.ofSeconds(10));
        }
    }
}
