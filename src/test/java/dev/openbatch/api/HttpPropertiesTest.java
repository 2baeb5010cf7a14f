package dev.openbatch.api;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Theories.anyChar;
import static dev.openbatch.testing.Theories.chars;
import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.pick;
import static dev.openbatch.testing.Theories.strings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.generators.SourceDSL.doubles;
import static org.quicktheories.generators.SourceDSL.integers;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.quicktheories.QuickTheory;
import org.quicktheories.api.Pair;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import dev.openbatch.testing.Envelope;
import dev.openbatch.testing.Theories;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;

/**
 * Generated HTTP edges (QuickTheories' generators, run from Quarkus tests): header values, JSON
 * bodies, multipart uploads, bodies around the limits with either framing. Whatever comes in:
 * never a 5xx, and every error carries the envelope.
 */
@QuarkusTest
class HttpPropertiesTest {
    static final Set<Integer> CLIENT_ERRORS = Set.of(400, 401, 404, 405, 409, 411, 413, 415, 422, 429);

    /** Strings a client might send: any char (lone surrogates, NUL, separators, BOM), or a long one. */
    static Gen<String> oddStrings() {
        return Generate.oneOf(
                strings(anyChar(), 0, 40),
                lists(pick("\u0000", "\u2028", "\u2029", "\uFEFF", "\uD800", "\uDC00", "\u0085", "\"", "\\", "é", "😀", "a"), 0, 20)
                        .map(l -> String.join("", l)),
                strings(Generate.oneOf(chars('a', 'z'), chars('A', 'Z')), 5_000, 70_000),
                pick("24h", "unlimited", "/v1/chat/completions", "/v1/embeddings", "created_at", "batch", "file-x", "job-x"));
    }

    /** A run of {@code examples} HTTP exchanges: the seed's, and a few shrink steps, each one more request, on a failure. */
    static QuickTheory qt(int examples) {
        return Theories.qt(examples).withShrinkCycles(200);
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || Character.isSurrogate(c)) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static final List<String> FIELDS = List.of("input_file_id", "endpoint", "completion_window", "metadata", "job_id",
            "output_expires_after", "anchor", "seconds", "name", "model", "priority", "max_concurrency", "description");

    static Gen<String> json(int depth) {
        Gen<String> leaf = Generate.oneOf(
                pick("null", "true", "false", "0", "-0", "1e400", "-1e400", "1e-400", "123456789012345678901234567890",
                        "9223372036854775808", "-9223372036854775809", "2147483648", "1.5", "-1", "3600", "\"\"", "{}", "[]"),
                integers().all().map(i -> Integer.toString(i)),
                doubles().any().map(d -> Double.isFinite(d) ? String.valueOf(d) : "0.5"),
                oddStrings().map(HttpPropertiesTest::quote));
        if (depth == 0) {
            return leaf;
        }
        Gen<String> inner = json(depth - 1);
        Gen<String> key = Generate.oneOf(Generate.pick(FIELDS), oddStrings());
        return Generate.frequency(
                Pair.of(3, leaf),
                Pair.of(1, lists(inner, 0, 4).map(l -> "[" + String.join(",", l) + "]")),
                Pair.of(2, lists(key.zip(inner, (k, v) -> quote(k) + ":" + v), 0, 5).map(l -> "{" + String.join(",", l) + "}")));
    }

    /** Request bodies: objects with the API's fields holding anything, deep nesting, and text that is not JSON at all. */
    static Gen<String> bodies() {
        Gen<String> objects = lists(Generate.pick(FIELDS).zip(json(3), (k, v) -> quote(k) + ":" + v), 0, 7)
                .map(l -> "{" + String.join(",", l) + "}");
        Gen<String> deep = Generate.range(1, 5_000).zip(pick("[", "{\"metadata\":"),
                (n, open) -> open.repeat(n) + "1" + (open.equals("[") ? "]" : "}").repeat(n));
        return Generate.frequency(Pair.of(6, objects), Pair.of(2, json(4)), Pair.of(1, deep), Pair.of(1, oddStrings()))
                .describedAs(HttpPropertiesTest::shorten);
    }

    static void assertHandled(String what, int status, String body) {
        assertTrue(status < 500, () -> what + " -> " + status + " " + body);
        if (status >= 400) {
            assertTrue(CLIENT_ERRORS.contains(status), () -> what + " -> " + status + " " + body);
            JsonPath json = JsonPath.from(body);
            Map<String, Object> error = json.getMap("error");
            assertEquals(Set.of("error"), json.getMap("$").keySet(), body);
            assertEquals(Set.of("message", "type", "param", "code"), error.keySet(), body);
            assertTrue(error.get("message") instanceof String m && !m.isBlank(), body);
            Envelope.assertClean(body);
        }
    }

    static String shorten(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...(" + s.length() + " chars)";
    }

    @Test
    void generatedJsonBodiesNeverGetA5xx() {
        qt(200).forAll(bodies()).checkAssert(body -> {
            for (String path : List.of("/v1/batches", "/v1/jobs")) {
                Response r = as(KEY_A).contentType("application/json; charset=UTF-8").body(body.getBytes(StandardCharsets.UTF_8)).post(path);
                assertHandled("POST " + path + " " + shorten(body), r.statusCode(), r.asString());
            }
        });
    }

