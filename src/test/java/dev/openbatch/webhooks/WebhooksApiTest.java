package dev.openbatch.webhooks;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.webhooks.DeletedWebhookEndpoint;
import com.openai.models.webhooks.WebhookCreateParams;
import com.openai.models.webhooks.WebhookEndpoint;
import com.openai.models.webhooks.WebhookEndpointWithSecret;
import com.openai.models.webhooks.WebhookUpdateParams;

import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;

/** Managing webhook endpoints: the secret shown once, project scoping, URL checks, and the official SDK. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class WebhooksApiTest {
    /** Nothing listens there; these tests make no delivery. */
    private static final String URL = "http://127.0.0.1:9/hooks/openbatch";

    @TestHTTPResource("/v1")
    URL v1;

    @jakarta.inject.Inject
    io.vertx.mutiny.sqlclient.Pool pool;

    /** The endpoints a test made, deleted after it: later tests' batches must not send events to them. */
    private final List<String> made = new java.util.ArrayList<>();

    @AfterEach
    void deleteEndpoints() {
        made.forEach(id -> as(KEY_A).delete("/v1/webhooks/" + id));
        made.clear();
    }

    private static Response post(String key, String path, String body) {
        return as(key).contentType("application/json").body(body).post(path);
    }

    private JsonPath create(String key, String body) {
        JsonPath p = post(key, "/v1/webhooks", body).then().statusCode(200).extract().jsonPath();
        made.add(p.getString("id"));
        return p;
    }

    @Test
    void createShowsTheSecretOnceAndEveryOtherAnswerOnlyItsHint() {
        JsonPath made = create(KEY_A, "{\"url\":\"" + URL + "\",\"events\":[\"batch.completed\",\"batch.failed\"],\"description\":\"ops\"}");
        String id = made.getString("id");
        String secret = made.getString("signing_secret");
        assertTrue(id.startsWith("webhook-"), id);
        assertEquals("webhook_endpoint", made.getString("object"));
        assertEquals(URL, made.getString("url"));
        assertEquals("ops", made.getString("name"));
        assertEquals(List.of("batch.completed", "batch.failed"), made.getList("event_types"));
        assertTrue(secret.matches("whsec_[A-Za-z0-9+/]{43}="), secret);
        assertEquals("whsec_..." + secret.substring(secret.length() - 4), made.getString("signing_secret_hint"));
        assertTrue(made.getLong("created_at") > 0);
        assertEquals(made.getLong("created_at"), made.getLong("updated_at"));

        for (String path : List.of("/v1/webhooks/" + id, "/v1/webhook_endpoints/" + id)) {
            JsonPath got = as(KEY_A).get(path).then().statusCode(200).extract().jsonPath();
            assertEquals(id, got.getString("id"));
            assertFalse(got.getMap("$").containsKey("signing_secret"), "the secret is shown in full only when it is made");
            assertEquals(made.getString("signing_secret_hint"), got.getString("signing_secret_hint"));
        }
        JsonPath list = as(KEY_A).get("/v1/webhooks?limit=100").then().statusCode(200).extract().jsonPath();
        assertEquals("list", list.getString("object"));
        assertTrue(list.getList("data.id").contains(id));
        assertFalse(list.getString("data").contains(secret));

        // every event type when none is named; the name defaults to the id
        JsonPath all = create(KEY_A, "{\"url\":\"" + URL + "\"}");
        assertEquals(List.of("batch.completed", "batch.failed", "batch.expired", "batch.cancelled"), all.getList("event_types"));
        assertEquals(all.getString("id"), all.getString("name"));
    }

    @Test
    void anotherProjectsEndpointDoesNotExist() {
        String id = create(KEY_A, "{\"url\":\"" + URL + "\"}").getString("id");
        assertEnvelope(as(KEY_B).get("/v1/webhooks/" + id), 404, null, "not_found");
        assertEnvelope(as(KEY_B).delete("/v1/webhooks/" + id), 404, null, "not_found");
        assertEnvelope(as(KEY_B).post("/v1/webhooks/" + id + "/rotate_secret"), 404, null, "not_found");
        assertEnvelope(as(KEY_B).get("/v1/webhooks/" + id + "/deliveries"), 404, null, "not_found");
        assertEnvelope(post(KEY_B, "/v1/webhooks/" + id, "{\"name\":\"mine\"}"), 404, null, "not_found");
        List<String> theirs = as(KEY_B).get("/v1/webhooks?limit=100").then().statusCode(200).extract().jsonPath().getList("data.id");
        assertFalse(theirs.contains(id));
        assertEnvelope(as(KEY_B).get("/v1/webhooks?after=" + id), 400, "after", "invalid_value");
        // still there for its owner
        as(KEY_A).get("/v1/webhooks/" + id).then().statusCode(200);
    }

    @Test
    void aRotatedOutSecretIsForgottenOnceItNoLongerSigns() {
        String id = create(KEY_A, "{\"url\":\"" + URL + "\"}").getString("id");
        as(KEY_A).post("/v1/webhooks/" + id + "/rotate_secret").then().statusCode(200);
        try {
            Thread.sleep(6_000); // the engine's housekeeping forgets expired ones every 5 s
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assertEquals(1L, previousSecrets(id), "within the overlap the previous secret still signs, so it is kept");
        pool.preparedQuery("update webhook_endpoints set previous_secret_until = previous_secret_until - "
                + (WebhookService.ROTATION_OVERLAP_SECONDS + 1) + " where id = $1").execute(io.vertx.mutiny.sqlclient.Tuple.of(id))
                .await().indefinitely();
        long deadline = System.currentTimeMillis() + 15_000;
        while (previousSecrets(id) != 0 && System.currentTimeMillis() < deadline) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        assertEquals(0L, previousSecrets(id), "past the overlap the housekeeping deletes it from the database");
    }

    private long previousSecrets(String id) {
        return pool.preparedQuery("select count(*) from webhook_endpoints where id = $1 and (previous_secret is not null or previous_secret_until is not null)")
                .execute(io.vertx.mutiny.sqlclient.Tuple.of(id)).await().indefinitely().iterator().next().getLong(0);
    }

    @Test
    void rotateSecretShowsTheNewSecretOnceAndDeleteRemovesTheEndpoint() {
        JsonPath made = create(KEY_A, "{\"url\":\"" + URL + "\"}");
        String id = made.getString("id");
        JsonPath rotated = as(KEY_A).post("/v1/webhooks/" + id + "/rotate_secret").then().statusCode(200).extract().jsonPath();
        assertNotEquals(made.getString("signing_secret"), rotated.getString("signing_secret"));
        assertTrue(rotated.getString("signing_secret").startsWith("whsec_"));
        assertEquals(Signatures.hint(rotated.getString("signing_secret")), rotated.getString("signing_secret_hint"));
        assertFalse(as(KEY_A).get("/v1/webhooks/" + id).then().statusCode(200).extract().jsonPath().getMap("$").containsKey("signing_secret"));

        JsonPath deleted = as(KEY_A).delete("/v1/webhooks/" + id).then().statusCode(200).extract().jsonPath();
        assertEquals(Map.of("id", id, "object", "webhook_endpoint.deleted", "deleted", true), deleted.getMap("$"));
        assertEnvelope(as(KEY_A).get("/v1/webhooks/" + id), 404, null, "not_found");
        assertEnvelope(as(KEY_A).delete("/v1/webhooks/" + id), 404, null, "not_found");
    }

    @Test
    void updateChangesWhatTheBodyNames() {
        String id = create(KEY_A, "{\"url\":\"" + URL + "\",\"name\":\"a\"}").getString("id");
        JsonPath changed = post(KEY_A, "/v1/webhooks/" + id, "{\"event_types\":[\"batch.expired\"],\"name\":\"b\"}").then().statusCode(200)
                .extract().jsonPath();
        assertEquals(List.of("batch.expired"), changed.getList("event_types"));
        assertEquals("b", changed.getString("name"));
        assertEquals(URL, changed.getString("url"));
        assertEnvelope(post(KEY_A, "/v1/webhooks/" + id, "{\"url\":\"http://169.254.169.254/latest/meta-data\"}"), 400, "url", "invalid_url");
        assertEquals(URL, as(KEY_A).get("/v1/webhooks/" + id).then().extract().path("url"));
    }

    @Test
    void receiversThatOpenbatchMustNotReachAreRefused() {
        Map<String, String> refused = Map.of(
                "ftp://example.com/hook", "start with https://",
                "https://user:secret@example.com/hook", "user name or password",
                "http://169.254.169.254/latest/meta-data/", "link-local",
                "http://[::ffff:169.254.169.254]/latest/meta-data/", "link-local",
                "http://metadata.google.internal/computeMetadata/v1/", "metadata",
                "http://10.1.2.3/hook", "allow-private-targets",
                "http://0.0.0.0:8080/hook", "unspecified",
                "http://224.0.0.1/hook", "multicast");
        refused.forEach((url, why) -> {
            String message = assertEnvelope(post(KEY_A, "/v1/webhooks", "{\"url\":\"" + url + "\"}"), 400, "url", "invalid_url");
            assertTrue(message.contains(why), url + ": " + message);
            assertFalse(message.contains("169.254.169.254") || message.contains("10.1.2.3"), "the message names no address: " + message);
        });
        assertEnvelope(post(KEY_A, "/v1/webhooks", "{\"events\":[\"batch.completed\"]}"), 400, "url", "missing_required_parameter");
        assertEnvelope(post(KEY_A, "/v1/webhooks", "{\"url\":\"" + URL + "\",\"event_types\":[\"response.completed\"]}"), 400, "event_types",
                "invalid_value");
        assertEnvelope(post(KEY_A, "/v1/webhooks", "{\"url\":\"" + URL + "\",\"events\":[]}"), 400, "events", "invalid_value");
        assertEnvelope(post(KEY_A, "/v1/webhooks", "{\"url\":\"" + URL + "\",\"name\":\"a\",\"description\":\"b\"}"), 400, "name",
                "invalid_value");
        assertEnvelope(post(KEY_A, "/v1/webhooks", "{\"url\":\"" + URL + "\",\"secret\":\"whsec_mine\"}"), 400, "secret",
                "unknown_parameter");
        assertEnvelope(as(KEY_A).get("/v1/webhooks?limit=0"), 400, "limit", "invalid_value");
    }

    @Test
    void aNewEndpointHasNoDeliveriesAndTheirCursorMustBeOneOfThem() {
        String id = create(KEY_A, "{\"url\":\"" + URL + "\"}").getString("id");
        JsonPath page = as(KEY_A).get("/v1/webhooks/" + id + "/deliveries").then().statusCode(200).extract().jsonPath();
        assertEquals("list", page.getString("object"));
        assertEquals(0, page.getList("data").size());
        assertFalse(page.getBoolean("has_more"));
        assertEnvelope(as(KEY_A).get("/v1/webhooks/" + id + "/deliveries?after=evt_nope"), 400, "after", "invalid_value");
    }

    @Test
    void theOfficialSdkManagesEndpoints() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(v1.toString()).apiKey(KEY_A).maxRetries(0).build();
        try {
            WebhookEndpointWithSecret made = client.webhooks().create(WebhookCreateParams.builder().url(URL).name("sdk")
                    .eventTypes(List.of(WebhookCreateParams.EventType.BATCH_COMPLETED, WebhookCreateParams.EventType.BATCH_CANCELLED))
                    .build());
            made.validate();
            this.made.add(made.id());
            assertTrue(made.signingSecret().startsWith("whsec_"));
            assertEquals(List.of("batch.completed", "batch.cancelled"), made.eventTypes());

            WebhookEndpoint got = client.webhooks().retrieve(made.id());
            got.validate();
            assertEquals("sdk", got.name());
            assertEquals(made.signingSecretHint(), got.signingSecretHint());

            Set<String> listed = new java.util.HashSet<>();
            client.webhooks().list().autoPager().forEach(e -> listed.add(e.id()));
            assertTrue(listed.contains(made.id()));

            WebhookEndpoint updated = client.webhooks().update(WebhookUpdateParams.builder().webhookEndpointId(made.id()).name("renamed")
                    .build());
            assertEquals("renamed", updated.name());

            WebhookEndpointWithSecret rotated = client.webhooks().rotateSecret(made.id());
            assertNotEquals(made.signingSecret(), rotated.signingSecret());

            assertThrows(BadRequestException.class, () -> client.webhooks().create(WebhookCreateParams.builder()
                    .url("http://169.254.169.254/").name("metadata").eventTypes(List.of(WebhookCreateParams.EventType.BATCH_FAILED)).build()));

            DeletedWebhookEndpoint deleted = client.webhooks().delete(made.id());
            assertTrue(deleted.deleted());
            assertEquals(made.id(), deleted.id());
            assertThrows(NotFoundException.class, () -> client.webhooks().retrieve(made.id()));
        } finally {
            client.close();
        }
    }
}
