package dev.openbatch.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;

class CustomIdsTest {

    @Test
    void aMillionDistinctIdsAreAllNewThenAllSeen() {
        CustomIds ids = new CustomIds();
        for (int i = 1; i <= 1_000_000; i++) {
            assertTrue(ids.add("req-" + i), "req-" + i);
        }
        assertEquals(1_000_000, ids.size());
        // at most half full: 2^21 slots of eight bytes, 16 MiB
        assertEquals(1 << 21, ids.capacity());
        for (int i = 1; i <= 1_000_000; i += 997) {
            assertFalse(ids.add("req-" + i), "req-" + i);
        }
        assertEquals(1_000_000, ids.size());
    }

    @Test
    void idsThatDifferInOneCharacterOrTheirLengthDiffer() {
        Random r = new Random(7);
        Set<Long> seen = new HashSet<>();
        CustomIds ids = new CustomIds();
        for (int i = 0; i < 200_000; i++) {
            StringBuilder sb = new StringBuilder();
            int n = 1 + r.nextInt(40);
            for (int j = 0; j < n; j++) {
                sb.append((char) ('a' + r.nextInt(3)));
            }
            String s = sb.toString();
            assertEquals(seen.add(CustomIds.fingerprint(s)), ids.add(s), s);
        }
        assertNotEquals(CustomIds.fingerprint("a"), CustomIds.fingerprint("a\0"));
        assertNotEquals(CustomIds.fingerprint(""), CustomIds.fingerprint("\0"));
        assertNotEquals(CustomIds.fingerprint("abcd"), CustomIds.fingerprint("abce"));
        assertNotEquals(0L, CustomIds.fingerprint(""));
    }

    @Test
    void fingerprintsOfSequentialIdsDoNotCollide() {
        Set<Long> f = new HashSet<>();
        for (int i = 0; i < 2_000_000; i++) {
            assertTrue(f.add(CustomIds.fingerprint("line-" + i)), "line-" + i);
        }
    }
}
