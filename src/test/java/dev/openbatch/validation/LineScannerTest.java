package dev.openbatch.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.openbatch.validation.ScannedLines.Event;

/** The line scanner's cost and memory on long lines, and its edges; {@link LineScannerPropertiesTest} has the general rules. */
class LineScannerTest {
    private static final int MIB = 1 << 20;

    private static byte[] filled(int n, char c) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) c);
        return b;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Feeds {@code file} in chunks of {@code chunk} bytes, each a fresh array (as the file store gives them). */
    private static void feed(LineScanner s, byte[] file, int chunk, ScannedLines sink) {
        for (int at = 0; at < file.length; at += chunk) {
            s.feed(Arrays.copyOfRange(file, at, Math.min(file.length, at + chunk)), sink);
        }
    }

    @Test
    void aLineOverManyChunksIsCopiedOnceNotOncePerChunk() {
        int length = 32 * MIB;
        byte[] file = new byte[length + 4];
        Arrays.fill(file, (byte) 'x');
        file[0] = 'a';
        file[1] = '\n';
        file[length + 2] = '\n';
        file[length + 3] = 'z';
        LineScanner s = new LineScanner(64 * MIB);
        ScannedLines sink = new ScannedLines();
        feed(s, file, MIB, sink);
        s.finish(sink);
        assertEquals(3, sink.events.size());
        assertEquals(Event.line(1, bytes("a")), sink.events.get(0));
        assertEquals(length, sink.events.get(1).bytes().length());
        assertEquals(2, sink.events.get(1).number());
        assertEquals(Event.line(3, bytes("z")), sink.events.get(2));
        // carried bytes are joined once, at the line's end: the long line's bytes copied once (and the last line's one byte)
        assertEquals(length + 1, s.copiedBytes());
        assertEquals(0, s.heldBytes());
    }

    @Test
    void aLineOverTheLimitIsCountedToItsEndButNeverHeld() {
        int limit = 1000;
        byte[] longLine = filled(5 * MIB + 3, 'y');
        LineScanner s = new LineScanner(limit);
        ScannedLines sink = new ScannedLines();
        s.feed(bytes("first\n"), sink);
        for (int at = 0; at < longLine.length; at += 64 * 1024) {
            s.feed(Arrays.copyOfRange(longLine, at, Math.min(longLine.length, at + 64 * 1024)), sink);
            assertTrue(s.heldBytes() <= limit + 1, () -> "holds " + s.heldBytes());
        }
        s.feed(bytes("\r\n\nlast"), sink);
        s.finish(sink);
        assertEquals(List.of(Event.line(1, bytes("first")), Event.tooLong(2, longLine.length), Event.line(3, new byte[0]),
                Event.line(4, bytes("last"))), sink.events);
        assertEquals(4, s.copiedBytes()); // only "last", carried to the file's end
    }

    @Test
    void theLimitCountsTheLineWithoutItsLineBreak() {
        LineScanner s = new LineScanner(3);
        ScannedLines sink = new ScannedLines();
        s.feed(bytes("abc\r\nabcd\nab"), sink);
        s.feed(bytes("c\r"), sink); // a line at the limit whose \r\n is split between chunks
        s.feed(bytes("\nabc"), sink);
        s.feed(bytes("d"), sink);
        s.finish(sink);
        assertEquals(List.of(Event.line(1, bytes("abc")), Event.tooLong(2, 4), Event.line(3, bytes("abc")), Event.tooLong(4, 4)),
                sink.events);
    }

    @Test
    void nothingIsHandedOutOnceTheSinkSaysStop() {
        LineScanner s = new LineScanner(100);
        ScannedLines sink = new ScannedLines();
        sink.stopAfter = 2;
        s.feed(bytes("a\nb\nc\nd"), sink);
        s.feed(bytes("e\nf\n"), sink);
        s.finish(sink);
        assertEquals(List.of(Event.line(1, bytes("a")), Event.line(2, bytes("b"))), sink.events);
        assertEquals(0, s.heldBytes());
    }
}
