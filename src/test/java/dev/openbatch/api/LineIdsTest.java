package dev.openbatch.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** The ids of a batch's lines: one per line, the same each time, the line back from the id, nothing from another key. */
class LineIdsTest {
    private static final SecureRandom RANDOM = new SecureRandom();

    private static byte[] key() {
        byte[] k = new byte[16];
        RANDOM.nextBytes(k);
        return k;
    }

    @Test
    void everyLineHasItsOwnStableIdThatGivesTheLineBack() {
        byte[] key = key();
        Ids.LineIds ids = new Ids.LineIds(key);
        Set<String> seen = new HashSet<>();
        for (int line : new int[] { 1, 2, 3, 255, 256, 65_536, 50_000, 10_000_000, Integer.MAX_VALUE }) {
            String id = ids.of(line);
            assertTrue(id.matches("batch_req-[0-9A-Za-z]{22}"), id);
            assertTrue(seen.add(id), "two lines share " + id);
            assertEquals(id, new Ids.LineIds(key).of(line), "another instance with the same key makes the same id");
            assertEquals(line, ids.line(id));
        }
        for (int line = 1; line <= 20_000; line++) {
            String id = ids.of(line);
            assertEquals(line, ids.line(id));
            seen.add(id);
        }
        assertEquals(20_000 + 4, seen.size(), "20,000 lines, 20,000 ids (plus the large lines above)");
    }

    @Test
    void anIdMeansNothingUnderAnotherKeyAndForgeriesAreRefused() {
        Ids.LineIds a = new Ids.LineIds(key());
        Ids.LineIds b = new Ids.LineIds(key());
        assertNotEquals(a.of(7), b.of(7), "another batch's line 7 has another id");
        int taken = 0;
        for (int line = 1; line <= 1000; line++) {
            taken += b.line(a.of(line)) == null ? 0 : 1;
        }
        assertEquals(0, taken, "no id of one batch names a line of another");
        for (String bad : new String[] { null, "", "batch_req-", "batch_req-abc", "file-0123456789012345678901", "batch_req-zzzzzzzzzzzzzzzzzzzzzz",
                "batch_req-000000000000000000000!", "batch_req-0000000000000000000000", Ids.batch() }) {
            assertNull(a.line(bad), "'" + bad + "' is no line's id");
        }
        String id = a.of(42);
        char last = id.charAt(id.length() - 1);
        assertNull(a.line(id.substring(0, id.length() - 1) + (last == 'a' ? 'b' : 'a')), "a changed character makes no id");
    }
}
