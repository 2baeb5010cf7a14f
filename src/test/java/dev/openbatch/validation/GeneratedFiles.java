package dev.openbatch.validation;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * The input files the property tests read, made one way for all of them: lines, each ended by LF
 * or CRLF (the last one maybe by nothing), and the pieces a file arrives in, cut at any points.
 * The lines are any text for the scanner's properties ({@link #textLines}), or request lines,
 * right and wrong, for the validation's ({@link #requestLines}).
 */
final class GeneratedFiles {
    private GeneratedFiles() {
    }

    /** A line's bytes (never ending in \r, which would make it part of a CRLF) and its line break. */
    record Line(byte[] bytes, String lineBreak) {
    }

    /** A file: its lines, and whether the last one has its line break. */
    record File(List<Line> lines, boolean finalBreak) {
        /** The file of {@code lines}, line i ended by CRLF when {@code crlf} says so at i (modulo its size), else by LF. */
        static File of(List<byte[]> lines, List<Boolean> crlf, boolean finalBreak) {
            List<Line> out = new ArrayList<>(lines.size());
            for (int i = 0; i < lines.size(); i++) {
                out.add(new Line(lines.get(i), crlf.get(i % crlf.size()) ? "\r\n" : "\n"));
            }
            return new File(out, finalBreak);
        }

        byte[] bytes() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int i = 0; i < lines.size(); i++) {
                out.writeBytes(lines.get(i).bytes());
                if (i < lines.size() - 1 || finalBreak) {
                    out.writeBytes(lines.get(i).lineBreak().getBytes(StandardCharsets.US_ASCII));
                }
            }
            return out.toByteArray();
        }
    }

    /** Files of at most {@code maxLines} lines drawn from {@code line}, each with its own line break. */
    static Arbitrary<File> files(Arbitrary<byte[]> line, int maxLines) {
        Arbitrary<Line> ended = Combinators.combine(line, Arbitraries.of("\n", "\r\n")).as(Line::new);
        return Combinators.combine(ended.list().ofMaxSize(maxLines), Arbitraries.of(true, false)).as(File::new);
    }

    /** Lines of any text: JSON's characters, blanks, a lone \r inside, multi-byte characters, an escaped \n. */
    static Arbitrary<byte[]> textLines() {
        return Arbitraries.of("a", "b", "{", "\"", " ", "\t", "\r", "é", "日", "😀", "\\n")
                .list().ofMaxSize(30)
                .map(parts -> String.join("", parts))
                .map(s -> s.endsWith("\r") ? s + "x" : s)
                .map(s -> s.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Request lines for {@code endpoint}, of a few kinds each with a few variants, so that ids
     * repeat, models differ, urls and lines go wrong, and a body holds bytes that are not UTF-8.
     */
    static Arbitrary<byte[]> requestLines(String endpoint) {
        Arbitrary<String> id = Arbitraries.of("a", "b", "c", "d", "e", "f", "g", "h", "é", "\\u00e9");
        Arbitrary<String> model = Arbitraries.of("m", "m", "m", "n");
        Arbitrary<String> url = Arbitraries.of(endpoint, endpoint, endpoint, "/v1/embeddings");
        Arbitrary<String> pad = Arbitraries.of("", "x", "日本", "😀", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "\\\"q\\\"")
                .list().ofMaxSize(6).map(l -> String.join("", l));
        Arbitrary<byte[]> valid = Combinators.combine(id, model, url, pad).as((i, m, u, p) -> ("{\"custom_id\":\"" + i
                + "\",\"method\":\"POST\",\"url\":\"" + u + "\",\"body\":{\"model\":\"" + m + "\",\"messages\":[{\"content\":\"" + p
                + "\"}]}}").getBytes(StandardCharsets.UTF_8));
        Arbitrary<byte[]> fixed = Arbitraries.of("", "   ", "\t", "not json", "{", "[1,2]", "{} {}",
                "{\"custom_id\":5,\"method\":\"POST\",\"url\":\"" + endpoint + "\",\"body\":{\"model\":\"m\"}}",
                "{\"custom_id\":\"z\",\"method\":\"GET\",\"url\":\"" + endpoint + "\",\"body\":{\"model\":\"m\"}}",
                "{\"custom_id\":\"y\",\"method\":\"POST\",\"body\":{\"model\":\"m\"}}",
                "{\"custom_id\":\"x\",\"method\":\"POST\",\"url\":\"/v1/embeddings\"}",
                "{\"custom_id\":\"w\",\"method\":\"POST\",\"url\":\"" + endpoint + "\",\"body\":[1]}",
                "{\"custom_id\":\"v\",\"method\":\"POST\",\"url\":\"" + endpoint + "\",\"body\":{\"x\":1}}",
                "{\"method\":\"POST\",\"url\":\"" + endpoint + "\",\"body\":{\"model\":\"m\"}}",
                "{\"custom_id\":\"u\",\"method\":\"POST\",\"url\":\"/v1/\\u0000\",\"body\":{\"model\":\"m\"}}")
                .map(s -> s.getBytes(StandardCharsets.UTF_8));
        // a body with an overlong encoding inside a string: the JSON parser lets it through, PostgreSQL would not
        Arbitrary<byte[]> badUtf8 = id.map(i -> concat(("{\"custom_id\":\"" + i + "\",\"method\":\"POST\",\"url\":\"" + endpoint
                + "\",\"body\":{\"model\":\"m\",\"t\":\"").getBytes(StandardCharsets.UTF_8), new byte[] { (byte) 0xc0, (byte) 0xaf },
                "\"}}".getBytes(StandardCharsets.UTF_8)));
        return Arbitraries.frequencyOf(Tuple.of(12, valid), Tuple.of(4, fixed), Tuple.of(1, badUtf8));
    }

    /** Cuts {@code file} at the points given (taken modulo its length + 1; a point given twice makes an empty piece). */
    static List<byte[]> cut(byte[] file, List<Integer> cuts) {
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

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
