package dev.openbatch.api;

import java.security.SecureRandom;
import java.util.Base64;

/** The one place IDs are made: a prefix and 24 URL-safe characters from 144 random bits. */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();

    private Ids() {
    }

    public static String file() { return make("file-"); }
    public static String batch() { return make("batch-"); }
    public static String job() { return make("job-"); }
    public static String batchRequest() { return make("batch_req-"); }
    public static String request() { return make("req-"); }

    static String make(String prefix) {
        byte[] bytes = new byte[18];
        RANDOM.nextBytes(bytes);
        return prefix + ENCODER.encodeToString(bytes);
    }
}
