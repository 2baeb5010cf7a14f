package dev.openbatch.validation;

/**
 * The custom_ids of a file's valid lines so far, for the duplicate check, in eight bytes a line
 * whatever their length: each is kept as a 64-bit fingerprint in an open-addressing table of
 * {@code long}s, at most half full. A million lines take 16 MiB (24 MiB for a moment while the
 * table doubles), where a set of the strings took about 100 MiB for short ids and up to 1 GiB for
 * ids of 512 characters.
 * <p>
 * Two different custom_ids with the same fingerprint read as a duplicate: with n distinct ids
 * that happens with a chance of about n² / 2⁶⁵, to one file of a million lines in 37 million (its
 * batch then fails with {@code duplicate_custom_id} naming the line; another id on that line
 * passes). Plain code; not thread-safe.
 */
final class CustomIds {
    private long[] table = new long[1024];
    private int size;

    /** Adds the id; false when it (or an id with the same fingerprint) was added before. */
    boolean add(String customId) {
        long f = fingerprint(customId);
        if (place(table, f)) {
            if (++size * 2 > table.length) {
                grow();
            }
            return true;
        }
        return false;
    }

    int size() { return size; }

    /** Puts {@code f} into {@code t} unless it is there; true when it was put. */
    private static boolean place(long[] t, long f) {
        int mask = t.length - 1;
        for (int i = (int) f & mask;; i = (i + 1) & mask) {
            long at = t[i];
            if (at == 0) {
                t[i] = f;
                return true;
            }
            if (at == f) {
                return false;
            }
        }
    }

    private void grow() {
        long[] bigger = new long[table.length * 2];
        for (long f : table) {
            if (f != 0) {
                place(bigger, f);
            }
        }
        table = bigger;
    }

    /**
     * A 64-bit fingerprint of the id's characters (MurmurHash3's 64-bit mixing, four characters at a
     * time), never 0 (the table's empty slot), well spread in its low bits (the table's index).
     */
    static long fingerprint(String s) {
        final long c1 = 0x87c37b91114253d5L;
        final long c2 = 0x4cf5ad432745937fL;
        int n = s.length();
        long h = 0x9e3779b97f4a7c15L;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            long k = s.charAt(i) | (long) s.charAt(i + 1) << 16 | (long) s.charAt(i + 2) << 32 | (long) s.charAt(i + 3) << 48;
            h ^= mixK(k, c1, c2);
            h = Long.rotateLeft(h, 27) * 5 + 0x52dce729;
        }
        long k = 0;
        for (int shift = 0; i < n; i++, shift += 16) {
            k |= (long) s.charAt(i) << shift;
        }
        h ^= mixK(k, c1, c2);
        h = fmix(h ^ n);
        return h == 0 ? 1 : h;
    }

    private static long mixK(long k, long c1, long c2) {
        k *= c1;
        k = Long.rotateLeft(k, 31);
        return k * c2;
    }

    private static long fmix(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    @Override
    public String toString() {
        return "CustomIds[" + size + " of " + table.length + "]";
    }

    /** For tests: the table's length. */
    int capacity() { return table.length; }
}
