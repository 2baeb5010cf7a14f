package dev.openbatch.api;

import java.security.SecureRandom;

/** The one place IDs are made: a prefix and 24 random letters and digits (~143 bits). */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
    private static final int LENGTH = 24;

    private Ids() {
    }

    public static String file() { return make("file-"); }
    public static String batch() { return make("batch-"); }
    public static String job() { return make("job-"); }
    public static String batchRequest() { return make("batch_req-"); }
    public static String request() { return make("req-"); }
    public static String webhook() { return make("webhook-"); }
    /** An event's id, spelled as OpenAI spells them ({@code evt_…}): also the {@code webhook-id} of its deliveries. */
    public static String event() { return make("evt_"); }

    static String make(String prefix) {
        StringBuilder sb = new StringBuilder(prefix.length() + LENGTH).append(prefix);
        byte[] bytes = new byte[40];
        while (sb.length() < prefix.length() + LENGTH) {
            RANDOM.nextBytes(bytes); // one draw for the whole id, almost always
            for (int i = 0; i < bytes.length && sb.length() < prefix.length() + LENGTH; i++) {
                int b = bytes[i] & 0xFF;
                if (b < 248) { // 248 = 4 * 62: keeps every character equally likely
                    sb.append(ALPHABET[b % 62]);
                }
            }
        }
        return sb.toString();
    }
}
