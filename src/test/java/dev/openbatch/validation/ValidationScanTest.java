package dev.openbatch.validation;

import static dev.openbatch.testing.Api.chatLine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.vertx.mutiny.core.buffer.Buffer;

/** Reading an input file chunk by chunk: long lines cost their length, and the line limit names the line. */
class ValidationScanTest {
    private static final String CHAT = "/v1/chat/completions";
    private static final int MIB = 1 << 20;

    /** A valid line of exactly {@code length} bytes: the padding is a top-level field the validator skips. */
    private static String paddedLine(String customId, int length) {
        String head = "{\"custom_id\":\"" + customId + "\",\"method\":\"POST\",\"url\":\"" + CHAT + "\",\"body\":{\"model\":\"m\"},\"pad\":\"";
        return head + "x".repeat(length - head.length() - 2) + "\"}";
    }

    private static List<Buffer> chunks(byte[] file, int size) {
        List<Buffer> out = new ArrayList<>();
        for (int at = 0; at < file.length; at += size) {
            out.add(Buffer.buffer(Arrays.copyOfRange(file, at, Math.min(file.length, at + size))));
        }
        return out;
    }

    /** Reads the file in chunks of {@code size} bytes; returns the valid lines. */
    private static List<LineValidator.Line> read(Validation v, String file, int size) {
        List<LineValidator.Line> valid = new ArrayList<>();
        for (Buffer c : chunks(file.getBytes(StandardCharsets.UTF_8), size)) {
            valid.addAll(v.feed(c));
        }
        valid.addAll(v.finish());
        return valid;
    }

    @Test
    void aLineOverTheLimitIsAnErrorNamingItsLineAndTheLinesAfterItKeepTheirNumbers() {
        String file = chatLine("a", "m", null) + "\n" + paddedLine("long", 500) + "\r\n\n{oops\n" + chatLine("b", "m", null);
        for (int size : new int[] { 1, 7, 64, file.length() }) {
            Validation v = new Validation(CHAT, 50_000, 200, 100);
            List<LineValidator.Line> valid = read(v, file, size);
            assertEquals(List.of(1, 5), valid.stream().map(LineValidator.Line::line).toList(), "chunks of " + size);
            assertEquals(4, v.requests());
            assertEquals(List.of("line_too_long", "invalid_json_line"), v.errors().stream().map(BatchError::code).toList());
            BatchError e = v.errors().get(0);
            assertEquals(2, e.line());
            assertNull(e.param());
            assertEquals("Line 2 is 500 bytes long; the limit is 200 bytes (openbatch.limits.max-line-bytes).", e.message());
            assertEquals(4, v.errors().get(1).line());
        }
    }

    @Test
    void aLineAtTheLimitIsValidAndOneByteMoreIsNot() {
        String line = paddedLine("edge", 300);
        for (String lineBreak : new String[] { "\n", "\r\n" }) {
            String file = line + lineBreak + chatLine("next", "m", null) + lineBreak;
            Validation atLimit = new Validation(CHAT, 50_000, 300, 100);
            assertEquals(2, read(atLimit, file, 128).size());
            assertEquals(List.of(), atLimit.errors());

            Validation under = new Validation(CHAT, 50_000, 299, 100);
            assertEquals(1, read(under, file, 128).size());
            assertEquals(List.of(1), under.errors().stream().map(BatchError::line).toList());
            assertEquals("line_too_long", under.errors().get(0).code());
        }
    }

    /**
     * Bytes this thread allocates to read one valid line of {@code length} bytes in 1 MiB chunks
     * (the least of three reads). Allocation, unlike time, does not depend on how busy the machine
     * is, and re-copying the carried bytes for every chunk was the defect.
     */
    private static long allocatedToRead(int length) {
        List<Buffer> chunks = chunks(paddedLine("x", length).getBytes(StandardCharsets.UTF_8), MIB);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long least = Long.MAX_VALUE;
        for (int run = 0; run < 3; run++) {
            Validation v = new Validation(CHAT, 50_000, 64 * MIB, 100);
            long before = threads.getCurrentThreadAllocatedBytes();
            int valid = 0;
            for (Buffer c : chunks) {
                valid += v.feed(c).size();
            }
            valid += v.finish().size();
            least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
            assertEquals(1, valid);
            assertEquals(List.of(), v.errors());
            assertTrue(v.copiedBytes() <= length, () -> "copied " + v.copiedBytes() + " bytes for a line of " + length);
        }
        return least;
    }

    @Test
    void readingALongLineCostsItsLengthNotItsSquare() {
        allocatedToRead(4 * MIB); // warm up
        long of8 = allocatedToRead(8 * MIB);
        long of32 = allocatedToRead(32 * MIB);
        String figures = "8 MiB line: " + of8 / MIB + " MiB allocated, 32 MiB line: " + of32 / MIB + " MiB";
        // each chunk's bytes taken out of its buffer, and the line joined once: about twice its length. When every
        // chunk re-copied the bytes carried over, a 32 MiB line cost over 1 GiB, and 4x the length ~15x the bytes.
        assertTrue(of32 < 3L * 32 * MIB, figures);
        assertTrue(of32 < 5 * of8, figures);
    }
}
