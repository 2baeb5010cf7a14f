package dev.openbatch.validation;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import dev.openbatch.validation.ScannedLines.Event;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Whatever the chunk boundaries, the scanner finds exactly the file's lines: CRLF or LF endings,
 * empty lines, no final line break, multi-byte UTF-8 characters cut between chunks.
 */
class LineScannerPropertiesTest {
    /** A line's text (never ending in \r, which would make it part of a CRLF) and its line break. */
    record Line(String text, String lineBreak) {
    }

    /** A file: its lines, and whether the last one has its line break. */
    record File(List<Line> lines, boolean finalBreak) {
        byte[] bytes() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int i = 0; i < lines.size(); i++) {
                out.writeBytes(lines.get(i).text().getBytes(StandardCharsets.UTF_8));
                if (i < lines.size() - 1 || finalBreak) {
                    out.writeBytes(lines.get(i).lineBreak().getBytes(StandardCharsets.UTF_8));
                }
            }
            return out.toByteArray();
        }

        /** What the scanner must hand out, with a limit of {@code limit} bytes a line. */
        List<Event> expected(int limit) {
            List<Event> out = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) {
                byte[] b = lines.get(i).text().getBytes(StandardCharsets.UTF_8);
                boolean last = i == lines.size() - 1;
                if (last && !finalBreak && b.length == 0) {
                    break; // nothing after the last line break: no line
                }
                out.add(b.length > limit ? Event.tooLong(i + 1, b.length) : Event.line(i + 1, b));
            }
            return out;
        }
    }

    @Provide
    Arbitrary<File> files() {
        Arbitrary<String> text = Arbitraries.of("a", "b", "{", "\"", " ", "\t", "\r", "é", "日", "😀", "\\n")
                .list().ofMaxSize(30)
                .map(parts -> String.join("", parts))
                .map(s -> s.endsWith("\r") ? s + "x" : s);
        Arbitrary<Line> line = Combinators.combine(text, Arbitraries.of("\n", "\r\n")).as(Line::new);
        return Combinators.combine(line.list().ofMaxSize(25), Arbitraries.of(true, false)).as(File::new);
    }

    /** Cuts the file at the given points (taken modulo its length + 1; a point given twice makes an empty chunk). */
    static List<byte[]> chunks(byte[] file, List<Integer> cuts) {
        List<Integer> at = new ArrayList<>();
        for (int c : cuts) {
            at.add(c % (file.length + 1));
        }
        at.sort(null);
        at.add(file.length);
        List<byte[]> out = new ArrayList<>();
        int from = 0;
        for (int to : at) {
            out.add(Arrays.copyOfRange(file, from, to));
            from = to;
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

    @Property(tries = 2000)
    boolean theLinesFoundAreExactlyTheFilesLines(@ForAll("files") File file, @ForAll @Size(max = 40) List<@IntRange(min = 0, max = 100_000) Integer> cuts) {
        byte[] bytes = file.bytes();
        LineScanner s = new LineScanner(1 << 20);
        List<Event> found = scan(chunks(bytes, cuts), 1 << 20, new ScannedLines(), s);
        return found.equals(file.expected(Integer.MAX_VALUE)) && s.copiedBytes() <= bytes.length && s.heldBytes() == 0;
    }

    @Property(tries = 2000)
    boolean linesOverTheLimitAreReportedWithTheirNumberAndLengthAndNeverHeld(@ForAll("files") File file,
            @ForAll @Size(max = 40) List<@IntRange(min = 0, max = 100_000) Integer> cuts, @ForAll @IntRange(min = 0, max = 40) int limit) {
        LineScanner s = new LineScanner(limit);
        return scan(chunks(file.bytes(), cuts), limit, new ScannedLines(), s).equals(file.expected(limit));
    }

    /** Each line handed out knows where it starts in the file, whatever the chunks. */
    @Property(tries = 2000)
    boolean eachLineKnowsWhereItStarts(@ForAll("files") File file, @ForAll @Size(max = 40) List<@IntRange(min = 0, max = 100_000) Integer> cuts,
            @ForAll @IntRange(min = 0, max = 40) int limit) {
        List<Long> expected = new ArrayList<>();
        long at = 0;
        for (Event e : file.expected(limit)) {
            expected.add(at);
            Line l = file.lines().get(e.number() - 1);
            at += l.text().getBytes(StandardCharsets.UTF_8).length + l.lineBreak().length();
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
        for (byte[] c : chunks(file.bytes(), cuts)) {
            s.feed(c, sink);
        }
        s.finish(sink);
        return found.equals(expected);
    }

    @Property(tries = 500)
    boolean nothingIsHandedOutAfterTheSinkSaysStop(@ForAll("files") File file, @ForAll @Size(max = 40) List<@IntRange(min = 0, max = 100_000) Integer> cuts,
            @ForAll @IntRange(min = 1, max = 30) int stopAfter, @ForAll @IntRange(min = 0, max = 40) int limit) {
        ScannedLines sink = new ScannedLines();
        sink.stopAfter = stopAfter;
        List<Event> all = file.expected(limit);
        return scan(chunks(file.bytes(), cuts), limit, sink, new LineScanner(limit)).equals(all.subList(0, Math.min(stopAfter, all.size())));
    }
}
