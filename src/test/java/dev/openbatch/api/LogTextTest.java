package dev.openbatch.api;

import static dev.openbatch.testing.Theories.anyChar;
import static dev.openbatch.testing.Theories.chars;
import static dev.openbatch.testing.Theories.printable;
import static dev.openbatch.testing.Theories.qt;
import static dev.openbatch.testing.Theories.strings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.generators.SourceDSL.booleans;

import org.junit.jupiter.api.Test;
import org.quicktheories.api.Pair;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

class LogTextTest {
    /** Whatever a client sends, what goes into a log line cannot break it: no control character, no line separator, bounded. */
    @Test
    void noValueCanEndALogLine() {
        qt(2000).forAll(strings(anyChar(), 0, 400)).checkAssert(s -> {
            String out = LogText.of(s);
            assertTrue(out.length() <= LogText.MAX + 3, out);
            assertTrue(out.chars().noneMatch(c -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029'), out);
        });
    }

    @Test
    void printableTextIsKeptAsItIs() {
        qt(1000).forAll(strings(chars(' ', '['), 0, 200)).checkAssert(s -> assertEquals(s, LogText.of(s)));
    }

    /** Two values, or a value and its near miss: one of its chars replaced by the text LogText escapes it to. */
    static Gen<Pair<String, String>> pairs() {
        return strings(anyChar(), 0, 30).zip(strings(anyChar(), 0, 30), Generate.range(0, 29), booleans().all(), (a, b, at, near) -> {
            if (!near || a.isEmpty()) {
                return Pair.of(a, b);
            }
            int i = at % a.length();
            return Pair.of(a, a.substring(0, i) + LogText.of(a.substring(i, i + 1)) + a.substring(i + 1));
        });
    }

    @Test
    void distinctValuesStayDistinct() {
        qt(1000).forAll(pairs()).checkAssert(p -> {
            if (!p._1.equals(p._2)) {
                assertTrue(!LogText.of(p._1).equals(LogText.of(p._2)), printable(p._1) + " / " + printable(p._2));
            }
        });
    }

    @Test
    void aHeaderValueHasAControlCharacterExactlyWhenItHoldsC0OrDel() {
        qt(1000).forAll(strings(anyChar(), 0, 50))
                .checkAssert(s -> assertEquals(s.chars().anyMatch(c -> c < 0x20 || c == 0x7f), HttpLayer.hasControlCharacter(s), s));
    }
}
