package dev.openbatch.api;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/**
 * Health and metrics answer on the management interface's own port, for probes and Prometheus;
 * the API port, the one tenants reach, serves none of it (the metrics name every project's
 * batches, the upstreams and the pods).
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class ManagementInterfaceTest {
    private static final List<String> OPERATOR_PATHS = List.of("/q/health", "/q/health/ready", "/q/health/live", "/q/health/started",
            "/q/metrics", "/q/metrics/");

    @TestHTTPResource("/")
    URL api;

    @TestHTTPResource(value = "/", management = true)
    URL management;

    @Test
    void healthAndMetricsAnswerOnTheManagementPort() {
        assertNotEquals(api.getPort(), management.getPort(), "a port of its own");
        for (String probe : List.of("/q/health", "/q/health/ready", "/q/health/live", "/q/health/started")) {
            Response r = given().get(url(probe));
            assertEquals(200, r.statusCode(), probe + ": " + r.asString());
            assertEquals("UP", r.jsonPath().getString("status"), probe);
        }
        Response metrics = given().get(url("/q/metrics"));
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.asString().contains("openbatch_batches{"), "the engine's metrics are there");
        assertTrue(metrics.asString().contains("upstream=\"fake\""), "per-upstream figures are there");
    }

    @Test
    void theApiPortServesNoOperatorData() {
        for (String path : OPERATOR_PATHS) {
            Response withKey = as(KEY_A).get(path);
            assertFalse(withKey.asString().contains("openbatch_"), path + ": " + withKey.asString());
            String m = assertEnvelope(withKey, 404, null, "unknown_url");
            assertTrue(m.contains("/v1"), m);
            Response anonymous = given().get(path);
            assertNotEquals(200, anonymous.statusCode(), path);
            assertFalse(anonymous.asString().contains("openbatch_") || anonymous.asString().contains("\"UP\""), path);
        }
        // the API's own description stays with the API
        assertEquals(200, given().get("/q/openapi").statusCode());
    }

    private String url(String path) {
        return "http://" + management.getHost() + ":" + management.getPort() + path;
    }
}
