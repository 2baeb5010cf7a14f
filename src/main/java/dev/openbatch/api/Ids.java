package dev.openbatch.api;

import java.security.SecureRandom;

/** The one place IDs are made: a prefix and 24 random URL-safe characters (~143 bits). */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ALPHABET =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
    private static final int LENGTH = 24;

    private Ids() {
    }

    public static String file() { return make("file-"); }
    public static String batch() { return make("batch-"); }
    public static String job() { return make("job-"); }
    public static String batchRequest() { return make("batch_req-"); }
    public static String request() { return make("req-"); }

    static String make(String prefix) {
        StringBuilder sb = new StringBuilder(prefix.length() + LENGTH).append(prefix);
        for (int i = 0; i < LENGTH; i++) {
            sb.append(ALPHABET[RANDOM.nextInt(ALPHABET.length)]);
        }
        return sb.toString();
    }
}