    @Test
    void generatedUploadsNeverGetA5xx() {
        Gen<byte[]> contents = Theories.bytes(4_000);
        Gen<String> purposes = Generate.oneOf(pick("batch", "user_data", "evals", ""), oddStrings().map(s -> s.length() > 100 ? s.substring(0, 100) : s));
        Gen<String> names = Generate.oneOf(pick("in.jsonl", "a\"b.jsonl", "x"), oddStrings().map(s -> s.length() > 200 ? s.substring(0, 200) : s));
        qt(100).forAll(contents, purposes, names, Generate.range(0, 3)).checkAssert((content, purpose, name, shape) -> {
            var req = as(KEY_A);
            if (shape != 1) {
                req = req.multiPart("file", name.isEmpty() ? "f" : name, content, "application/octet-stream");
            }
            if (shape != 2) {
                req = req.multiPart("purpose", purpose);
            }
            if (shape == 3) {
                req = req.multiPart("expires_after[seconds]", name).multiPart("expires_after[anchor]", purpose);
            }
            Response r = req.post("/v1/files");
            assertHandled("upload shape " + shape + " purpose " + shorten(purpose) + " name " + shorten(name), r.statusCode(), r.asString());
        });
    }

    /** One raw HTTP/1.1 request with the given header value (bytes as ISO-8859-1: anything but CR and LF). */
    static String[] rawGet(String header, String value) throws IOException {
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            s.setSoTimeout(30_000);
            String head = "GET /v1/batches HTTP/1.1\r\nHost: localhost\r\n"
                    + (header.equals("Authorization") ? "" : "Authorization: Bearer " + KEY_A + "\r\n")
                    + header + ": " + value + "\r\nConnection: close\r\n\r\n";
            s.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            in.transferTo(out);
            String raw = out.toString(StandardCharsets.UTF_8);
            int end = raw.indexOf("\r\n\r\n");
            return new String[] { raw.substring(9, 12), end < 0 ? "" : raw.substring(end + 4) };
        }
    }

    @Test
    void generatedHeaderValuesNeverGetA5xx() {
        Gen<String> values = Generate.oneOf(
                strings(chars('\u0000', '\u00ff', "\r\n"), 0, 60),
                strings(chars(' ', '~'), 1000, 30_000),
                strings(chars('\u0080', '\u00ff'), 0, 30));
        Gen<String[]> headers = pick("Authorization", "Idempotency-Key").zip(values, pick("", "Bearer ", "Bearer " + KEY_A),
                (h, v, prefix) -> new String[] { h, prefix + v });
        qt(200).forAll(headers.describedAs(hv -> hv[0] + ": " + Theories.printable(hv[1]))).checkAssert(hv -> {
                    String[] answer;
                    try {
                        answer = rawGet(hv[0], hv[1]);
                    } catch (IOException e) {
                        throw new AssertionError(hv[0] + ": " + shorten(hv[1]), e);
                    }
                    int status = Integer.parseInt(answer[0]);
                    String what = hv[0] + ": " + shorten(hv[1].chars().mapToObj(c -> c < 0x20 || c == 0x7f ? String.format("\\x%02x", c) : String.valueOf((char) c))
                            .collect(Collectors.joining()));
                    String trimmed = hv[1].strip();
                    if (nettyRefusesTheSeparator(hv[1])) {
                        // Netty's header parser itself refuses a vertical tab, form feed or an information separator
                        // right after the colon ("only a single space or horizontal tab allowed"), before any hook:
                        // a 400 without a body (see HttpLayer)
                        assertEquals(400, status, what);
                        return;
                    }
                    assertHandled(what, status, answer[1]);
                    boolean control = hv[1].chars().anyMatch(c -> (c < 0x20 && c != '\t') || c == 0x7f);
                    if (control || trimmed.chars().anyMatch(c -> c == '\t')) {
                        // a NUL or another control character is refused with the envelope, naming the header
                        assertEquals(400, status, what);
                        assertEquals(hv[0], JsonPath.from(answer[1]).getString("error.param"), what);
                        assertEquals("invalid_value", JsonPath.from(answer[1]).getString("error.code"), what);
                    }
                });
    }

    /** Whether the first character of {@code value} after spaces and tabs is one Java counts as whitespace and HTTP does not. */
    static boolean nettyRefusesTheSeparator(String value) {
        String rest = value.replaceFirst("^[ \t]+", "");
        return !rest.isEmpty() && Character.isWhitespace(rest.charAt(0)) && rest.charAt(0) != ' ' && rest.charAt(0) != '\t'
                && rest.charAt(0) != '\r' && rest.charAt(0) != '\n';
    }

    @Test
    void bodiesAroundTheLimitAre413ExactlyWhenOverWithEitherFraming() {
        long limit = 1024 * 1024;
        qt(12).forAll(Generate.longRange(limit - 2_000, limit + 300_000)).checkAssert(size -> {
            byte[] head = "{\"name\":\"".getBytes(StandardCharsets.UTF_8);
            byte[] tail = "\"}".getBytes(StandardCharsets.UTF_8);
            long filler = size - head.length - tail.length;
            byte[] body = new byte[(int) size.longValue()];
            System.arraycopy(head, 0, body, 0, head.length);
            java.util.Arrays.fill(body, head.length, head.length + (int) filler, (byte) 'n');
            System.arraycopy(tail, 0, body, head.length + (int) filler, tail.length);
            Response sized = as(KEY_A).contentType("application/json").body(body).post("/v1/jobs");
            assertHandled("Content-Length " + size, sized.statusCode(), sized.asString());
            assertEquals(size > limit, sized.statusCode() == 413, "Content-Length " + size + " -> " + sized.statusCode());
            BodyLimitsTest.Exchange chunked;
            try {
                chunked = BodyLimitsTest.chunked("/v1/jobs", "application/json", head, (byte) 'n', size - tail.length, tail);
            } catch (Exception e) {
                throw new AssertionError("chunked " + size, e);
            }
            assertHandled("chunked " + size, chunked.status(), chunked.body());
            assertEquals(size > limit, chunked.status() == 413, "chunked " + size + " -> " + chunked.status());
        });
    }
}
