package dev.openbatch.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.CharRange;
import net.jqwik.api.constraints.StringLength;

class LogTextTest {
    /** Whatever a client sends, what goes into a log line cannot break it: no control character, no line separator, bounded. */
    @Property(tries = 2000)
    void noValueCanEndALogLine(@ForAll @StringLength(max = 400) String s) {
        String out = LogText.of(s);
        assertTrue(out.length() <= LogText.MAX + 3, out);
        assertTrue(out.chars().noneMatch(c -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029'), out);
    }

    @Property
    void printableTextIsKeptAsItIs(@ForAll @CharRange(from = ' ', to = '[') @StringLength(max = 200) String s) {
        assertEquals(s, LogText.of(s));
    }

    @Property
    void distinctValuesStayDistinct(@ForAll @StringLength(max = 30) String a, @ForAll @StringLength(max = 30) String b) {
        if (!a.equals(b)) {
            assertTrue(!LogText.of(a).equals(LogText.of(b)), a + " / " + b);
        }
    }

    @Property
    void aHeaderValueHasAControlCharacterExactlyWhenItHoldsC0OrDel(@ForAll @StringLength(max = 50) String s) {
        assertEquals(s.chars().anyMatch(c -> c < 0x20 || c == 0x7f), HttpLayer.hasControlCharacter(s), s);
    }
}
