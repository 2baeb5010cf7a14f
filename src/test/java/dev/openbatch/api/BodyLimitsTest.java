package dev.openbatch.api;
import dev.openbatch.outbound.Exchange;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import jakarta.inject.Inject;

/**
 * Request bodies of unknown length (chunked) are held to the same limits as those with a
 * Content-Length: 413 with the envelope as soon as the limit is passed, and the server stops
 * taking the body (the client cannot push hundreds of megabytes, nothing past the limit is spooled).
 */
@QuarkusTest
class BodyLimitsTest {
    static final long UPLOAD_LIMIT = 8 * 1024 * 1024; // %test.openbatch.limits.max-upload-bytes
    static final long REQUEST_LIMIT = 1024 * 1024;
    /** What the client may get into the socket buffers and the server's drain beyond a limit; far below what it tries to send. */
    static final long MARGIN = 48L * 1024 * 1024;
    static final long HUGE = 300L * 1024 * 1024;
    static final Path UPLOADS = Path.of(System.getProperty("java.io.tmpdir"), "openbatch-uploads");

    @Inject
    Vertx vertx;

    /** One raw HTTP/1.1 exchange with a chunked body: what came back, and how many body bytes the client got out. */
    record Exchange(int status, String body, long sent) {
        JsonPath json() {
            return JsonPath.from(body);
        }
    }

