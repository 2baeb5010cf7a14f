package dev.openbatch.api;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Envelope;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.vertx.core.MultiMap;

/**
 * A control character or NUL in a request header is refused with 400 and the error envelope,
 * whichever header holds it, over a raw socket as a hostile client sends it; and no response
 * header we write can carry one.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class HeaderCharactersTest {

    /** The raw exchange: status code, and body (everything after the head). */
    private record Raw(int status, String head, String body) {
    }

    private static Raw raw(String request) throws IOException {
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            s.getInputStream().transferTo(out);
            String text = out.toString(StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            return new Raw(Integer.parseInt(text.substring(9, 12)), end < 0 ? text : text.substring(0, end),
                    end < 0 ? "" : text.substring(end + 4));
        }
    }

    private static void assertRefused(Raw r, String param, String code) {
        assertEquals(400, r.status(), r.head() + "\n" + r.body());
        assertTrue(r.head().toLowerCase().contains("content-type: application/json"), r.head());
        JsonPath json = JsonPath.from(r.body());
        assertEquals("invalid_request_error", json.getString("error.type"), r.body());
        assertEquals(param, json.getString("error.param"), r.body());
        assertEquals(code, json.getString("error.code"), r.body());
        Envelope.assertClean(r.body());
    }

    @Test
    void aNulInTheKeyIsA400WithTheEnvelope() throws IOException {
        Raw r = raw("GET /v1/batches HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + "\0x\r\nConnection: close\r\n\r\n");
        assertRefused(r, "Authorization", "invalid_value");
        assertFalse(r.body().contains(KEY_A), "the key is not echoed: " + r.body());
        // lower-case names are the same header
        assertRefused(raw("GET /v1/batches HTTP/1.1\r\nHost: localhost\r\nauthorization: Bearer \u0001" + KEY_A + "\r\n\r\n"),
                "Authorization", "invalid_value");
    }

    @Test
    void aControlCharacterInTheIdempotencyKeyIsA400WithTheEnvelope() throws IOException {
        String body = "{\"input_file_id\":\"file-x\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}";
        for (String bad : new String[] { "\0", "\u001b[31m", "a\u007fb", "\u000b" }) {
            Raw r = raw("POST /v1/batches HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + "\r\nIdempotency-Key: key" + bad
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body);
            assertRefused(r, "Idempotency-Key", "invalid_value");
        }
    }

    @Test
    void aControlCharacterInAnyOtherHeaderIsA400WithTheEnvelopeToo() throws IOException {
        assertRefused(raw("GET /v1/batches HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + "\r\nX-Trace: a\0b\r\n\r\n"),
                "X-Trace", "invalid_header");
        // a name HTTP does not allow is not echoed
        Raw r = raw("GET /v1/batches HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + "\r\nX-\u0001Bad: a\r\n\r\n");
        assertRefused(r, null, "invalid_header");
        // a Host that cannot be read, or none at all
        assertRefused(raw("GET /v1/batches HTTP/1.1\r\nHost: local\0host\r\nAuthorization: Bearer " + KEY_A + "\r\n\r\n"), "Host",
                "invalid_header");
        assertRefused(raw("GET /v1/batches HTTP/1.1\r\nAuthorization: Bearer " + KEY_A + "\r\n\r\n"), "Host", "invalid_header");
        // printable text and tabs inside other headers pass
        assertEquals(200, raw("GET /v1/batches HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A
                + "\r\nX-Trace: a\tb \u00e9\r\nConnection: close\r\n\r\n").status());
    }

    @Test
    void aResponseHeaderThatCouldSplitTheAnswerIsNeverWritten() {
        MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json").add("X-Echo", "a\r\nSet-Cookie: x=1")
                .add("X-Nul", "a\0b").add("Content-Disposition", "attachment; filename*=UTF-8''a%0D%0Ab.jsonl");
        HttpLayer.dropBadResponseHeaders(headers);
        assertEquals("application/json", headers.get("Content-Type"));
        assertNull(headers.get("X-Echo"));
        assertNull(headers.get("X-Nul"));
        assertEquals("attachment; filename*=UTF-8''a%0D%0Ab.jsonl", headers.get("Content-Disposition"));
        // and the service answers normally
        assertEquals(200, as(KEY_A).get("/v1/batches").statusCode());
    }
}
