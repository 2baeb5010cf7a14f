package dev.openbatch.validation;

import static dev.openbatch.testing.Theories.anyChar;
import static dev.openbatch.testing.Theories.chars;
import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.qt;
import static dev.openbatch.testing.Theories.strings;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import dev.openbatch.testing.Theories;

/** Well-formed UTF-8 as PostgreSQL's text wants it, checked against the JDK's strict decoder. */
class Utf8Test {
    private static boolean strict(byte[] b, int from, int to) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b, from, to - from));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    @Test
    void theFormsPostgresqlRefusesAreRefused() {
        for (byte[] bad : List.of(bytes(0xc0, 0xaf), bytes(0xc1, 0xbf), bytes(0xe0, 0x80, 0xaf), bytes(0xed, 0xa0, 0x80),
                bytes(0xf0, 0x80, 0x80, 0xaf), bytes(0xf4, 0x90, 0x80, 0x80), bytes(0xf5, 0x80, 0x80, 0x80), bytes(0x80),
                bytes(0xe2, 0x82), bytes(0xff))) {
            for (int at = 0; at < 20; at++) { // wherever it falls in a word of eight
                byte[] b = new byte[at + bad.length + 9];
                java.util.Arrays.fill(b, (byte) 'a');
                System.arraycopy(bad, 0, b, at, bad.length);
                assertFalse(Utf8.valid(b, 0, b.length), "at " + at);
                assertTrue(Utf8.valid(b, 0, at), "the bytes before it");
            }
        }
        byte[] good = "aé日😀\u007f\u0080\uffff".getBytes(StandardCharsets.UTF_8);
        assertTrue(Utf8.valid(good, 0, good.length));
        // a sequence cut by the end of the range
        byte[] cut = "ab日".getBytes(StandardCharsets.UTF_8);
        assertFalse(Utf8.valid(cut, 0, cut.length - 1));
    }

    /** Pieces of text (any chars, so also what a lone surrogate encodes to), of ASCII, and of any bytes, joined. */
    static Gen<byte[]> mixed() {
        Gen<byte[]> pieces = Generate.oneOf(
                strings(anyChar(), 0, 12).map(s -> s.getBytes(StandardCharsets.UTF_8)),
                strings(chars('\u0000', '\u007f'), 0, 20).map(s -> s.getBytes(StandardCharsets.UTF_8)),
                Theories.bytes(4));
        return lists(pieces, 0, 12).map(list -> {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            list.forEach(out::writeBytes);
            return out.toByteArray();
        }).describedAs(java.util.Arrays::toString);
    }

    @Test
    void agreesWithTheStrictDecoder() {
        qt(5000).forAll(mixed(), Generate.range(0, 30)).check((b, skip) -> {
            int from = Math.min(skip, b.length);
            return Utf8.valid(b, from, b.length) == strict(b, from, b.length);
        });
    }
}
