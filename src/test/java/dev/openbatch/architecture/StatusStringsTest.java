package dev.openbatch.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * Statuses live in one place: no main source outside a store package (which builds its SQL) and
 * the status package (which defines the names) spells a batch status or line state in a string,
 * neither as a SQL literal ({@code 'in_progress'}) nor as a Java string ({@code "succeeded"}).
 * Everyone else names {@code BatchStatus}/{@code LineState} constants. (ArchUnit sees classes,
 * not the strings in them, so this rule reads the sources.)
 */
class StatusStringsTest {
    /** Every wire name of a batch status, a line state or a project status. */
    static final List<String> NAMES = List.of("validating", "in_progress", "finalizing", "completed", "failed", "expired",
            "cancelling", "cancelled", "queued", "running", "succeeded", "active", "archived");
    private static final Pattern LITERAL = Pattern.compile("\"((?:[^\"\\\\\\n]|\\\\.)*)\"");

    @Test
    void onlyStoresAndTheStatusPackageSpellStatuses() throws IOException {
        Path root = Path.of("src/main/java");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                String pkg = root.relativize(f.getParent()).toString().replace('/', '.');
                if (pkg.endsWith(".store") || pkg.contains(".store.") || pkg.endsWith(".status")) {
                    continue;
                }
                found.addAll(offences(root.relativize(f).toString(), Files.readString(f)));
            }
        }
        assertEquals(List.of(), found, "status strings outside the store and status packages");
    }

    /** The status strings in one source: SQL literals in any string or text block, and strings that are exactly a status. */
    static List<String> offences(String file, String source) {
        List<String> out = new ArrayList<>();
        String[] lines = source.split("\n", -1);
        boolean inTextBlock = false;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            String trimmed = line.strip();
            if (trimmed.startsWith("//") || trimmed.startsWith("*") || trimmed.startsWith("/*")) {
                continue; // comments may speak of statuses
            }
            int blockQuotes = countOf(line, "\"\"\"");
            boolean textLine = inTextBlock || blockQuotes > 0;
            if (blockQuotes % 2 == 1) {
                inTextBlock = !inTextBlock;
            }
            for (String n : NAMES) {
                if (line.contains("'" + n + "'") && (textLine || line.contains("\""))) {
                    out.add(file + ":" + (i + 1) + ": '" + n + "'");
                }
            }
            if (!textLine) {
                Matcher m = LITERAL.matcher(line);
                while (m.find()) {
                    if (NAMES.contains(m.group(1))) {
                        out.add(file + ":" + (i + 1) + ": \"" + m.group(1) + "\"");
                    }
                }
            }
        }
        return out;
    }

    private static int countOf(String s, String part) {
        int n = 0;
        for (int at = s.indexOf(part); at >= 0; at = s.indexOf(part, at + part.length())) {
            n++;
        }
        return n;
    }
}
