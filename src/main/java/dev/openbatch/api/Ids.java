package dev.openbatch.api;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;

/**
 * The one place IDs are made: a prefix and 24 random letters and digits (~143 bits); the ids of a
 * batch's lines are made by {@link LineIds}.
 */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
    private static final int LENGTH = 24;

    private Ids() {
    }

    public static String file() { return make("file-"); }
    public static String batch() { return make("batch-"); }
    public static String job() { return make("job-"); }
    /** The prefix of a line's id ({@link LineIds}). */
    public static final String BATCH_REQUEST = "batch_req-";
    public static String request() { return make("req-"); }
    public static String webhook() { return make("webhook-"); }
    public static String lease() { return make("lease-"); }
    /** An event's id, spelled as OpenAI spells them ({@code evt_…}): also the {@code webhook-id} of its deliveries. */
    public static String event() { return make("evt_"); }

    /** A project made through the admin API, spelled as OpenAI spells them. */
    public static String project() { return make("proj_"); }
    /** A project API key's id (not its secret). */
    public static String projectKey() { return make("key_"); }
    /** A project API key's secret: {@code sk-proj-} and 43 letters and digits, 256 random bits (62^43 > 2^256). */
    public static String projectKeySecret() { return make("sk-proj-", 43); }

    static String make(String prefix) {
        return make(prefix, LENGTH);
    }

    static String make(String prefix, int length) {
        StringBuilder sb = new StringBuilder(prefix.length() + length).append(prefix);
        byte[] bytes = new byte[64];
        while (sb.length() < prefix.length() + length) {
            RANDOM.nextBytes(bytes); // one draw for the whole id, almost always
            for (int i = 0; i < bytes.length && sb.length() < prefix.length() + length; i++) {
                int b = bytes[i] & 0xFF;
                if (b < 248) { // 248 = 4 * 62: keeps every character equally likely
                    sb.append(ALPHABET[b % 62]);
                }
            }
        }
        return sb.toString();
    }

    /**
     * The ids of one batch's lines: {@code batch_req-} and 22 letters and digits, the line number
     * encrypted with the batch's secret key (AES on one block: a permutation, so every line has its
     * own id and the id gives the line back). The same line has the same id wherever it is shown
     * (the output and error files, the results stream, the list of lines), the key never leaves
     * the database, and no id says anything about another. Not thread-safe: one per use.
     */
    public static final class LineIds {
        private static final int DIGITS = 22; // 62^22 > 2^128
        private static final int LIMB = 32;
        private final Cipher encrypt;
        private final Cipher decrypt;
        private final byte[] block = new byte[16];

        /** {@code key}: the batch's 16 bytes ({@code batches.line_key}). */
        public LineIds(byte[] key) {
            try {
                SecretKeySpec k = new SecretKeySpec(key, "AES");
                encrypt = Cipher.getInstance("AES/ECB/NoPadding"); // one block, never a message: ECB is the bare permutation
                encrypt.init(Cipher.ENCRYPT_MODE, k);
                decrypt = Cipher.getInstance("AES/ECB/NoPadding");
                decrypt.init(Cipher.DECRYPT_MODE, k);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES is not available", e);
            }
        }

        /** The id of line {@code line} (1-based). */
        public String of(int line) {
            java.util.Arrays.fill(block, (byte) 0);
            block[0] = (byte) (line >>> 24);
            block[1] = (byte) (line >>> 16);
            block[2] = (byte) (line >>> 8);
            block[3] = (byte) line;
            byte[] c;
            try {
                c = encrypt.doFinal(block);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
            long[] limbs = new long[4];
            for (int i = 0; i < 16; i++) {
                limbs[i / 4] = (limbs[i / 4] << 8) | (c[i] & 0xFF);
            }
            char[] out = new char[DIGITS];
            for (int d = DIGITS - 1; d >= 0; d--) {
                long rem = 0;
                for (int j = 0; j < 4; j++) {
                    long cur = (rem << LIMB) | limbs[j];
                    limbs[j] = cur / 62;
                    rem = cur % 62;
                }
                out[d] = ALPHABET[(int) rem];
            }
            return BATCH_REQUEST + new String(out);
        }

        /** The line whose id this is, or null when it is no id of this batch's lines. */
        public Integer line(String id) {
            if (id == null || id.length() != BATCH_REQUEST.length() + DIGITS || !id.startsWith(BATCH_REQUEST)) {
                return null;
            }
            long[] limbs = new long[4];
            for (int i = BATCH_REQUEST.length(); i < id.length(); i++) {
                int digit = digit(id.charAt(i));
                if (digit < 0) {
                    return null;
                }
                long carry = digit;
                for (int j = 3; j >= 0; j--) {
                    long cur = limbs[j] * 62 + carry;
                    limbs[j] = cur & 0xFFFFFFFFL;
                    carry = cur >>> LIMB;
                }
                if (carry != 0) {
                    return null; // more than 128 bits
                }
            }
            byte[] c = new byte[16];
            for (int i = 0; i < 16; i++) {
                c[i] = (byte) (limbs[i / 4] >>> (8 * (3 - i % 4)));
            }
            byte[] p;
            try {
                p = decrypt.doFinal(c);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
            for (int i = 4; i < 16; i++) {
                if (p[i] != 0) {
                    return null; // not made with this key
                }
            }
            int line = ((p[0] & 0xFF) << 24) | ((p[1] & 0xFF) << 16) | ((p[2] & 0xFF) << 8) | (p[3] & 0xFF);
            return line >= 1 ? line : null;
        }

        private static int digit(char ch) {
            if (ch >= '0' && ch <= '9') {
                return ch - '0';
            }
            if (ch >= 'A' && ch <= 'Z') {
                return ch - 'A' + 10;
            }
            if (ch >= 'a' && ch <= 'z') {
                return ch - 'a' + 36;
            }
            return -1;
        }
    }
}
