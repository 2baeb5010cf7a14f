package dev.openbatch.files;
import dev.openbatch.store.FileStore;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/** Downloads: streamed at the client's pace, named correctly whatever the file's name. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class DownloadTest {
    @Inject
    Pool pool;

    @TestHTTPResource("/")
    URL base;

    @AfterEach
    void cleanUp() {
        pool.query("delete from files where id like 'file-dl%'").execute().await().atMost(Duration.ofSeconds(30));
    }

    /** A file of project-a with {@code chunks} chunks of {@link FileStore#CHUNK} bytes, chunk i all letter 'A' + i % 26. */
    private String file(String filename, int chunks) {
        String id = "file-dl" + UUID.randomUUID().toString().replace("-", "").substring(0, 22);
        pool.withTransaction(tx -> tx.preparedQuery("insert into files (id, project, purpose, filename, bytes, status, created_at, created_us)"
                + " values ($1, 'project-a', 'user_data', $2, $3, 'processed', 0, 0)").execute(Tuple.of(id, filename, (long) chunks * FileStore.CHUNK))
                .chain(() -> tx.preparedQuery("insert into file_chunks (file_id, seq, data) select $1, s,"
                        + " convert_to(repeat(chr(65 + s % 26), " + FileStore.CHUNK + "), 'UTF8') from generate_series(0, $2 - 1) s")
                        .execute(Tuple.of(id, chunks))))
                .await().atMost(Duration.ofSeconds(60));
        return id;
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            if (c != '\r') {
                line.write(c);
            }
        }
        return line.toString(StandardCharsets.ISO_8859_1);
    }

    /** Reads {@code n} bytes of a chunked body into {@code out}; the number of bytes left in the current HTTP chunk. */
    private static int readBody(InputStream in, ByteArrayOutputStream out, long n, int leftInChunk) throws IOException {
        byte[] buf = new byte[8192];
        long read = 0;
        while (read < n) {
            if (leftInChunk == 0) {
                String size = readLine(in);
                if (size.isEmpty()) {
                    size = readLine(in); // the CRLF that ends the previous chunk
                }
                leftInChunk = Integer.parseInt(size.split(";")[0].trim(), 16);
                if (leftInChunk == 0) {
                    return -1;
                }
            }
            int got = in.read(buf, 0, (int) Math.min(buf.length, Math.min(leftInChunk, n - read)));
            if (got < 0) {
                throw new IOException("connection closed");
            }
            out.write(buf, 0, got);
            read += got;
            leftInChunk -= got;
        }
        return leftInChunk;
    }

    @Test
    void aSlowClientIsServedChunkByChunkAsItReads() throws Exception {
        int chunks = 48;
        String id = file("slow.bin", chunks);
        try (Socket socket = new Socket()) {
            socket.setReceiveBufferSize(32 * 1024);
            socket.connect(new java.net.InetSocketAddress(base.getHost(), base.getPort()));
            socket.setSoTimeout(30_000);
            OutputStream os = socket.getOutputStream();
            os.write(("GET /v1/files/" + id + "/content HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            os.flush();
            InputStream in = new java.io.BufferedInputStream(socket.getInputStream(), 8192);
            assertTrue(readLine(in).contains(" 200 "));
            boolean chunked = false;
            for (String h = readLine(in); !h.isEmpty(); h = readLine(in)) {
                chunked |= h.toLowerCase().startsWith("transfer-encoding:") && h.toLowerCase().contains("chunked");
            }
            assertTrue(chunked, "streamed, not sent with a length known in advance");
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            int left = readBody(in, body, FileStore.CHUNK, 0);
            // the client stops reading for a while: a server that fetched chunks regardless of what the socket takes
            // would now hold (and have fetched) the whole file
            Thread.sleep(1500);
            int changedFrom = chunks / 2;
            pool.preparedQuery("update file_chunks set data = convert_to(repeat('z', " + FileStore.CHUNK + "), 'UTF8')"
                    + " where file_id = $1 and seq >= $2").execute(Tuple.of(id, changedFrom)).await().atMost(Duration.ofSeconds(30));
            readBody(in, body, (long) (chunks - 1) * FileStore.CHUNK, left);
            byte[] all = body.toByteArray();
            assertEquals((long) chunks * FileStore.CHUNK, all.length);
            assertEquals('A', all[0]);
            // chunks the server had not fetched yet when the bytes changed come with the new bytes: it fetched them
            // only as the client took the earlier ones
            for (int seq = changedFrom; seq < chunks; seq++) {
                assertEquals('z', all[seq * FileStore.CHUNK], "chunk " + seq + " was fetched before the client asked for it");
            }
        }
    }

    /** The name a client takes from a Content-Disposition header (RFC 6266: filename* first). */
    static String filenameOf(String header) {
        String plain = null;
        for (String part : splitParams(header)) {
            int eq = part.indexOf('=');
            if (eq < 0) {
                continue;
            }
            String name = part.substring(0, eq).trim().toLowerCase();
            String value = part.substring(eq + 1).trim();
            if (name.equals("filename*")) {
                assertTrue(value.startsWith("UTF-8''"), value);
                return percentDecode(value.substring(7));
            }
            if (name.equals("filename")) {
                assertTrue(value.startsWith("\"") && value.endsWith("\""), value);
                plain = value.substring(1, value.length() - 1).replaceAll("\\\\(.)", "$1");
            }
        }
        return plain;
    }

    private static List<String> splitParams(String header) {
        List<String> parts = new java.util.ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < header.length(); i++) {
            char c = header.charAt(i);
            if (quoted && c == '\\' && i + 1 < header.length()) {
                cur.append(c).append(header.charAt(++i));
                continue;
            }
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == ';' && !quoted) {
                parts.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        parts.add(cur.toString());
        return parts;
    }

    private static String percentDecode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                out.write(Integer.parseInt(s.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                assertTrue(c > 0x20 && c < 0x7f && "()<>@,;:\\\"/[]?={}'*%".indexOf(c) < 0, "not an attr-char: " + c);
                out.write(c);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void contentDispositionCarriesAnyFilenameExactly() {
        List<String> names = List.of("plain.jsonl", "with space.jsonl", "quote\"d.jsonl", "back\\slash.jsonl", "semi;colon=1,comma.jsonl",
                "naïve résumé.jsonl", "日本語のファイル.jsonl", "emoji 😀.jsonl", "per%20cent+plus.jsonl", "cr\r\nlf\ttab.jsonl",
                "attachment; filename=\"evil.exe\"", "'single' *star*.jsonl", "ünïcode\u2028line sep");
        for (String name : names) {
            String id = file(name, 1);
            Response r = as(KEY_A).get("/v1/files/" + id + "/content");
            r.then().statusCode(200);
            String header = r.header("Content-Disposition");
            assertNotNull(header, name);
            assertTrue(header.startsWith("attachment;"), header);
            assertTrue(header.chars().allMatch(c -> c >= 0x20 && c < 0x7f), "only printable ASCII: " + header);
            assertEquals(name, filenameOf(header), header);
            assertEquals(name, as(KEY_A).get("/v1/files/" + id).then().statusCode(200).extract().path("filename"));
            assertEquals(FileStore.CHUNK, r.asByteArray().length);
        }
        // a plain name stays as it was
        assertEquals("attachment; filename=\"out.jsonl\"", FilesResource.contentDisposition("out.jsonl"));
        assertFalse(FilesResource.contentDisposition("a\"b").contains("a\"b"));
    }

    @Test
    void anUploadedNameComesBackInTheDownload() {
        String name = "données d'entrée – lot №1.jsonl";
        String id = as(KEY_A).multiPart("file", name, "{}\n".getBytes(StandardCharsets.UTF_8), "application/jsonl")
                .multiPart("purpose", "user_data").post("/v1/files").then().statusCode(200).extract().path("id");
        String stored = as(KEY_A).get("/v1/files/" + id).then().statusCode(200).extract().path("filename");
        String header = as(KEY_A).get("/v1/files/" + id + "/content").then().statusCode(200).extract().header("Content-Disposition");
        assertEquals(stored, filenameOf(header), header);
    }
}
