package dev.openbatch.webhooks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signing by the Standard Webhooks scheme (the one OpenAI uses, and its SDKs verify): a secret is
 * {@code whsec_} and the base64 of 32 random bytes; a delivery carries {@code webhook-id},
 * {@code webhook-timestamp} (Unix seconds) and {@code webhook-signature}: {@code v1,} and the
 * base64 HMAC-SHA256 of {@code id.timestamp.body} keyed with the secret's bytes, one per secret
 * in use, separated by spaces.
 */
public final class Signatures {
    public static final String PREFIX = "whsec_";
    private static final SecureRandom RANDOM = new SecureRandom();

    private Signatures() {
    }

    /** A new signing secret. */
    public static String newSecret() {
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        return PREFIX + Base64.getEncoder().encodeToString(key);
    }

    /** What the API shows of a secret after the answer that made it: the prefix and its last four characters. */
    public static String hint(String secret) {
        return PREFIX + "..." + secret.substring(secret.length() - 4);
    }

    /** {@code v1,<base64 HMAC-SHA256 of "id.timestamp.body">} keyed with the secret's bytes. */
    public static String sign(String secret, String id, long timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key(secret), "HmacSHA256"));
            mac.update((id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
        }
    }

    /** The {@code webhook-signature} header: one signature per secret, separated by a space. */
    public static String header(List<String> secrets, String id, long timestamp, byte[] body) {
        StringBuilder sb = new StringBuilder();
        for (String s : secrets) {
            sb.append(sb.length() == 0 ? "" : " ").append(sign(s, id, timestamp, body));
        }
        return sb.toString();
    }

    static byte[] key(String secret) {
        return Base64.getDecoder().decode(secret.startsWith(PREFIX) ? secret.substring(PREFIX.length()) : secret);
    }
}
