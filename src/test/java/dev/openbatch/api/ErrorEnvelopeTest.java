package dev.openbatch.api;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertClean;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.config.EncoderConfig;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;

/** Every non-2xx answer a client can provoke carries the OpenAI envelope, and none is a 500. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class ErrorEnvelopeTest {
    static final String LONG_ID = "x".repeat(5000);

    static Response json(RequestSpecification spec, String path, String body) {
        return spec.contentType("application/json").body(body).post(path);
    }

    @Test
    void noKeyOrAWrongKeyIs401() {
        for (String path : List.of("/v1/files", "/v1/batches", "/v1/jobs", "/v1/models", "/v1/batches/batch-x", "/v1/files/file-x/content",
                "/v1/batches/batch-x/results", "/v1/batches/batch-x/requests", "/v1/nope")) {
            String m = assertEnvelope(given().get(path), 401, null, "invalid_api_key");
            assertTrue(m.contains("Authorization: Bearer"), m);
            assertEnvelope(given().header("Authorization", "Bearer sk-wrong").get(path), 401, null, "invalid_api_key");
            assertEnvelope(given().header("Authorization", "Bearer " + KEY_A.toUpperCase()).get(path), 401, null, "invalid_api_key");
            assertEnvelope(given().header("Authorization", "Basic c2stdGVzdC1hOg==").get(path), 401, null, "invalid_api_key");
            assertEnvelope(given().header("Authorization", "Bearer ").get(path), 401, null, "invalid_api_key");
            assertEnvelope(given().header("Authorization", KEY_A).get(path), 401, null, "invalid_api_key");
        }
        assertEnvelope(json(given(), "/v1/batches", "{}"), 401, null, "invalid_api_key");
        assertEnvelope(given().multiPart("purpose", "batch").multiPart("file", "a.jsonl", new byte[10]).post("/v1/files"), 401, null,
                "invalid_api_key");
        assertEnvelope(given().post("/v1/batches/batch-x/cancel"), 401, null, "invalid_api_key");
        assertEnvelope(given().post("/v1/batches/batch-x/retry"), 401, null, "invalid_api_key");
        assertEnvelope(json(given(), "/v1/batches/validate", "{}"), 401, null, "invalid_api_key");
        assertEnvelope(given().delete("/v1/files/file-x"), 401, null, "invalid_api_key");
    }

    @Test
    void unknownRoutesAre404() {
        // (GET / is the web console: ConsoleServingTest)
        for (String path : List.of("/v1/nope", "/nope", "/console/nope.js", "/v2/batches", "/v1", "/v1/batches/batch-x/retries",
                "/v1/files/file-x/content/more", "/v1/chat/completions", "/q/nope")) {
            String m = assertEnvelope(as(KEY_A).get(path), 404, null, "unknown_url");
            assertTrue(m.contains("/v1"), m);
        }
        assertEnvelope(json(as(KEY_A), "/v1/batch", "{}"), 404, null, "unknown_url");
        assertEnvelope(as(KEY_A).delete("/v1/nope/x"), 404, null, "unknown_url");
    }

    @Test
    void wrongMethodsAre405() {
        record Call(String method, String path) {
        }
        for (Call c : List.of(new Call("PUT", "/v1/files"), new Call("DELETE", "/v1/batches"), new Call("PATCH", "/v1/jobs/job-x"),
                new Call("GET", "/v1/batches/batch-x/cancel"), new Call("POST", "/v1/models"), new Call("DELETE", "/v1/jobs/job-x"),
                new Call("PUT", "/v1/batches/batch-x"), new Call("DELETE", "/v1/batches/batch-x"), new Call("POST", "/v1/files/file-x"),
                new Call("PUT", "/v1/files/file-x/content"), new Call("GET", "/v1/batches/batch-x/retry"),
                new Call("POST", "/v1/batches/batch-x/results"), new Call("DELETE", "/v1/batches/batch-x/requests"))) {
            Response r = as(KEY_A).request(c.method(), c.path());
            String m = assertEnvelope(r, 405, null, "method_not_allowed");
            assertTrue(m.contains(c.method()), m);
        }
    }

    @Test
    void wrongContentTypesAre415() {
        assertEnvelope(as(KEY_A).contentType("text/plain").body("{}").post("/v1/batches"), 415, null, "unsupported_media_type");
        assertEnvelope(as(KEY_A).contentType("application/x-www-form-urlencoded").formParam("input_file_id", "file-x").post("/v1/batches"),
                415, null, "unsupported_media_type");
        assertEnvelope(as(KEY_A).contentType("application/xml").body("<job/>").post("/v1/jobs"), 415, null, "unsupported_media_type");
        assertEnvelope(as(KEY_A).contentType("text/plain").body("{}").post("/v1/batches/validate"), 415, null, "unsupported_media_type");
        assertEnvelope(as(KEY_A).contentType("application/json").body("{\"purpose\":\"batch\"}").post("/v1/files"), 415, null,
                "unsupported_media_type");
        assertEnvelope(as(KEY_A).contentType("text/csv").body("a,b").post("/v1/files"), 415, null, "unsupported_media_type");
        assertEnvelope(as(KEY_A).body(new byte[] { 1, 2, 3 }).post("/v1/batches"), 415, null, "unsupported_media_type");
    }

    @Test
    void unacceptableAcceptIs406() {
        assertEnvelope(as(KEY_A).header("Accept", "text/html").get("/v1/batches"), 406, null, "not_acceptable");
    }

    @Test
    void malformedJsonIs400() {
        for (String path : List.of("/v1/batches", "/v1/jobs", "/v1/batches/validate")) {
            assertEnvelope(json(as(KEY_A), path, "{bad"), 400, null, "invalid_json");
            assertEnvelope(json(as(KEY_A), path, "{\"name\": \"x\""), 400, null, "invalid_json");
            assertEnvelope(json(as(KEY_A), path, "[1, 2]"), 400, null, "invalid_type");
            assertEnvelope(json(as(KEY_A), path, "\"text\""), 400, null, "invalid_type");
            assertEnvelope(json(as(KEY_A), path, "42"), 400, null, "invalid_type");
            assertEnvelope(json(as(KEY_A), path, ""), 400, null, "invalid_json");
            assertEnvelope(json(as(KEY_A), path, "null"), 400, null, "invalid_json");
            assertEnvelope(json(as(KEY_A), path, "{\"unknown_field\":1}"), 400, "unknown_field", "unknown_parameter");
            assertEnvelope(json(as(KEY_A), path, "{\"metadata\":\"text\"}"), 400, "metadata", "invalid_type");
        }
        assertEnvelope(json(as(KEY_A), "/v1/jobs", "{\"metadata\":{\"k\":{\"deep\":1}}}"), 400, "metadata.k", "invalid_type");
        assertEnvelope(json(as(KEY_A), "/v1/batches", "{\"input_file_id\":\"f\",\"endpoint\":\"/v1/embeddings\",\"metadata\":{\"k\":[1]}}"),
                400, "metadata.k", "invalid_type");
        assertEnvelope(json(as(KEY_A), "/v1/batches", "{\"input_file_id\":[\"file-x\"],\"endpoint\":\"/v1/embeddings\"}"), 400,
                "input_file_id", "invalid_type");
        assertEnvelope(json(as(KEY_A), "/v1/batches", "{\"input_file_id\":\"f\",\"endpoint\":\"/v1/embeddings\",\"output_expires_after\":"
                + "{\"anchor\":\"created_at\",\"seconds\":\"soon\"}}"), 400, "output_expires_after.seconds", "invalid_type");
        assertEnvelope(json(as(KEY_A), "/v1/jobs", "{\"priority\":1e40}"), 400, "priority", "invalid_value");
        assertEnvelope(json(as(KEY_A), "/v1/jobs", "{\"max_concurrency\":true}"), 400, "max_concurrency", "invalid_type");
    }

    @Test
    void badQueryParametersAre400NamingTheParameter() {
        for (String path : List.of("/v1/files", "/v1/batches", "/v1/jobs")) {
            assertEnvelope(as(KEY_A).queryParam("limit", "abc").get(path), 400, "limit", "invalid_type");
            assertEnvelope(as(KEY_A).queryParam("limit", "-1").get(path), 400, "limit", "invalid_value");
            assertEnvelope(as(KEY_A).queryParam("limit", "99999999999").get(path), 400, "limit", "invalid_type");
            assertEnvelope(as(KEY_A).queryParam("after", "nope").get(path), 400, "after", "invalid_value");
            assertEnvelope(as(KEY_A).queryParam("after", LONG_ID).get(path), 400, "after", "invalid_value");
        }
        assertEnvelope(as(KEY_A).queryParam("order", "random").get("/v1/files"), 400, "order", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("purpose", "everything").get("/v1/files"), 400, "purpose", "invalid_value");
    }

    @Test
    void aFiveThousandCharacterIdIs404WithAShortMessage() {
        for (Response r : List.of(as(KEY_A).get("/v1/batches/batch-" + LONG_ID), as(KEY_A).get("/v1/files/file-" + LONG_ID),
                as(KEY_A).header("Accept", "application/binary").get("/v1/files/file-" + LONG_ID + "/content"),
                as(KEY_A).get("/v1/jobs/job-" + LONG_ID), as(KEY_A).post("/v1/batches/batch-" + LONG_ID + "/cancel"),
                as(KEY_A).delete("/v1/files/file-" + LONG_ID), as(KEY_A).get("/v1/models/" + LONG_ID))) {
            String m = assertEnvelope(r, 404, null, "not_found");
            assertTrue(m.length() < 200, m);
        }
        assertEnvelope(json(as(KEY_A), "/v1/batches", "{\"input_file_id\":\"file-" + LONG_ID + "\",\"endpoint\":\"/v1/embeddings\"}"),
                404, null, "not_found");
    }

    @Test
    void oversizedBodiesAre413() {
        String big = "{\"name\":\"" + "n".repeat(2 * 1024 * 1024) + "\"}";
        String m = assertEnvelope(json(as(KEY_A), "/v1/jobs", big), 413, null, "request_too_large");
        assertTrue(m.contains("1048576"), m);
        assertEnvelope(json(as(KEY_A), "/v1/batches", big), 413, null, "request_too_large");
        assertEnvelope(as(KEY_A).multiPart("purpose", "batch").multiPart("file", "big.jsonl", new byte[9 * 1024 * 1024]).post("/v1/files"),
                413, "file", "file_too_large");
        // a body just under the limit is read (and judged on its content)
        assertEnvelope(json(as(KEY_A), "/v1/jobs", "{\"name\":\"" + "n".repeat(1024 * 1024 - 20) + "\"}"), 400, "name", "invalid_value");
    }

    @Test
    void oversizedFormFieldGetsTheEnvelope() {
        Response r = as(KEY_A).multiPart("purpose", "p".repeat(100 * 1024)).multiPart("file", "a.jsonl", "{}".getBytes(StandardCharsets.UTF_8))
                .post("/v1/files");
        assertEnvelope(r, 413, null, null); // over quarkus.http.limits.max-form-attribute-size
    }

    @Test
    void malformedMultipartIs400() {
        var raw = RestAssured.config().encoderConfig(EncoderConfig.encoderConfig().encodeContentTypeAs("multipart/form-data", ContentType.TEXT));
        assertEnvelope(as(KEY_A).config(raw).contentType("multipart/form-data; boundary=xyz").body("garbage").post("/v1/files"), 400, null,
                "invalid_body");
        assertEnvelope(as(KEY_A).config(raw).contentType("multipart/form-data; boundary=xyz")
                .body("--xyz\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--xyz\r\n"
                        + "Content-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n\r\n{\"cut\": ")
                .post("/v1/files"), 400, null, "invalid_body");
    }

    @Test
    void nothingAClientSendsIsA500() {
        String fileId = Api.upload(KEY_A, Api.chatLine("e500-" + UUID.randomUUID(), "fake-model", null) + "\n");
        List<String> batchBodies = List.of("{\"input_file_id\":null,\"endpoint\":null}", "{\"input_file_id\":\"\",\"endpoint\":\"\"}",
                "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/embeddings\",\"metadata\":null,\"job_id\":null,"
                        + "\"completion_window\":null,\"output_expires_after\":null}",
                "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/chat/completions\",\"job_id\":\"\"}",
                "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/chat/completions\",\"output_expires_after\":{}}",
                "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/chat/completions\",\"metadata\":{\"\":\"\"}}",
                "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/chat/completions\",\"metadata\":{\"k\\u0000\":\"v\\u0000\"}}",
                "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"9999999d\"}");
        for (String b : batchBodies) {
            Response r = json(as(KEY_A), "/v1/batches", b);
            assertTrue(r.statusCode() < 500, () -> b + " -> " + r.statusCode() + " " + r.asString());
            assertClean(r.asString());
        }
        List<String> jobBodies = List.of("{\"name\":null,\"model\":null,\"completion_window\":null,\"priority\":null,\"max_concurrency\":null,"
                + "\"metadata\":null}", "{\"priority\":-2147483648}",
                "{\"metadata\":{\"\\u0000\":\"\\u0000\"}}");
        for (String b : jobBodies) {
            Response r = json(as(KEY_A), "/v1/jobs", b);
            assertTrue(r.statusCode() < 500, () -> b + " -> " + r.statusCode() + " " + r.asString());
            assertClean(r.asString());
        }
        for (String path : List.of("/v1/files/file-%00", "/v1/batches/%00", "/v1/jobs/job-%00x", "/v1/batches?after=%00", "/v1/files?purpose=batch%00")) {
            assertEnvelope(as(KEY_A).urlEncodingEnabled(false).get(path), 400, null, "invalid_request");
        }
        assertEnvelope(json(as(KEY_A), "/v1/batches", "{\"input_file_id\":\"file-\\u0000\",\"endpoint\":\"/v1/embeddings\"}"), 400,
                "input_file_id", "invalid_value");
        assertEnvelope(json(as(KEY_A), "/v1/batches", "{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/embeddings\",\"job_id\":\"\\u0000\"}"),
                400, "job_id", "invalid_value");
        assertEnvelope(json(as(KEY_A), "/v1/jobs", "{\"name\":\"a\\u0000b\"}"), 400, "name", "invalid_value");
        assertEnvelope(json(as(KEY_A), "/v1/jobs", "{\"model\":\"\\u0000\"}"), 400, "model", "invalid_value");
        // metadata is stored as JSON, where a NUL is an escape like any other
        Response withNul = json(as(KEY_A), "/v1/jobs", "{\"metadata\":{\"k\\u0000\":\"v\\u0000\"}}");
        assertEquals(200, withNul.statusCode(), withNul::asString);
        assertEquals(Map.of("k\u0000", "v\u0000"), withNul.jsonPath().getMap("metadata"));
        assertEnvelope(as(KEY_A).multiPart("purpose", "batch").multiPart("file", "a\u0000.jsonl", "{}".getBytes(StandardCharsets.UTF_8))
                .post("/v1/files"), 400, "file", "invalid_value");

        for (String id : List.of("%E2%82%AC", "..", "%2F", "'%20or%201=1--", "file-%01", "%C3%28")) {
            for (String path : List.of("/v1/files/", "/v1/batches/", "/v1/jobs/")) {
                Response r = as(KEY_A).urlEncodingEnabled(false).get(path + id);
                assertTrue(r.statusCode() < 500, () -> path + id + " -> " + r.statusCode() + " " + r.asString());
                if (r.statusCode() >= 400) {
                    assertEnvelope(r, r.statusCode(), null, null);
                }
            }
        }
        Response r = as(KEY_A).header("Idempotency-Key", "\u00e9t\u00e9").contentType("application/json")
                .body("{\"input_file_id\":\"" + fileId + "\",\"endpoint\":\"/v1/chat/completions\"}").post("/v1/batches");
        assertTrue(r.statusCode() < 500, r::asString);
    }

    /**
     * What Vert.x refuses in its HTTP codec, or Quarkus before any route runs, is answered there
     * with an empty body: the envelope cannot be added (see api/HttpLayer). The status is right.
     */
    @Test
    void codecLevelRefusalsKeepTheirStatus() throws IOException {
        assertEquals(431, rawStatus("GET /v1/batches HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + "\r\nX-Big: "
                + "y".repeat(70 * 1024) + "\r\nConnection: close\r\n\r\n"));
        assertEquals(414, rawStatus("GET /v1/batches/" + "x".repeat(70 * 1024) + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
        assertEquals(400, rawStatus("GET /v1/batches/% HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A
                + "\r\nConnection: close\r\n\r\n"));
    }

    /** Sends a request as raw bytes (no client library in between) and returns the status code. */
    static int rawStatus(String request) throws IOException {
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1 && c != '\n') {
                head.write(c);
            }
            String status = head.toString(StandardCharsets.ISO_8859_1);
            assertTrue(status.startsWith("HTTP/1."), status);
            return Integer.parseInt(status.substring(9, 12));
        }
    }
}
