package dev.openbatch.webhooks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The webhook signing secrets as the database keeps them: sealed with AES-256-GCM under the
 * operator's key ({@code openbatch.webhooks.secret-key}), so that a copy of the database (a
 * backup, a replica, a read-only role) does not sign events as the service. A sealed value is
 * {@code enc:v1:<key id>:<base64 of nonce | ciphertext | tag>}: a random 96-bit nonce per value,
 * the key id the first 8 hex digits of the key's SHA-256 (which key sealed it, never the key), and
 * the endpoint's id as associated data, so that a value copied onto another endpoint's row does not
 * open there. The keys of {@code previous-secret-keys} open values too, so that an operator can
 * move to a new key; values that are not sealed (written in clear by versions before this one)
 * open as they are. What cannot be opened fails with {@link Unreadable}, never with a wrong secret.
 */
public final class SecretBox {
    /** What every sealed value starts with; a value without it was stored in clear. */
    public static final String SEALED = "enc:";
    private static final String V1 = SEALED + "v1:";
    private static final int KEY_BYTES = 32;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The key that seals (null: none configured), and every key that opens, by key id. */
    private final String current;
    private final Map<String, SecretKeySpec> keys;

    /** A value that cannot be opened: sealed under a key this process does not have, altered, or moved to another row. */
    public static final class Unreadable extends RuntimeException {
        Unreadable(String message) {
            super(message, null, false, false);
        }
    }

    /** Sealing was asked of a process that has no key. */
    public static final class NoKey extends RuntimeException {
        NoKey() {
            super("openbatch.webhooks.secret-key is not set", null, false, false);
        }
    }

    /**
     * @param current  the key that seals, or null for none (values then can only be read, if in clear)
     * @param previous keys that only open
     * @throws IllegalArgumentException when a key is not 32 bytes, or two different keys share an id
     */
    public SecretBox(byte[] current, List<byte[]> previous) {
        Map<String, SecretKeySpec> all = new LinkedHashMap<>();
        List<byte[]> every = new ArrayList<>();
        if (current != null) {
            every.add(current);
        }
        every.addAll(previous);
        for (byte[] k : every) {
            if (k.length != KEY_BYTES) {
                throw new IllegalArgumentException("a webhook secret key must be 32 bytes (AES-256), this one is " + k.length);
            }
            String id = keyId(k);
            SecretKeySpec spec = new SecretKeySpec(k, "AES");
            SecretKeySpec before = all.putIfAbsent(id, spec);
            if (before != null && !MessageDigest.isEqual(before.getEncoded(), k)) {
                throw new IllegalArgumentException("two different webhook secret keys share the key id " + id + "; make another key");
            }
        }
        this.current = current == null ? null : keyId(current);
        this.keys = Map.copyOf(all);
    }

    /**
     * The keys of {@code config}: {@code secret-key} seals, it and {@code previous-secret-keys} open.
     *
     * @throws IllegalArgumentException naming the setting whose value is not the base64 of 32 bytes
     */
    public static SecretBox of(WebhooksConfig config) {
        return of(config.secretKey().orElse(null), config.previousSecretKeys().orElse(List.of()));
    }

    /** The keys in their configured form, base64: {@code current} (null or blank: none) seals, it and {@code previous} open. */
    static SecretBox of(String current, List<String> previous) {
        byte[] key = current == null || current.isBlank() ? null : decode("openbatch.webhooks.secret-key", current);
        return new SecretBox(key, previous.stream().filter(k -> !k.isBlank())
                .map(k -> decode("openbatch.webhooks.previous-secret-keys", k)).toList());
    }

    private static byte[] decode(String setting, String base64) {
        byte[] k;
        try {
            k = Base64.getDecoder().decode(base64.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(setting + " is not base64; make a key with `openssl rand -base64 32`");
        }
        if (k.length != KEY_BYTES) {
            throw new IllegalArgumentException(setting + " must be the base64 of 32 bytes, not " + k.length
                    + "; make a key with `openssl rand -base64 32`");
        }
        return k;
    }

    /** A key's id: the first 8 hex digits of its SHA-256 ({@code base64 -d | sha256sum | cut -c1-8}). */
    public static String keyId(byte[] key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key), 0, 4);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    /** Whether this process can seal (it has {@code secret-key}). */
    public boolean canSeal() {
        return current != null;
    }

    /** The id of the key that seals, or null. */
    public String currentKeyId() {
        return current;
    }

    /** What every value sealed under the current key starts with (null without a key). */
    public String currentPrefix() {
        return current == null ? null : V1 + current + ":";
    }

    /** Whether {@code stored} is sealed under the current key (a null value needs nothing either). */
    public boolean isCurrent(String stored) {
        return stored == null || current != null && stored.startsWith(currentPrefix());
    }

    /** Whether {@code stored} was kept in clear. */
    public static boolean inClear(String stored) {
        return stored != null && !stored.startsWith(SEALED);
    }

    /** {@code secret} sealed for endpoint {@code endpointId} under the current key. */
    public String seal(String endpointId, String secret) {
        if (current == null) {
            throw new NoKey();
        }
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, keys.get(current), new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(endpointId.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = c.doFinal(secret.getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return V1 + current + ":" + Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/GCM is part of every Java runtime", e);
        }
    }

    /**
     * The secret of endpoint {@code endpointId} from its stored form: opened when sealed, as it is
     * when kept in clear; null for null.
     *
     * @throws Unreadable when it is sealed and no key of this process opens it for this endpoint
     */
    public String open(String endpointId, String stored) {
        if (stored == null || inClear(stored)) {
            return stored;
        }
        if (!stored.startsWith(V1)) {
            throw new Unreadable("the signing secret is sealed in a format this version does not know ("
                    + stored.substring(0, Math.min(stored.length(), 8)) + "...)");
        }
        int colon = stored.indexOf(':', V1.length());
        if (colon < 0) {
            throw new Unreadable("the signing secret's sealed form is malformed");
        }
        String id = stored.substring(V1.length(), colon);
        SecretKeySpec key = keys.get(id);
        if (key == null) {
            throw new Unreadable(keys.isEmpty()
                    ? "the signing secret is sealed under key " + id + ", and openbatch.webhooks.secret-key is not set"
                    : "the signing secret is sealed under key " + id + ", which is neither openbatch.webhooks.secret-key nor one of"
                            + " openbatch.webhooks.previous-secret-keys");
        }
        byte[] all;
        try {
            all = Base64.getDecoder().decode(stored.substring(colon + 1));
        } catch (IllegalArgumentException e) {
            throw new Unreadable("the signing secret's sealed form is malformed");
        }
        if (all.length < NONCE_BYTES + TAG_BITS / 8) {
            throw new Unreadable("the signing secret's sealed form is malformed");
        }
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, all, 0, NONCE_BYTES));
            c.updateAAD(endpointId.getBytes(StandardCharsets.UTF_8));
            return new String(c.doFinal(all, NONCE_BYTES, all.length - NONCE_BYTES), StandardCharsets.UTF_8);
        } catch (AEADBadTagException e) {
            throw new Unreadable("the signing secret sealed under key " + id + " does not authenticate for endpoint " + endpointId
                    + ": it was altered, or belongs to another endpoint");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/GCM is part of every Java runtime", e);
        }
    }

    /**
     * {@code stored} opened, and sealed again under the current key unless it already is (then it
     * is returned as it is): a value that does not open fails here, whatever key it names.
     *
     * @throws Unreadable when it does not open
     */
    public String reseal(String endpointId, String stored) {
        String secret = open(endpointId, stored);
        return isCurrent(stored) ? stored : seal(endpointId, secret);
    }
}
