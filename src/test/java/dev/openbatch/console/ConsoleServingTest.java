package dev.openbatch.console;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;

/**
 * The console is served by the service itself, at {@code /}, without a key, with everything it
 * needs in the jar: no file it names is fetched from anywhere else, and every module it imports
 * is there. Its answers carry a Content-Security-Policy without inline script or style; the API
 * stays behind its key and answers no other origin (no CORS).
 */
@QuarkusTest
class ConsoleServingTest {
    static final Path ROOT = Path.of("src/main/resources/META-INF/resources");
    /** A module import or a stylesheet/script/icon reference: {@code from './x.js'}, {@code src="console/app.js"}, {@code url("icon.svg")}. */
    private static final Pattern REFERENCE = Pattern.compile("(?:from\\s+'([^']+)'|(?:src|href)=\"([^\"#][^\"]*)\"|url\\(\"([^\"]+)\"\\))");

    @Test
    void thePageIsServedWithoutAKeyWithAPolicyThatForbidsInlineCode() {
        Response page = given().get("/");
        assertEquals(200, page.statusCode(), page.asString());
        assertTrue(page.contentType().startsWith("text/html"), page.contentType());
        assertTrue(page.asString().contains("<script type=\"module\" src=\"console/app.js\">"), "the console's entry module");
        String policy = page.header("Content-Security-Policy");
        assertNotNull(policy, "a Content-Security-Policy on the page");
        assertFalse(policy.contains("unsafe-inline") || policy.contains("unsafe-eval"), policy);
        assertTrue(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("connect-src 'self'")
                && policy.contains("frame-ancestors 'none'"), policy);
        assertEquals("nosniff", page.header("X-Content-Type-Options"));
        assertEquals("no-referrer", page.header("Referrer-Policy"));
        assertEquals("no-cache", page.header("Cache-Control"), "an upgraded service's console is never mixed with old cached modules");
        // the same page under its own name
        assertEquals(200, given().get("/index.html").statusCode());
    }

    @Test
    void everyFileTheConsoleNamesIsServedFromTheServiceItself() throws IOException {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(ROOT)) {
            files = walk.filter(Files::isRegularFile).toList();
        }
        assertTrue(files.size() >= 10, "the console's files: " + files);
        List<String> checked = new ArrayList<>();
        for (Path file : files) {
            String rel = ROOT.relativize(file).toString().replace('\\', '/');
            Response r = given().get("/" + rel);
            assertEquals(200, r.statusCode(), rel);
            assertNotNull(r.header("Content-Security-Policy"), rel);
            String type = r.contentType();
            if (rel.endsWith(".js")) {
                assertTrue(type.contains("javascript"), rel + " is served as a script (modules need it): " + type);
            } else if (rel.endsWith(".css")) {
                assertTrue(type.startsWith("text/css"), rel + ": " + type);
            }
            String text = Files.readString(file);
            // nothing from another origin: no CDN, no font service, no analytics
            Matcher remote = Pattern.compile("(?i)(https?:)?//[a-z0-9.-]+\\.[a-z]{2,}").matcher(text.replace("http://www.w3.org/2000/svg", ""));
            assertFalse(remote.find(), () -> rel + " names another origin: " + remote.group());
            Matcher m = REFERENCE.matcher(text);
            while (m.find()) {
                String ref = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
                Path target = file.getParent().resolve(ref).normalize();
                assertTrue(Files.isRegularFile(target), rel + " names " + ref + ", which is not in the jar");
                String served = "/" + ROOT.relativize(target).toString().replace('\\', '/');
                assertEquals(200, given().get(served).statusCode(), rel + " -> " + served);
                checked.add(served);
            }
        }
        assertTrue(checked.contains("/console/app.js") && checked.contains("/console/sections/actions.js"), "references followed: " + checked);
    }

    @Test
    void theApiStillNeedsItsKeyAndAnswersNoOtherOrigin() {
        assertEnvelope(given().get("/v1/batches"), 401, null, "invalid_api_key");
        assertEquals(200, as(KEY_A).get("/v1/batches").statusCode());
        // a page of another origin may not read the API's answers: no CORS headers, preflight or not
        Response preflight = given().header("Origin", "https://elsewhere.example").header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "authorization").options("/v1/batches");
        assertNull(preflight.header("Access-Control-Allow-Origin"), preflight.headers().toString());
        Response read = as(KEY_A).header("Origin", "https://elsewhere.example").get("/v1/batches");
        assertEquals(200, read.statusCode());
        assertNull(read.header("Access-Control-Allow-Origin"), read.headers().toString());
        // the API's answers keep their own headers
        assertNull(read.header("Content-Security-Policy"));
    }

    @Test
    void onlyPagesOutsideTheApiAreConsole() {
        assertTrue(ConsoleHeaders.isConsole("/"));
        assertTrue(ConsoleHeaders.isConsole("/console/app.js"));
        assertFalse(ConsoleHeaders.isConsole("/v1/batches"));
        assertFalse(ConsoleHeaders.isConsole("/v1"));
        assertFalse(ConsoleHeaders.isConsole("/q/openapi"));
    }
}
