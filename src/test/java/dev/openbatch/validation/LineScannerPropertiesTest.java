package dev.openbatch.validation;

import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.qt;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import dev.openbatch.validation.GeneratedFiles.File;
import dev.openbatch.validation.GeneratedFiles.Line;
import dev.openbatch.validation.ScannedLines.Event;

/**
 * Whatever the chunk boundaries, the scanner finds exactly the file's lines: CRLF or LF endings,
 * empty lines, no final line break, multi-byte UTF-8 characters cut between chunks.
 */
class LineScannerPropertiesTest {
    static Gen<File> files() {
        return GeneratedFiles.files(GeneratedFiles.textLines(), 25);
    }

    /** Up to 40 points to cut a file at (modulo its length + 1, so anywhere). */
    static Gen<List<Integer>> cuts() {
        return lists(Generate.range(0, 100_000), 0, 40);
    }

    /** What the scanner must hand out for {@code file}, with a limit of {@code limit} bytes a line. */
    private static List<Event> expected(File file, int limit) {
        List<Event> out = new ArrayList<>();
        List<Line> lines = file.lines();
        for (int i = 0; i < lines.size(); i++) {
            byte[] b = lines.get(i).bytes();
            boolean last = i == lines.size() - 1;
            if (last && !file.finalBreak() && b.length == 0) {
                break; // nothing after the last line break: no line
            }
            out.add(b.length > limit ? Event.tooLong(i + 1, b.length) : Event.line(i + 1, b));
        }
        return out;
    }

    private static List<Event> scan(List<byte[]> chunks, int limit, ScannedLines sink, LineScanner s) {
        for (byte[] c : chunks) {
            s.feed(c, sink);
            if (s.heldBytes() > (long) limit + 1) {
                throw new AssertionError("holds " + s.heldBytes() + " bytes with a limit of " + limit);
            }
        }
        s.finish(sink);
        return sink.events;
    }

    @Test
    void theLinesFoundAreExactlyTheFilesLines() {
        qt(2000).forAll(files(), cuts()).check((file, cuts) -> {
            byte[] bytes = file.bytes();
            LineScanner s = new LineScanner(1 << 20);
            List<Event> found = scan(GeneratedFiles.cut(bytes, cuts), 1 << 20, new ScannedLines(), s);
            return found.equals(expected(file, Integer.MAX_VALUE)) && s.copiedBytes() <= bytes.length && s.heldBytes() == 0;
        });
    }

    @Test
    void linesOverTheLimitAreReportedWithTheirNumberAndLengthAndNeverHeld() {
        qt(2000).forAll(files(), cuts(), Generate.range(0, 40)).check((file, cuts, limit) -> {
            LineScanner s = new LineScanner(limit);
            return scan(GeneratedFiles.cut(file.bytes(), cuts), limit, new ScannedLines(), s).equals(expected(file, limit));
        });
    }

    /** Each line handed out knows where it starts in the file, whatever the chunks. */
    @Test
    void eachLineKnowsWhereItStarts() {
        qt(2000).forAll(files(), cuts(), Generate.range(0, 40)).check(LineScannerPropertiesTest::eachLineKnowsWhereItStarts);
    }

    static boolean eachLineKnowsWhereItStarts(File file, List<Integer> cuts, int limit) {
        List<Long> expected = new ArrayList<>();
        long at = 0;
        for (Event e : expected(file, limit)) {
            expected.add(at);
            Line l = file.lines().get(e.number() - 1);
            at += l.bytes().length + l.lineBreak().length();
        }
        LineScanner s = new LineScanner(limit);
        List<Long> found = new ArrayList<>();
        LineScanner.Sink sink = new LineScanner.Sink() {
            @Override
            public boolean line(byte[] buf, int from, int to, int number) {
                found.add(s.lineStart());
                return true;
            }

            @Override
            public boolean tooLong(int number, long bytes) {
                found.add(s.lineStart());
                return true;
            }
        };
        for (byte[] c : GeneratedFiles.cut(file.bytes(), cuts)) {
            s.feed(c, sink);
        }
        s.finish(sink);
        return found.equals(expected);
    }

    @Test
    void nothingIsHandedOutAfterTheSinkSaysStop() {
        qt(500).forAll(files(), cuts(), Generate.range(1, 30), Generate.range(0, 40)).check((file, cuts, stopAfter, limit) -> {
            ScannedLines sink = new ScannedLines();
            sink.stopAfter = stopAfter;
            List<Event> all = expected(file, limit);
            return scan(GeneratedFiles.cut(file.bytes(), cuts), limit, sink, new LineScanner(limit)).equals(all.subList(0, Math.min(stopAfter, all.size())));
        });
    }
}
