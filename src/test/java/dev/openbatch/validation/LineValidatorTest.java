package dev.openbatch.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The line rules on their own, including lines in the middle of a larger buffer. */
class LineValidatorTest {
    private static final String CHAT = "/v1/chat/completions";

    private static LineValidator.Result check(LineValidator v, String prefix, String line, String suffix, int n) {
        byte[] buf = (prefix + line + suffix).getBytes(StandardCharsets.UTF_8);
        int from = prefix.getBytes(StandardCharsets.UTF_8).length;
        return v.check(buf, from, from + line.getBytes(StandardCharsets.UTF_8).length, n);
    }

    @Test
    void keepsTheBodyExactlyAsWrittenWhereverTheLineSitsInTheBuffer() {
        LineValidator v = new LineValidator(CHAT);
        String body = "{ \"model\" : \"m\",\"temperature\":0.10,\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9 \\\"q\\\" é\"}] }";
        String line = "{\"custom_id\":\"x\",\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":" + body + "}";
        LineValidator.Result r = check(v, "{\"previous\":\"line é\"}\n", line, "\n{\"next\":1}", 2);
        assertNull(r.error());
        assertEquals(body, r.line().body());
        assertEquals("x", r.line().customId());
        assertEquals(2, r.line().line());
        assertEquals("m", v.model());
    }

    @Test
    void namesLineParamAndCodeForEachRule() {
        LineValidator v = new LineValidator(CHAT);
        String ok = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"model\":\"m\"}}";
        assertNull(check(v, "", ok, "", 1).error());
        assertError(check(v, "", "not json", "", 2), 2, null, "invalid_json_line");
        assertError(check(v, "", "[1,2]", "", 3), 3, null, "invalid_json_line");
        assertError(check(v, "", "{\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"model\":\"m\"}}", "", 4), 4, "custom_id",
                "missing_required_parameter");
        assertError(check(v, "", ok, "", 5), 5, "custom_id", "duplicate_custom_id");
        assertError(check(v, "", ok.replace("\"a\"", "\"b\"").replace("POST", "GET"), "", 6), 6, "method", "invalid_method");
        assertError(check(v, "", ok.replace("\"a\"", "\"c\"").replace(CHAT, "/v1/embeddings"), "", 7), 7, "url", "invalid_url");
        assertError(check(v, "", "{\"custom_id\":\"d\",\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"x\":1}}", "", 8), 8,
                "body.model", "missing_required_parameter");
        assertError(check(v, "", ok.replace("\"a\"", "\"e\"").replace("\"m\"", "\"other\""), "", 9), 9, "body.model", "mismatched_model");
        assertError(check(v, "", "{\"custom_id\":\"f\",\"method\":\"POST\",\"url\":\"" + CHAT + "\"}", "", 10), 10, "body",
                "missing_required_parameter");
        assertError(check(v, "", ok + " {}", "", 11), 11, null, "invalid_json_line");
    }

    private static void assertError(LineValidator.Result r, int line, String param, String code) {
        assertNull(r.line());
        assertEquals(line, r.error().line());
        assertEquals(param, r.error().param());
        assertEquals(code, r.error().code());
    }
}
