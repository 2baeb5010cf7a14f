package dev.openbatch.files;

import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.pick;
import static dev.openbatch.testing.Theories.qt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.generators.SourceDSL.booleans;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import dev.openbatch.testing.Theories;

/** Reading a multipart body in pieces of any size: every part's bytes exactly, whatever they hold. */
class MultipartReaderTest {
    private static final String BOUNDARY = "XyZ-b0undary";

    /** A part as the listener saw it. */
    record Part(String name, String filename, String content) {
    }

    private static final class Parts implements MultipartReader.Listener {
        final List<Part> parts = new ArrayList<>();
        private String name;
        private String filename;
        private ByteArrayOutputStream content;

        @Override
        public void part(String name, String filename) {
            this.name = name;
            this.filename = filename;
            this.content = new ByteArrayOutputStream();
        }

        @Override
        public void data(byte[] b, int from, int to) {
            assertTrue(from < to, "no empty data");
            content.write(b, from, to - from);
        }

        @Override
        public void partEnd() {
            parts.add(new Part(name, filename, content.toString(StandardCharsets.ISO_8859_1)));
            content = null;
        }
    }

    /** Reads the body cut at the given points; returns the parts. */
    private static List<Part> read(byte[] body, List<Integer> cuts) {
        Parts parts = new Parts();
        MultipartReader r = new MultipartReader(BOUNDARY, parts);
        List<Integer> at = new ArrayList<>();
        for (int c : cuts) {
            at.add(c % (body.length + 1));
        }
        at.sort(null);
        at.add(body.length);
        int from = 0;
        for (int to : at) {
            // each piece in an array of its own, with bytes around it the reader must not read
            byte[] piece = new byte[to - from + 6];
            Arrays.fill(piece, (byte) '-');
            System.arraycopy(body, from, piece, 3, to - from);
            r.feed(piece, 3, to - from);
            from = to;
        }
        r.finish();
        return parts.parts;
    }

    private static String body(List<Part> parts, String preamble, String epilogue) {
        StringBuilder sb = new StringBuilder(preamble);
        for (Part p : parts) {
            sb.append("--").append(BOUNDARY).append("\r\n")
                    .append("Content-Disposition: form-data; name=\"").append(p.name()).append('"')
                    .append(p.filename() == null ? "" : "; filename=\"" + p.filename() + "\"").append("\r\n")
                    .append("Content-Type: application/octet-stream\r\n\r\n")
                    .append(p.content()).append("\r\n");
        }
        return sb.append("--").append(BOUNDARY).append("--").append(epilogue).toString();
    }

    static Gen<String> contents() {
        // text that comes close to the delimiter: line breaks, dashes, the boundary without its CRLF or cut short
        return lists(pick("a", "\r", "\n", "\r\n", "-", "--", "\r\n-", "\r\n--", "--" + BOUNDARY, "\r\n--XyZ", "\r\n--" + BOUNDARY.substring(1),
                "\u00e9", "\u0000", "x".repeat(50), "{\"custom_id\":\"a\"}\n"), 0, 20)
                .map(l -> String.join("", l))
                // a client picks a boundary its content does not hold
                .assuming(s -> !s.contains("\r\n--" + BOUNDARY) && !s.startsWith("--" + BOUNDARY))
                .describedAs(Theories::printable);
    }

    static Gen<List<Part>> parts() {
        Gen<String> filenames = pick("a.jsonl", "").mix(Generate.constant((String) null));
        Gen<Part> part = pick("file", "purpose", "x", "expires_after[anchor]").zip(filenames, contents(), Part::new);
        return lists(part, 0, 4);
    }

    @Test
    void everyPartComesOutExactlyWhateverThePieces() {
        qt(3000).forAll(parts(), lists(Generate.range(0, 2000), 0, 20), booleans().all(), booleans().all()).check((parts, cuts, preamble, epilogue) -> {
            String body = body(parts, preamble ? "ignored preamble\r\n" : "", epilogue ? "\r\nignored epilogue --" + BOUNDARY + "\r\n" : "");
            return read(body.getBytes(StandardCharsets.ISO_8859_1), cuts).equals(parts);
        });
    }

