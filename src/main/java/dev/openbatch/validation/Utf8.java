package dev.openbatch.validation;

/**
 * Whether bytes are well-formed UTF-8, by the rules PostgreSQL applies to text: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no sequence cut short. Plain code.
 */
final class Utf8 {
    private Utf8() {
    }

    /** True when {@code b[from, to)} is well-formed UTF-8. */
    public static boolean valid(byte[] b, int from, int to) {
        int i = from;
        while (i < to) {
            // plain ASCII, eight bytes at a time
            while (i + 8 <= to && ((long) LineScanner.LONGS.get(b, i) & 0x8080808080808080L) == 0) {
                i += 8;
            }
            if (i == to) {
                break;
            }
            int c = b[i];
            if (c >= 0) {
                i++;
                continue;
            }
            c &= 0xff;
            if (c < 0xc2) {
                return false; // a continuation byte, or the lead of an overlong two-byte form
            }
            if (c < 0xe0) {
                if (i + 1 >= to || !continuation(b[i + 1])) {
                    return false;
                }
                i += 2;
            } else if (c < 0xf0) {
                if (i + 2 >= to || !continuation(b[i + 1]) || !continuation(b[i + 2])) {
                    return false;
                }
                int c1 = b[i + 1] & 0xff;
                if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) {
                    return false; // overlong, or a surrogate
                }
                i += 3;
            } else if (c < 0xf5) {
                if (i + 3 >= to || !continuation(b[i + 1]) || !continuation(b[i + 2]) || !continuation(b[i + 3])) {
                    return false;
                }
                int c1 = b[i + 1] & 0xff;
                if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90)) {
                    return false; // overlong, or above U+10FFFF
                }
                i += 4;
            } else {
                return false;
            }
        }
        return true;
    }

    private static boolean continuation(byte b) {
        return (b & 0xc0) == 0x80;
    }
}
