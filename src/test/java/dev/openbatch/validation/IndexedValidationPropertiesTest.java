package dev.openbatch.validation;

import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.qt;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import dev.openbatch.files.FileIngest;
import dev.openbatch.validation.GeneratedFiles.File;
import io.vertx.mutiny.core.buffer.Buffer;

/**
 * A batch judged from the line index made at upload gets the verdict it gets from reading its
 * file: the same errors (code, message, param, line) in the same order, the same count and model,
 * and, when it is valid, the same request lines, whose bodies the chunks hold exactly where the
 * index says. Whatever the chunk size, the pieces the upload arrives in, and the limits.
 */
class IndexedValidationPropertiesTest {
    private static final String CHAT = "/v1/chat/completions";

    /** The limits a batch is judged under. */
    record Limits(int maxLineBytes, int maxLines, int maxErrors) {
    }

    /** A file, the points the upload is cut at, the chunk size it is stored in, and the limits. */
    record Case(File file, List<Integer> cuts, int chunkSize, Limits limits) {
    }

    static Gen<List<Integer>> cuts() {
        return lists(Generate.range(0, 100_000), 0, 30);
    }

    static Gen<Integer> chunkSizes() {
        return Generate.range(1, 400);
    }

    /** What the examples reached, by label: how often each value came up, printed and checked. */
    private final Map<String, Map<String, Integer>> reached = new TreeMap<>();

    private void collect(String label, Object value) {
        reached.computeIfAbsent(label, l -> new TreeMap<>()).merge(String.valueOf(value), 1, Integer::sum);
    }

    @Test
    void theIndexGivesTheVerdictReadingTheFileGives() {
        Gen<Limits> limits = Generate.range(10, 400).zip(Generate.range(1, 40), Generate.range(1, 8), Limits::new);
        qt(3000).forAll(GeneratedFiles.files(GeneratedFiles.requestLines(CHAT), 30).zip(cuts(), chunkSizes(), limits, Case::new))
                .checkAssert(c -> compare(c.file(), c.cuts(), c.chunkSize(), c.limits().maxLineBytes(), c.limits().maxLines(), c.limits().maxErrors()));
        System.out.println("IndexedValidationPropertiesTest reached " + reached);
        // the generators reach every kind of case, or the comparison proves little
        assertEquals(Set.of("failed", "valid"), reached.get("verdict").keySet(), reached.toString());
        assertEquals(Set.of("true", "false"), reached.get("a body spans chunks").keySet(), reached.toString());
        assertTrue(reached.get("index").size() > 1, reached.toString());
    }

    /** Valid files (unique ids, one model, blank lines between), so that the request lines and their bodies are compared. */
    @Test
    void aValidFilesBodiesComeOutOfTheChunksExactly() {
        Gen<File> files = lists(Generate.range(0, 300), 1, 30).zip(lists(Generate.booleans(), 1, 5), Generate.booleans(),
                IndexedValidationPropertiesTest::validFile);
        qt(1500).forAll(files, cuts(), chunkSizes()).checkAssert((file, cuts, chunkSize) -> compare(file, cuts, chunkSize, 4000, 40, 5));
        System.out.println("IndexedValidationPropertiesTest reached " + reached);
        assertTrue(reached.get("verdict").getOrDefault("valid", 0) > 1000, reached.toString());
        assertEquals(Set.of("true", "false"), reached.get("a body spans chunks").keySet(), reached.toString());
    }

    /** Lines whose body is padded by {@code pads[i] / 4} multi-byte runs, a blank line where {@code pads[i]} is a multiple of 7. */
    static File validFile(List<Integer> pads, List<Boolean> crlf, boolean finalBreak) {
        List<byte[]> lines = new ArrayList<>();
        for (int i = 0; i < pads.size(); i++) {
            int pad = pads.get(i);
            lines.add(pad % 7 == 0 ? new byte[0] : ("{\"custom_id\":\"r" + i + "\",\"method\":\"POST\",\"url\":\"" + CHAT
                    + "\",\"body\":{\"model\":\"m\",\"messages\":[{\"content\":\"" + "é日😀x".repeat(pad / 4) + "\"}]}}")
                    .getBytes(StandardCharsets.UTF_8));
        }
        return File.of(lines, crlf, finalBreak);
    }

    private void compare(File file, List<Integer> cuts, int chunkSize, int maxLineBytes, int maxLines, int maxErrors) {
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

        collect("verdict", read.errors().isEmpty() ? "valid" : "failed");
        collect("index", key.substring(key.lastIndexOf(' ') + 1));
        collect("a body spans chunks", index.stream().anyMatch(l -> l.lastSeq() > l.seq()));
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