    /** The CR search, eight bytes at a time, finds what a byte-by-byte loop finds, wherever the range starts and ends. */
    @Test
    void crIsFoundWhereverItIs() {
        qt(3000).forAll(lists(Generate.range(0, 3), 0, 64), Generate.range(0, 70), Generate.range(0, 70)).check((kinds, from, to) -> {
            byte[] b = new byte[kinds.size()];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) new int[] { 'a', '\r', '\n', 0x8d }[kinds.get(i)];
            }
            int f = Math.min(from, b.length);
            int t = Math.max(f, Math.min(to, b.length));
            int expected = -1;
            for (int i = f; i < t; i++) {
                if (b[i] == '\r') {
                    expected = i;
                    break;
                }
            }
            return MultipartReader.indexOfCr(b, f, t) == expected;
        });
    }

    @Test
    void headersAreReadAsClientsWriteThem() {
        String body = "--" + BOUNDARY + "  \t\r\n" // transport padding after the delimiter
                + "content-disposition: form-data; filename=\"x;\\\"y\\\".jsonl\"; NAME=\"file\"\r\ncontent-type: text/plain\r\n\r\n"
                + "abc\r\n--" + BOUNDARY + "\r\n"
                + "Content-Disposition: form-data; name=\"file\"; filename=\"plain.jsonl\"; filename*=UTF-8''na%C3%AFve%20%E2%9C%93.jsonl\r\n\r\n"
                + "def\r\n--" + BOUNDARY + "\r\n"
                + "Content-Disposition: form-data; name=purpose\r\n\r\n"
                + "batch\r\n--" + BOUNDARY + "\r\n"
                + "\r\n" // a part without headers: no name
                + "ghi\r\n--" + BOUNDARY + "--";
        List<Part> parts = read(body.getBytes(StandardCharsets.UTF_8), List.of());
        assertEquals(new Part("file", "x;\"y\".jsonl", "abc"), parts.get(0));
        assertEquals(new Part("file", "naïve ✓.jsonl", "def"), parts.get(1));
        assertEquals(new Part("purpose", null, "batch"), parts.get(2));
        assertNull(parts.get(3).name());
        assertEquals(4, parts.size());
    }

    @Test
    void theBoundaryComesFromTheContentType() {
        assertEquals("abc", MultipartReader.boundary("multipart/form-data; boundary=abc"));
        assertEquals("a b:c", MultipartReader.boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\""));
        assertNull(MultipartReader.boundary("multipart/form-data"));
        assertNull(MultipartReader.boundary("multipart/mixed; boundary=abc"));
        assertNull(MultipartReader.boundary("multipart/form-data; boundary=\"\""));
        assertNull(MultipartReader.boundary("multipart/form-data; boundary=" + "x".repeat(71)));
        assertNull(MultipartReader.boundary(null));
    }

    @Test
    void aBodyThatIsNotMultipartIsMalformed() {
        // no closing delimiter
        assertThrows(MultipartReader.MalformedException.class, () -> read(("--" + BOUNDARY + "\r\n\r\nabc").getBytes(StandardCharsets.US_ASCII),
                List.of(3)));
        // no delimiter at all
        assertThrows(MultipartReader.MalformedException.class, () -> read("just bytes".getBytes(StandardCharsets.US_ASCII), List.of()));
        // a delimiter followed by something other than a line break or "--"
        assertThrows(MultipartReader.MalformedException.class, () -> read(("--" + BOUNDARY + "xx\r\n\r\nabc\r\n--" + BOUNDARY + "--")
                .getBytes(StandardCharsets.US_ASCII), List.of()));
        // headers that never end
        byte[] endless = ("--" + BOUNDARY + "\r\nX-Long: " + "h".repeat(MultipartReader.MAX_HEADERS + 10)).getBytes(StandardCharsets.US_ASCII);
        assertThrows(MultipartReader.MalformedException.class, () -> read(endless, List.of(100, 5000)));
    }

    @Test
    void aLargePartIsHandedOutAsItArrivesNotGathered() {
        Parts parts = new Parts();
        int[] largest = new int[1];
        MultipartReader r = new MultipartReader(BOUNDARY, new MultipartReader.Listener() {
            @Override
            public void part(String name, String filename) {
                parts.part(name, filename);
            }

            @Override
            public void data(byte[] b, int from, int to) {
                largest[0] = Math.max(largest[0], to - from);
                parts.data(b, from, to);
            }

            @Override
            public void partEnd() {
                parts.partEnd();
            }
        });
        byte[] head = ("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        r.feed(head, 0, head.length);
        byte[] piece = "0123456789abcdef\r\n".repeat(4096).getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < 100; i++) {
            r.feed(piece, 0, piece.length);
        }
        byte[] tail = ("\r\n--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.US_ASCII);
        r.feed(tail, 0, tail.length);
        r.finish();
        assertTrue(r.complete());
        assertEquals(100 * piece.length, parts.parts.get(0).content().length());
        assertTrue(largest[0] <= piece.length, "handed out " + largest[0] + " bytes at once");
    }
}
