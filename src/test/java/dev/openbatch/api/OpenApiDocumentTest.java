package dev.openbatch.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;

/** The OpenAPI document at /q/openapi lists every endpoint, the ones of the results stream, lines, retries and dry runs included. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class OpenApiDocumentTest {
    @Test
    void listsTheEndpointsAndTheirParameters() {
        JsonPath doc = given().accept("application/json").get("/q/openapi?format=json").then().statusCode(200).extract().jsonPath();
        Map<String, Object> paths = doc.getMap("paths");
        for (String p : List.of("/v1/batches", "/v1/batches/{id}", "/v1/batches/{id}/cancel", "/v1/batches/{id}/results",
                "/v1/batches/{id}/requests", "/v1/batches/{id}/retry", "/v1/batches/validate", "/v1/files", "/v1/jobs", "/v1/models")) {
            assertTrue(paths.containsKey(p), p + " is in the OpenAPI document: " + paths.keySet());
        }
        List<String> results = doc.getList("paths.'/v1/batches/{id}/results'.get.parameters.name");
        assertTrue(results.containsAll(List.of("id", "after", "outcome", "limit")), results.toString());
        List<String> lines = doc.getList("paths.'/v1/batches/{id}/requests'.get.parameters.name");
        assertTrue(lines.containsAll(List.of("id", "after", "limit", "state", "error_code")), lines.toString());
        assertTrue(doc.getMap("paths.'/v1/batches/validate'").containsKey("post"));
        assertTrue(doc.getMap("paths.'/v1/batches/{id}/retry'").containsKey("post"));
    }
}
