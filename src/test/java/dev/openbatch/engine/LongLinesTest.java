package dev.openbatch.engine;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.store.Transactions;
import dev.openbatch.api.Ids;
import dev.openbatch.files.FileEntity;
import dev.openbatch.store.FileStore;
import dev.openbatch.testing.Api;
import dev.openbatch.testing.Configs;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Multi;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.core.buffer.Buffer;
import jakarta.inject.Inject;

/**
 * Lines of many megabytes: one under the line limit (default 16 MiB) is validated, sent and
 * answered like any other; one over it fails the batch, naming its line. The files are larger
 * than the test profile's upload limit, so they are stored the way an upload stores them. The
 * engine is started here, with a longer upstream timeout than the test profile's 2 s: sending ten
 * megabytes to the fake upstream, which parses them in this same JVM, may take longer on a busy machine.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class LongLinesTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";
    private static final int MIB = 1 << 20;

    @Inject
    FileStore store;

    @BeforeEach
    void startEngine() {
        engine("long-lines", Configs.of(config).withRequestTimeout(Duration.ofSeconds(60)));
    }

    /** Stores the bytes as a batch file of project A; returns its id. */
    private String store(byte[] content) {
        return store(content.length, (from, length) -> Arrays.copyOfRange(content, (int) (long) from, (int) (from + length)));
    }

    /**
     * Stores a batch file of project A of {@code size} bytes, in the file store's chunks, asking
     * {@code slice} for the bytes of each (so that the file is never whole in memory); returns its id.
     */
    private String store(long size, BiFunction<Long, Integer, byte[]> slice) {
        FileEntity f = new FileEntity();
        f.id = Ids.file();
        f.project = "project-a";
        f.purpose = "batch";
        f.filename = "long-lines.jsonl";
        f.bytes = size;
        f.status = "processed";
        f.createdAt = System.currentTimeMillis() / 1000;
        f.createdUs = System.currentTimeMillis() * 1000;
        int chunks = (int) ((size + FileStore.CHUNK - 1) / FileStore.CHUNK);
        new Transactions(pool).run(tx -> store.insertRow(tx, f.row())
                .chain(() -> Multi.createFrom().range(0, chunks)
                        .onItem().transformToUniAndConcatenate(seq -> {
                            long from = (long) seq * FileStore.CHUNK;
                            return store.insertChunk(tx, f.id, seq, Buffer.buffer(slice.apply(from, (int) Math.min(FileStore.CHUNK, size - from))));
                        })
                        .collect().last()))
                .await().atMost(Duration.ofSeconds(120));
        return f.id;
    }

    /** A file: {@code head}, then {@code n} times {@code x}, then {@code tail}; its bytes made a slice at a time. */
    private record Padded(String head, long n, String tail) {
        long size() { return head.length() + n + tail.length(); }

        byte[] slice(long from, int length) {
            byte[] out = new byte[length];
            Arrays.fill(out, (byte) 'x');
            copy(head.getBytes(StandardCharsets.UTF_8), 0, out, from);
            copy(tail.getBytes(StandardCharsets.UTF_8), head.length() + n, out, from);
            return out;
        }

        /** Writes the part of {@code part} (which starts at {@code at} in the file) that falls in {@code out} (which starts at {@code from}). */
        private static void copy(byte[] part, long at, byte[] out, long from) {
            long start = Math.max(at, from);
            long end = Math.min(at + part.length, from + out.length);
            if (start < end) {
                System.arraycopy(part, (int) (start - at), out, (int) (start - from), (int) (end - start));
            }
        }
    }

    private static byte[] join(String... lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String l : lines) {
            out.writeBytes(l.getBytes(StandardCharsets.UTF_8));
            out.write('\n');
        }
        return out.toByteArray();
    }

    @Test
    void aLineOfTenMegabytesIsValidatedSentAndAnswered() {
        String r = EngineTest.run();
        // ten MiB of message, with two-byte characters, some of them cut by the 1 MiB chunk boundaries (Latin-1 ones:
        // the test's JVM also runs the fake upstream, and such text takes a byte a character in a Java string)
        String content = "é openbatch ñ ".repeat(10 * MIB / 16 + 1);
        String longLine = "{\"custom_id\":\"" + r + "-long\",\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"model\":\"fake-model\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}],\"fake\":{\"key\":\"" + r + "-long\"}}}";
        assertTrue(longLine.getBytes(StandardCharsets.UTF_8).length > 10 * MIB);
        String fileId = store(join(Api.chatLine(r + "-1", "fake-model", null), longLine, Api.chatLine(r + "-3", "fake-model", null)));
        longLine = null;

        String id = Api.createBatch(KEY_A, fileId, CHAT, null).getString("id");
        JsonPath done = Api.awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(60));
        assertEquals(Map.of("total", 3, "completed", 3, "failed", 0), done.getMap("request_counts"));
        String out = Api.content(KEY_A, done.getString("output_file_id"));
        assertTrue(out.contains("\"custom_id\":\"" + r + "-long\"") && out.contains("echo " + r + "-long"), out);

        // the upstream got the long line's body whole
        String sent = FAKE.bodies.stream().filter(b -> b.contains(r + "-long")).findFirst().orElse(null);
        assertNotNull(sent);
        FAKE.bodies.remove(sent);
        assertEquals(content, new JsonObject(sent).getJsonArray("messages").getJsonObject(0).getString("content"));
    }

    /** Line 2 of {@code length} bytes between two valid lines, and a bad line 4: the batch fails, naming lines 2 and 4. */
    private JsonPath failedWithALineOf(long length) {
        String r = EngineTest.run();
        String head = Api.chatLine(r + "-1", "fake-model", null) + "\n{\"custom_id\":\"" + r + "-long\",\"method\":\"POST\",\"url\":\"" + CHAT
                + "\",\"body\":{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"";
        String tail = "\"}]}}\n" + Api.chatLine(r + "-3", "fake-model", null) + "\n{oops\n";
        long lineOverhead = head.length() - head.indexOf('\n') - 1 + tail.indexOf('\n');
        Padded file = new Padded(head, length - lineOverhead, tail);
        String fileId = store(file.size(), file::slice);

        String id = Api.createBatch(KEY_A, fileId, CHAT, null).getString("id");
        JsonPath b = Api.await(KEY_A, id, p -> !"validating".equals(p.getString("status")), Duration.ofSeconds(60));
        assertEquals("failed", b.getString("status"), b::prettify);
        assertEquals(List.of(2, 4), b.getList("errors.data.line"), b::prettify);
        assertEquals(List.of("line_too_long", "invalid_json_line"), b.getList("errors.data.code"));
        assertEquals(Map.of("total", 0, "completed", 0, "failed", 0), b.getMap("request_counts"));
        return b;
    }

    @Test
    void aLineOneByteOverTheLimitFailsTheBatchNamingItsLine() {
        JsonPath b = failedWithALineOf(16 * MIB + 1);
        assertEquals("Line 2 is 16777217 bytes long; the limit is 16777216 bytes (openbatch.limits.max-line-bytes).",
                b.getString("errors.data[0].message"));
    }

    @Test
    void aLineOf150MegabytesFailsQuickly() {
        // the case: such a line stayed in validating for minutes, each chunk re-copying all the line before it
        JsonPath b = failedWithALineOf(150_000_000);
        assertTrue(b.getString("errors.data[0].message").startsWith("Line 2 is 150000000 bytes long;"), b::prettify);
    }
}