    /**
     * Sends a chunked body (the prefix, then filler bytes up to {@code total}) from one thread while
     * another reads the answer, the way a client that reads early does. The writer stops when the
     * server no longer takes bytes (the connection closed) or the body is complete.
     */
    static Exchange chunked(String path, String contentType, byte[] prefix, byte filler, long total, byte[] suffix) throws Exception {
        try (Socket socket = new Socket("localhost", RestAssured.port)) {
            socket.setSoTimeout(60_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + "\r\nContent-Type: " + contentType
                    + "\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            AtomicLong sent = new AtomicLong();
            Thread writer = new Thread(() -> {
                byte[] chunk = new byte[64 * 1024];
                Arrays.fill(chunk, filler);
                try {
                    writeChunk(out, prefix, prefix.length);
                    sent.addAndGet(prefix.length);
                    while (sent.get() < total) {
                        int n = (int) Math.min(chunk.length, total - sent.get());
                        writeChunk(out, chunk, n);
                        sent.addAndGet(n);
                    }
                    writeChunk(out, suffix, suffix.length);
                    sent.addAndGet(suffix.length);
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (IOException e) {
                    // the server closed the connection: the point of the exercise
                }
            });
            writer.start();
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) > 0;) {
                    answer.write(buf, 0, n);
                    if (complete(answer.toString(StandardCharsets.ISO_8859_1))) {
                        break;
                    }
                }
            } catch (IOException e) {
                // a reset after the answer
            }
            writer.join(TimeUnit.SECONDS.toMillis(60));
            String raw = answer.toString(StandardCharsets.UTF_8);
            assertTrue(raw.startsWith("HTTP/1.1 "), () -> "no answer: " + raw);
            int status = Integer.parseInt(raw.substring(9, 12));
            return new Exchange(status, raw.substring(raw.indexOf("\r\n\r\n") + 4), sent.get());
        }
    }

    private static void writeChunk(OutputStream out, byte[] data, int n) throws IOException {
        if (n == 0) {
            return;
        }
        out.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(data, 0, n);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** The answer's head and as many body bytes as its Content-Length says have arrived. */
    private static boolean complete(String raw) {
        int end = raw.indexOf("\r\n\r\n");
        if (end < 0) {
            return false;
        }
        for (String line : raw.substring(0, end).split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                return raw.length() - end - 4 >= Integer.parseInt(line.substring(15).trim());
            }
        }
        return false;
    }

    static void assertTooLarge(Exchange e, String param, String code, long limit) {
        assertEquals(413, e.status(), e.body());
        assertEquals(param, e.json().getString("error.param"), e.body());
        assertEquals(code, e.json().getString("error.code"), e.body());
        assertEquals("invalid_request_error", e.json().getString("error.type"), e.body());
        assertTrue(e.json().getString("error.message").contains(Long.toString(limit - (param == null ? 0 : HttpLayer.MULTIPART_SLACK))),
                e.body());
        assertTrue(e.sent() < limit + MARGIN, () -> "the server took " + e.sent() + " bytes of a body over " + limit);
    }

    @Test
    void aChunkedJsonBodyOverTheLimitIs413AndTheServerStopsTakingIt() throws Exception {
        byte[] head = "{\"input_file_id\":\"".getBytes(StandardCharsets.UTF_8);
        for (String path : new String[] { "/v1/batches", "/v1/jobs" }) {
            Exchange e = chunked(path, "application/json", head, (byte) 'a', HUGE, "\"}".getBytes(StandardCharsets.UTF_8));
            assertTooLarge(e, null, "request_too_large", REQUEST_LIMIT);
        }
        // and the server goes on serving
        as(KEY_A).get("/v1/batches").then().statusCode(200);
    }

    @Test
    void aChunkedJsonBodyJustOverTheLimitGetsItsAnswerWhenTheClientWritesFirst() throws Exception {
        // 100 KiB over: the client has written it all before it reads, and still hears 413
        Exchange e = chunked("/v1/jobs", "application/json", "{\"name\":\"".getBytes(StandardCharsets.UTF_8), (byte) 'n',
                REQUEST_LIMIT + 100 * 1024, "\"}".getBytes(StandardCharsets.UTF_8));
        assertTooLarge(e, null, "request_too_large", REQUEST_LIMIT);
    }

    @Test
    void aChunkedJsonBodyWithinTheLimitIsRead() throws Exception {
        // judged on its content, like the same body with a Content-Length (ErrorEnvelopeTest)
        Exchange e = chunked("/v1/jobs", "application/json", "{\"name\":\"".getBytes(StandardCharsets.UTF_8), (byte) 'n',
                REQUEST_LIMIT - 20, "\"}".getBytes(StandardCharsets.UTF_8));
        assertEquals(400, e.status(), e.body());
        assertEquals("name", e.json().getString("error.param"), e.body());
        Exchange ok = chunked("/v1/jobs", "application/json", "{\"name\":\"chunked\"".getBytes(StandardCharsets.UTF_8), (byte) ' ',
                1000, "}".getBytes(StandardCharsets.UTF_8));
        assertEquals(200, ok.status(), ok.body());
        assertEquals("chunked", ok.json().getString("name"), ok.body());
    }

    @Test
    void aChunkedUploadOverTheLimitIs413AndIsNotSpooledPastIt() throws Exception {
        Files.createDirectories(UPLOADS);
        long before = spooled();
        AtomicLong most = new AtomicLong();
        AtomicBoolean watching = new AtomicBoolean(true);
        Thread watcher = new Thread(() -> {
            while (watching.get()) {
                most.accumulateAndGet(spooled() - before, Math::max);
            }
        });
        watcher.start();
        String boundary = "b0undary";
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--" + boundary
                + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        Exchange e;
        try {
            e = chunked("/v1/files", "multipart/form-data; boundary=" + boundary, head, (byte) 'x', HUGE,
                    ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        } finally {
            Thread.sleep(500);
            watching.set(false);
            watcher.join();
        }
        assertTooLarge(e, "file", "file_too_large", UPLOAD_LIMIT + HttpLayer.MULTIPART_SLACK);
        assertTrue(most.get() <= UPLOAD_LIMIT + HttpLayer.MULTIPART_SLACK, "the spool grew to " + most.get() + " bytes");
        // what was spooled of it is gone
        long end = System.currentTimeMillis() + 10_000;
        while (spooled() > before && System.currentTimeMillis() < end) {
            Thread.sleep(100);
        }
        assertEquals(before, spooled(), "spooled bytes left behind");
        as(KEY_A).get("/v1/files").then().statusCode(200);
    }

    @Test
    void aCompleteUploadFollowedByMoreThanTheLimitStoresNothing() throws Exception {
        // a well-formed multipart message within the limit, then an epilogue that takes the body over it
        String boundary = "b0undary";
        String name = "epilogue-" + System.nanoTime() + ".jsonl";
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n--" + boundary
                + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name + "\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                + "x".repeat(1024) + "\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII);
        Exchange e = chunked("/v1/files", "multipart/form-data; boundary=" + boundary, head, (byte) ' ', HUGE, new byte[0]);
        assertTooLarge(e, "file", "file_too_large", UPLOAD_LIMIT + HttpLayer.MULTIPART_SLACK);
        Thread.sleep(500);
        assertTrue(as(KEY_A).queryParam("purpose", "user_data").get("/v1/files").then().statusCode(200).extract().jsonPath()
                .getList("data.filename").stream().noneMatch(name::equals), "a file was stored from a refused body");
    }

    @Test
    void aBodyOfUnknownLengthOverHttp2Is411() throws Exception {
        var client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
        try {
            var response = client.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("localhost").setPort(RestAssured.port)
                    .setURI("/v1/jobs").addHeader("Authorization", "Bearer " + KEY_A).addHeader("Content-Type", "application/json"))
                    .compose(req -> {
                        req.setChunked(true);
                        req.write("{\"name\":");
                        return req.end("\"h2\"}").compose(v -> req.response());
                    })
                    .compose(resp -> resp.body().map(body -> new Object[] { resp.version(), resp.statusCode(), body.toString() }))
                    .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(io.vertx.core.http.HttpVersion.HTTP_2, response[0]);
            assertEquals(411, response[1], (String) response[2]);
            assertEquals("length_required", JsonPath.from((String) response[2]).getString("error.code"));
        } finally {
            client.close();
        }
    }

    @Test
    void aControlCharacterInAHeaderWeReadIs400WithTheEnvelope() {
        // a tab is the one control character the HTTP codec lets through (it refuses the others itself, without a body)
        String m = assertEnvelope(as(KEY_A).header("Idempotency-Key", "a\tb").contentType("application/json").body("{}").post("/v1/batches"),
                400, "Idempotency-Key", "invalid_value");
        assertTrue(m.contains("control character"), m);
        assertEnvelope(RestAssured.given().header("Authorization", "Bearer\t" + KEY_A).get("/v1/batches"), 400, "Authorization", "invalid_value");
    }

    /** Bytes in the upload spool directory now. */
    private static long spooled() {
        try (Stream<Path> files = Files.list(UPLOADS)) {
            return files.mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0; // deleted meanwhile
                }
            }).sum();
        } catch (IOException e) {
            return 0;
        }
    }
}
