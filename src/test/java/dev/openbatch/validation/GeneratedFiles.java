package dev.openbatch.validation;

import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.pick;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import org.quicktheories.api.Pair;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import dev.openbatch.testing.Theories;

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
        @Override
        public String toString() {
            return Theories.printable(new String(bytes, StandardCharsets.UTF_8) + lineBreak);
        }
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

        @Override
        public String toString() {
            return lines.stream().map(Line::toString).collect(Collectors.joining(" ", "[", "]")) + (finalBreak ? "" : " (no final break)");
        }
    }

    /** Files of at most {@code maxLines} lines drawn from {@code line}, each with its own line break. */
    static Gen<File> files(Gen<byte[]> line, int maxLines) {
        Gen<Line> ended = line.zip(pick("\n", "\r\n"), Line::new);
        return lists(ended, 0, maxLines).zip(pick(true, false), File::new);
    }

    /** Lines of any text: JSON's characters, blanks, a lone \r inside, multi-byte characters, an escaped \n. */
    static Gen<byte[]> textLines() {
        return lists(pick("a", "b", "{", "\"", " ", "\t", "\r", "é", "日", "😀", "\\n"), 0, 30)
                .map(parts -> String.join("", parts))
                .map(s -> s.endsWith("\r") ? s + "x" : s)
                .map(s -> s.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Request lines for {@code endpoint}, of a few kinds each with a few variants, so that ids
     * repeat, models differ, urls and lines go wrong, and a body holds bytes that are not UTF-8.
     */
    static Gen<byte[]> requestLines(String endpoint) {
        Gen<String> id = pick("a", "b", "c", "d", "e", "f", "g", "h", "é", "\\u00e9");
        Gen<String> model = pick("m", "m", "m", "n");
        Gen<String> url = pick(endpoint, endpoint, endpoint, "/v1/embeddings");
        Gen<String> pad = lists(pick("", "x", "日本", "😀", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "\\\"q\\\""), 0, 6)
                .map(l -> String.join("", l));
        Gen<byte[]> valid = id.zip(model, url, pad, (i, m, u, p) -> ("{\"custom_id\":\"" + i
                + "\",\"method\":\"POST\",\"url\":\"" + u + "\",\"body\":{\"model\":\"" + m + "\",\"messages\":[{\"content\":\"" + p
                + "\"}]}}").getBytes(StandardCharsets.UTF_8));
        Gen<byte[]> fixed = pick("", "   ", "\t", "not json", "{", "[1,2]", "{} {}",
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
        Gen<byte[]> badUtf8 = id.map(i -> concat(("{\"custom_id\":\"" + i + "\",\"method\":\"POST\",\"url\":\"" + endpoint
                + "\",\"body\":{\"model\":\"m\",\"t\":\"").getBytes(StandardCharsets.UTF_8), new byte[] { (byte) 0xc0, (byte) 0xaf },
                "\"}}".getBytes(StandardCharsets.UTF_8)));
        return Generate.frequency(Pair.of(12, valid), Pair.of(4, fixed), Pair.of(1, badUtf8));
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
