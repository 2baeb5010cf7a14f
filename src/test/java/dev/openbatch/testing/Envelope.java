package dev.openbatch.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;

import io.restassured.response.Response;

/** Checks that an answer is the OpenAI error envelope, and nothing a client should not see. */
public final class Envelope {
    private Envelope() {
    }

    /**
     * Asserts the status, the envelope's exact keys, a message a person can act on, the expected
     * {@code param} and {@code code}, and no class names or stack traces. Returns the message.
     */
    public static String assertEnvelope(Response r, int status, String param, String code) {
        String body = r.asString();
        assertEquals(status, r.statusCode(), () -> "status; body: " + body);
        assertTrue(r.contentType() != null && r.contentType().startsWith("application/json"), () -> "content type " + r.contentType());
        assertClean(body);
        Map<String, Object> root = r.jsonPath().getMap("$");
        assertEquals(Set.of("error"), root.keySet(), body);
        Map<String, Object> error = r.jsonPath().getMap("error");
        assertEquals(Set.of("message", "type", "param", "code"), error.keySet(), body);
        String message = (String) error.get("message");
        assertNotNull(message, body);
        assertTrue(message.length() >= 15, () -> "a message a person can act on: " + body);
        assertNotNull(error.get("type"), body);
        assertEquals(param, error.get("param"), () -> "param; body: " + body);
        if (code != null) {
            assertEquals(code, error.get("code"), () -> "code; body: " + body);
        }
        return message;
    }

    /** No exception class names, Java packages or stack frames in a body. */
    public static void assertClean(String body) {
        assertFalse(body.contains("Exception"), () -> "class name in body: " + body);
        assertFalse(body.contains("java."), () -> "Java package in body: " + body);
        assertFalse(body.contains("at dev."), () -> "stack frame in body: " + body);
        assertFalse(body.contains("io.vertx") || body.contains("io.quarkus") || body.contains("org.jboss"), () -> "package in body: " + body);
    }
}
