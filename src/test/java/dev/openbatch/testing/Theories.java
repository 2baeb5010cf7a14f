package dev.openbatch.testing;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import org.quicktheories.QuickTheory;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

/**
 * What the property tests share on top of QuickTheories: a reproducible run, and the generators
 * for text and bytes that reach the edges the code under test cares about.
 *
 * <p>Every run draws from one fixed seed, so CI and a developer see the same examples and a
 * failure repeats as it is. {@code -DQT_SEED=<n>} draws from another (a failure's report ends
 * with "Seed was n"), to explore beyond the fixed examples or replay a failure seen elsewhere.
 */
public final class Theories {
    /** The seed of every property run unless {@code QT_SEED} names another. */
    public static final long SEED = 0x0BA7C4L;

    private Theories() {
    }

    /** A property run of {@code examples} distinct examples (QuickTheories' own default is 1000) from the seed. */
    public static QuickTheory qt(int examples) {
        return QuickTheory.qt().withFixedSeed(Long.getLong("QT_SEED", SEED)).withExamples(examples);
    }

    /** One of {@code values}, shrinking towards the first. */
    @SafeVarargs
    public static <T> Gen<T> pick(T... values) {
        return Generate.pick(List.of(values));
    }

    /** Characters from {@code from} to {@code to}, both included. */
    public static Gen<Character> chars(char from, char to) {
        return Generate.range(from, to).map(i -> (char) i.intValue());
    }

    /**
     * Characters from {@code from} to {@code to} but {@code except}: drawn from the ones left, not
     * filtered, since QuickTheories counts every filtered draw against the run and gives up early.
     */
    public static Gen<Character> chars(char from, char to, String except) {
        List<Character> left = new java.util.ArrayList<>();
        for (char c = from; c <= to && c >= from; c++) {
            if (except.indexOf(c) < 0) {
                left.add(c);
            }
        }
        return Generate.pick(left);
    }

    /**
     * Any char at all (lone surrogates, NUL, noncharacters included), one in four times one of the
     * characters that break text the most often: C0 and C1 controls, DEL, line and paragraph
     * separators, NEL, a BOM, each half of a surrogate pair, quote and backslash.
     */
    public static Gen<Character> anyChar() {
        Gen<Character> edges = pick('\u0000', '\t', '\n', '\r', '\u001f', ' ', '"', '\\', '\u007f', '\u0080', '\u0085', '\u009f',
                '\u00e9', '\u2028', '\u2029', '\uFEFF', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uFFFE', '\uFFFF');
        return chars('\u0000', '\uffff').mix(edges, 25);
    }

    /** Strings of {@code min} to {@code max} chars drawn from {@code chars}. */
    public static Gen<String> strings(Gen<Character> chars, int min, int max) {
        return lists(chars, min, max).map(l -> l.stream().map(String::valueOf).collect(Collectors.joining()))
                .describedAs(Theories::printable);
    }

    /** Lists of {@code min} to {@code max} elements. */
    public static <T> Gen<List<T>> lists(Gen<T> elements, int min, int max) {
        return org.quicktheories.generators.SourceDSL.lists().of(elements).ofSizeBetween(min, max);
    }

    /** Byte arrays of at most {@code max} bytes, any values. */
    public static Gen<byte[]> bytes(int max) {
        return Generate.byteArrays(Generate.range(0, max), Generate.bytes(Byte.MIN_VALUE, Byte.MAX_VALUE, (byte) 0))
                .describedAs(Arrays::toString);
    }

    /** {@code s} with every char outside printable ASCII as a \\u escape (and a backslash doubled), clipped at 500 chars, for failure reports. */
    public static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 500) + 2).append('"');
        for (char c : s.substring(0, Math.min(s.length(), 500)).toCharArray()) {
            if (c == '\\') {
                b.append("\\\\");
            } else if (c >= ' ' && c <= '~') {
                b.append(c);
            } else {
                b.append(String.format("\\u%04x", (int) c));
            }
        }
        return b.append('"').append(s.length() > 500 ? "...(" + s.length() + " chars)" : "").toString();
    }
}
