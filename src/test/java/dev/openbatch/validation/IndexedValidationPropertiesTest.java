package dev.openbatch.validation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import dev.openbatch.files.FileIngest;
import dev.openbatch.validation.GeneratedFiles.File;
import io.vertx.mutiny.core.buffer.Buffer;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * A batch judged from the line index made at upload gets the verdict it gets from reading its
 * file: the same errors (code, message, param, line) in the same order, the same count and model,
 * and, when it is valid, the same request lines, whose bodies the chunks hold exactly where the
 * index says. Whatever the chunk size, the pieces the upload arrives in, and the limits.
 */
class IndexedValidationPropertiesTest {
    private static final String CHAT = "/v1/chat/completions";

    @Provide
    Arbitrary<File> files() {
        return GeneratedFiles.files(GeneratedFiles.requestLines(CHAT), 30);
    }

    @Property(tries = 3000)
    void theIndexGivesTheVerdictReadingTheFileGives(@ForAll("files") File file,
            @ForAll @Size(max = 30) List<@IntRange(min = 0, max = 100_000) Integer> cuts,
            @ForAll @IntRange(min = 1, max = 400) int chunkSize, @ForAll @IntRange(min = 10, max = 400) int maxLineBytes,
            @ForAll @IntRange(min = 1, max = 40) int maxLines, @ForAll @IntRange(min = 1, max = 8) int maxErrors) {
        compare(file, cuts, chunkSize, maxLineBytes, maxLines, maxErrors);
    }

    /** Valid files (unique ids, one model, blank lines between), so that the request lines and their bodies are compared. */
    @Property(tries = 1500)
    void aValidFilesBodiesComeOutOfTheChunksExactly(@ForAll @Size(min = 1, max = 30) List<@IntRange(min = 0, max = 300) Integer> pads,
            @ForAll @Size(min = 1, max = 5) List<Boolean> crlf, @ForAll boolean finalBreak,
            @ForAll @Size(max = 30) List<@IntRange(min = 0, max = 100_000) Integer> cuts,
            @ForAll @IntRange(min = 1, max = 400) int chunkSize) {
        List<byte[]> lines = new ArrayList<>();
        for (int i = 0; i < pads.size(); i++) {
            int pad = pads.get(i);
            lines.add(pad % 7 == 0 ? new byte[0] : ("{\"custom_id\":\"r" + i + "\",\"method\":\"POST\",\"url\":\"" + CHAT
                    + "\",\"body\":{\"model\":\"m\",\"messages\":[{\"content\":\"" + "é日😀x".repeat(pad / 4) + "\"}]}}")
                    .getBytes(StandardCharsets.UTF_8));
        }
        compare(File.of(lines, crlf, finalBreak), cuts, chunkSize, 4000, 40, 5);
    }

    private static void compare(File file, List<Integer> cuts, int chunkSize, int maxLineBytes, int maxLines, int maxErrors) {
        byte[] bytes = file.bytes();
        List<byte[]> pieces = GeneratedFiles.cut(bytes, cuts);

        // reading the file, as a batch of a file stored without an index
        Validation read = new Validation(CHAT, maxLines, maxLineBytes, maxErrors);
        List<LineValidator.Line> valid = new ArrayList<>();
        for (byte[] p : pieces) {
            valid.addAll(read.feed(Buffer.buffer(p)));
        }
        valid.addAll(read.finish());

        // the upload's one pass, then the batch from the index
        FileIngest ingest = new FileIngest(true, chunkSize, maxLineBytes, maxLines, maxErrors);
        List<FileIngest.Chunk> chunks = new ArrayList<>();
        for (byte[] p : pieces) {
            chunks.addAll(ingest.feed(p, 0, p.length));
        }
        chunks.addAll(ingest.finish());
        List<byte[]> stored = new ArrayList<>();
        List<FileIngest.Line> index = new ArrayList<>();
        for (FileIngest.Chunk c : chunks) {
            if (c.data() != null) {
                assertEquals(stored.size(), c.seq(), "chunks in order");
                assertTrue(c.data().length > 0 && c.data().length <= chunkSize, "chunk of " + c.data().length + " bytes");
                stored.add(c.data());
            } else {
                assertEquals(stored.size() - 1, c.seq(), "the last lines belong to the last chunk");
            }
            index.addAll(c.lines());
        }
        assertArrayEquals(bytes, GeneratedFiles.concat(stored.toArray(byte[][]::new)), "the chunks hold the file exactly");
        assertEquals(bytes.length, ingest.bytes());

        Validation judged = new Validation(CHAT, maxLines, maxLineBytes, maxErrors);
        int previous = 0;
        for (FileIngest.Line l : index) {
            assertTrue(l.line() > previous, "index in line order");
            previous = l.line();
            judged.indexed(l.line(), l.customId(), l.url(), l.model(), l.error(), l.late());
            if (judged.done()) {
                break;
            }
        }
        String key = ingest.indexKey();
        if (!judged.done()) {
            assertTrue(key.endsWith(" complete"), "an index that stops early seals the verdict: " + key);
            judged.endIndexed();
        }
        assertTrue(key.startsWith(Validation.indexKey(maxLineBytes, maxLines, maxErrors) + " "), key); // what a batch reads the index under

        Statistics.label("verdict").collect(read.errors().isEmpty() ? "valid" : "failed");
        Statistics.label("index").collect(key.substring(key.lastIndexOf(' ') + 1));
        Statistics.label("a body spans chunks").collect(index.stream().anyMatch(l -> l.lastSeq() > l.seq()));
        assertEquals(read.errors(), judged.errors());
        assertEquals(read.requests(), judged.requests());
        assertEquals(read.model(), judged.model());
        if (read.errors().isEmpty()) {
            List<FileIngest.Line> requests = index.stream().filter(l -> l.error() == null).toList();
            assertEquals(valid.size(), requests.size());
            for (int i = 0; i < valid.size(); i++) {
                FileIngest.Line l = requests.get(i);
                LineValidator.Line v = valid.get(i);
                assertEquals(v.line(), l.line());
                assertEquals(v.customId(), l.customId());
                // as PostgreSQL cuts it: the chunks seq..lastSeq joined, from bodyAt
                byte[] joined = GeneratedFiles.concat(stored.subList(l.seq(), l.lastSeq() + 1).toArray(byte[][]::new));
                byte[] body = Arrays.copyOfRange(joined, l.bodyAt(), l.bodyAt() + l.bodyLength());
                assertEquals(v.body(), new String(body, StandardCharsets.UTF_8), "body of line " + l.line());
                if (l.lastSeq() > l.seq()) {
                    assertTrue(file.lines().get(l.line() - 1).bytes().length + 2 > chunkSize, "line " + l.line() + " spans chunks though it fits one");
                }
            }
        }
    }
}
