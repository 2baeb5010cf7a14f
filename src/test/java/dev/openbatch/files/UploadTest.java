package dev.openbatch.files;
import dev.openbatch.store.FileStore;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * Uploads stored as their body arrives: a batch file's line index is made on the way, a body cut
 * off half-way leaves nothing behind and gives its connection back, a malformed one is refused.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class UploadTest {
    private static final String CHAT = "/v1/chat/completions";
    static final String BOUNDARY = "t3st-b0undary";

    @Inject
    Pool pool;
    @Inject
    UploadSlots slots;

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** A multipart body: the parts in the order given, each "name" then its bytes (a part named file gets a filename). */
    static byte[] multipart(Object... nameAndContent) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < nameAndContent.length; i += 2) {
            String name = (String) nameAndContent[i];
            byte[] content = nameAndContent[i + 1] instanceof byte[] b ? b : ((String) nameAndContent[i + 1]).getBytes(StandardCharsets.UTF_8);
            out.writeBytes(("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"" + name + "\""
                    + ("file".equals(name) ? "; filename=\"u.jsonl\"\r\nContent-Type: application/jsonl" : "") + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.writeBytes(content);
            out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes(("--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private static HttpResponse<String> post(byte[] body, String contentType) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + RestAssured.port + "/v1/files"))
                .header("Authorization", "Bearer " + KEY_A).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(request, HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(byte[] body) throws Exception {
        return post(body, "multipart/form-data; boundary=" + BOUNDARY);
    }

    private long count(String sql, Object... args) {
        return pool.preparedQuery(sql).execute(Tuple.from(args)).await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.currentTimeMillis() + 30_000;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("timed out waiting: " + what);
            }
            Thread.sleep(50);
        }
    }

    /** A batch file of {@code n} chat lines of about {@code bytes} bytes each, with non-ASCII text and CRLF endings. */
    static String batchFile(String run, int n, int bytes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= n; i++) {
            String head = "{\"custom_id\":\"" + run + "-" + i + "\",\"method\":\"POST\",\"url\":\"" + CHAT
                    + "\",\"body\":{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"é ";
            sb.append(head).append("x".repeat(Math.max(1, bytes - head.length()))).append("\"}]}}\r\n");
        }
        return sb.toString();
    }

    @Test
    void aBatchFileIsIndexedOnTheWayInWhereverItsPurposeComes() throws Exception {
        String r = run();
        // the file before its purpose (as rest-assured and some SDKs send it), over two chunks
        String text = batchFile(r, 300, 7000);
        HttpResponse<String> up = post(multipart("file", text, "purpose", "batch"));
        assertEquals(200, up.statusCode(), up.body());
        String id = JsonPath.from(up.body()).getString("id");
        assertEquals(300, count("select count(*) from file_lines where file_id = $1 and error_code is null", id));
        assertTrue(count("select count(*) from file_chunks where file_id = $1", id) >= 2);
        assertEquals(0, count("select count(*) from file_chunks where file_id = $1 and octet_length(data) > $2", id, FileStore.CHUNK));
        // each chunk ends at a line break, and together they are the file
        assertEquals(0, count("select count(*) from file_chunks where file_id = $1 and get_byte(data, octet_length(data) - 1) <> 10", id));
        assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), as(KEY_A).get("/v1/files/" + id + "/content").then().statusCode(200)
                .extract().asByteArray());
        String index = pool.preparedQuery("select line_index from files where id = $1").execute(Tuple.of(id)).await().atMost(Duration.ofSeconds(10))
                .iterator().next().getString(0);
        assertEquals(FileIngest.key(16777216, 50000, 100) + " complete", index);

        // the batch is made from the index: its rows point at each line's body in the file, byte for byte
        String batch = Api.createBatch(KEY_A, id, CHAT, null).getString("id");
        JsonPath b = Api.await(KEY_A, batch, p -> Set.of("in_progress", "finalizing", "completed").contains(p.getString("status")),
                Duration.ofSeconds(60));
        assertEquals(300, b.getInt("request_counts.total"));
        List<Row> rows = new ArrayList<>();
        pool.preparedQuery(Api.ROWS_WITH_BODIES).execute(Tuple.of(batch))
                .await().atMost(Duration.ofSeconds(10)).forEach(rows::add);
        String[] lines = text.split("\r\n");
        for (int i = 0; i < 300; i++) {
            assertEquals(i + 1, rows.get(i).getInteger(0));
            assertEquals(r + "-" + (i + 1), rows.get(i).getString(1));
            assertEquals(lines[i].substring(lines[i].indexOf("\"body\":") + 7, lines[i].length() - 1), rows.get(i).getString(2));
        }
        Api.awaitStatus(KEY_A, batch, "completed", Duration.ofSeconds(60));

        // a file of another purpose keeps no index, even when its purpose comes after it
        HttpResponse<String> other = post(multipart("file", text, "purpose", "user_data"));
        assertEquals(200, other.statusCode(), other.body());
        String otherId = JsonPath.from(other.body()).getString("id");
        assertEquals(0, count("select count(*) from file_lines where file_id = $1", otherId));
        assertNull(pool.preparedQuery("select line_index from files where id = $1").execute(Tuple.of(otherId)).await()
                .atMost(Duration.ofSeconds(10)).iterator().next().getString(0));
    }

    @Test
    void aFileIndexedUnderOtherLimitsIsReadInstead() {
        String r = run();
        String id = Api.upload(KEY_A, batchFile(r, 3, 200) + "{oops\n");
        // as if it had been uploaded under other limits: the index does not serve, the file is read
        pool.preparedQuery("update files set line_index = 'v1 1 1 1 complete' where id = $1").execute(Tuple.of(id)).await()
                .atMost(Duration.ofSeconds(10));
        String batch = Api.createBatch(KEY_A, id, CHAT, null).getString("id");
        JsonPath b = Api.await(KEY_A, batch, p -> !"validating".equals(p.getString("status")), Duration.ofSeconds(60));
        assertEquals("failed", b.getString("status"));
        assertEquals(List.of(4), b.getList("errors.data.line"));
        assertEquals(List.of("invalid_json_line"), b.getList("errors.data.code"));
    }

    @Test
    void aBodyThatIsNotValidUtf8FailsItsLine() throws Exception {
        String r = run();
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.writeBytes((Api.chatLine(r + "-1", "fake-model", null) + "\n").getBytes(StandardCharsets.UTF_8));
        // an overlong form of '/' inside a string: the JSON parser lets it through, PostgreSQL's text would not
        file.writeBytes(("{\"custom_id\":\"" + r + "-2\",\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"model\":\"fake-model\",\"t\":\"")
                .getBytes(StandardCharsets.UTF_8));
        file.writeBytes(new byte[] { (byte) 0xc0, (byte) 0xaf });
        file.writeBytes("\"}}\n".getBytes(StandardCharsets.UTF_8));
        String id = Api.upload(KEY_A, file.toByteArray(), "bad.jsonl", "batch");
        String batch = Api.createBatch(KEY_A, id, CHAT, null).getString("id");
        JsonPath b = Api.await(KEY_A, batch, p -> !"validating".equals(p.getString("status")), Duration.ofSeconds(60));
        assertEquals("failed", b.getString("status"), b::prettify);
        assertEquals(List.of(2), b.getList("errors.data.line"));
        assertEquals(List.of("invalid_json_line"), b.getList("errors.data.code"));
    }

    @Test
    void anUploadCutOffHalfWayLeavesNothingAndGivesItsConnectionBack() throws Exception {
        String r = run();
        byte[] body = multipart("purpose", "batch", "file", batchFile(r, 1000, 5000));
        long files = count("select count(*) from files");
        long chunks = count("select count(*) from file_chunks");
        long lines = count("select count(*) from file_lines");
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A
                    + "\r\nContent-Type: multipart/form-data; boundary=" + BOUNDARY + "\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body, 0, body.length / 2); // two and a half MiB: chunks and index lines are written
            out.flush();
            await(() -> count("select count(*) from pg_stat_activity where state = 'idle in transaction' and datname = current_database()") > 0
                    || slots.taken() > 0, "the upload to start");
            await(() -> slots.taken() == 1, "the upload to hold a slot");
        }
        await(() -> slots.taken() == 0, "the slot to be given back");
        assertEquals(files, count("select count(*) from files"));
        assertEquals(chunks, count("select count(*) from file_chunks"));
        assertEquals(lines, count("select count(*) from file_lines"));
        await(() -> count("select count(*) from pg_stat_activity where state like 'idle in transaction%' and datname = current_database()") == 0,
                "no transaction left open");
        // and the next upload goes through
        Api.upload(KEY_A, batchFile(r, 2, 100));
    }

    @Test
    void anUploadWaitsForItsSlotReadingNothing() throws Exception {
        String r = run();
        byte[] body = multipart("purpose", "batch", "file", batchFile(r, 10, 200));
        // hold every slot (as that many uploads in progress would)
        int held = 0;
        while (true) {
            boolean[] now = { false };
            slots.acquire("project-holder", () -> now[0] = true);
            if (!now[0]) {
                break; // this grant waits in the queue: it is given a slot back below
            }
            held++;
        }
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            s.setSoTimeout(1000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A
                    + "\r\nContent-Type: multipart/form-data; boundary=" + BOUNDARY + "\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            try {
                int b = in.read();
                throw new AssertionError("answered while every slot was taken: " + (char) b);
            } catch (java.net.SocketTimeoutException expected) {
                // no answer: it waits
            }
            // the queued grant of the loop above, then every slot we held (the first goes to the upload: its project waits, ours is over its share)
            slots.release("project-holder");
            for (int i = 0; i < held; i++) {
                slots.release("project-holder");
            }
            s.setSoTimeout(30_000);
            String head = new String(in.readNBytes(12), StandardCharsets.US_ASCII);
            assertEquals("HTTP/1.1 200", head);
        }
        await(() -> slots.taken() == 0, "every slot given back");
    }

    private static void assertInvalidBody(HttpResponse<String> r) {
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("invalid_body", JsonPath.from(r.body()).getString("error.code"), r.body());
        assertEquals("invalid_request_error", JsonPath.from(r.body()).getString("error.type"), r.body());
    }

    /** A client that asks before it sends the body (curl does, for large ones) is told to go on, once the upload has its slot. */
    @Test
    void expectContinueIsAnswered() throws Exception {
        byte[] body = multipart("purpose", "batch", "file", batchFile(run(), 3, 100));
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + "\r\nExpect: 100-continue"
                    + "\r\nContent-Type: multipart/form-data; boundary=" + BOUNDARY + "\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            assertEquals("HTTP/1.1 100 Continue\r\n\r\n", new String(in.readNBytes(25), StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            assertEquals("HTTP/1.1 200", new String(in.readNBytes(12), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void aMalformedBodyIs400AndStoresNothing() throws Exception {
        long files = count("select count(*) from files");
        byte[] full = multipart("purpose", "batch", "file", batchFile(run(), 3, 100));
        // cut before its closing delimiter, with a Content-Length that says so
        byte[] cut = java.util.Arrays.copyOf(full, full.length - 10);
        assertInvalidBody(post(cut));
        // a multipart Content-Type without a boundary
        assertInvalidBody(post(full, "multipart/form-data"));
        assertEquals(files, count("select count(*) from files"));
        await(() -> slots.taken() == 0, "every slot given back");
    }
}
