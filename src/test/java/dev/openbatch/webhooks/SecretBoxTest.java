package dev.openbatch.webhooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Base64;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The sealed form of the webhook signing secrets: AES-256-GCM, its key ids, the endpoint as associated data, and every way it refuses. */
class SecretBoxTest {
    private static final String K1 = "np/uY7acZWyY3c08Pvb7tqupPkqgUAUV1cMFw2n0wF0=";
    private static final String K2 = "CktkL3AgEuGzkZd0PgTvY/rUKLwKRevz9oOQpFRvBsg=";
    private static final String ENDPOINT = "webhook-abc";

    private static SecretBox box(String current, String... previous) {
        return SecretBox.of(current, List.of(previous));
    }

    @Test
    void aSealedSecretIsVersionedNamesItsKeyAndHoldsNothingOfTheSecret() {
        SecretBox box = box(K1);
        String secret = Signatures.newSecret();
        String sealed = box.seal(ENDPOINT, secret);
        String id = SecretBox.keyId(Base64.getDecoder().decode(K1));
        assertTrue(sealed.startsWith("enc:v1:" + id + ":"), sealed);
        assertEquals(id, box.currentKeyId());
        assertFalse(sealed.contains(secret));
        assertFalse(sealed.contains(secret.substring("whsec_".length())), "nor the secret's base64 payload");
        byte[] payload = Base64.getDecoder().decode(sealed.substring(("enc:v1:" + id + ":").length()));
        assertEquals(12 + secret.length() + 16, payload.length, "a 96-bit nonce, the ciphertext and a 128-bit tag");
        assertEquals(secret, box.open(ENDPOINT, sealed));
        assertNotEquals(sealed, box.seal(ENDPOINT, secret), "a fresh nonce each time");
        assertTrue(box.isCurrent(sealed));
        assertFalse(SecretBox.inClear(sealed));
    }

    @Test
    void aKeyIdIsTheStartOfTheKeysSha256() {
        // sha256 of 32 zero bytes: 66687aadf862bd77...
        assertEquals("66687aad", SecretBox.keyId(new byte[32]));
    }

    @Test
    void anotherKeyCannotOpenIt() {
        String sealed = box(K1).seal(ENDPOINT, Signatures.newSecret());
        SecretBox.Unreadable e = assertThrows(SecretBox.Unreadable.class, () -> box(K2).open(ENDPOINT, sealed));
        assertTrue(e.getMessage().contains(SecretBox.keyId(Base64.getDecoder().decode(K1))), e.getMessage());
        assertTrue(e.getMessage().contains("previous-secret-keys"), e.getMessage());
        // the right key id on the value, but another key behind it: the tag does not authenticate
        String relabelled = "enc:v1:" + box(K2).currentKeyId() + sealed.substring(("enc:v1:" + box(K1).currentKeyId()).length());
        assertThrows(SecretBox.Unreadable.class, () -> box(K2).open(ENDPOINT, relabelled));
        SecretBox.Unreadable none = assertThrows(SecretBox.Unreadable.class, () -> box(null).open(ENDPOINT, sealed));
        assertTrue(none.getMessage().contains("secret-key is not set"), none.getMessage());
    }

    @Test
    void anyAlteredByteIsRefused() {
        SecretBox box = box(K1);
        String sealed = box.seal(ENDPOINT, Signatures.newSecret());
        String prefix = "enc:v1:" + box.currentKeyId() + ":";
        byte[] payload = Base64.getDecoder().decode(sealed.substring(prefix.length()));
        // one byte of the nonce, of the ciphertext, of the tag
        for (int i : new int[] { 0, 11, 12, 30, payload.length - 16, payload.length - 1 }) {
            byte[] altered = payload.clone();
            altered[i] ^= 1;
            String tampered = prefix + Base64.getEncoder().encodeToString(altered);
            SecretBox.Unreadable e = assertThrows(SecretBox.Unreadable.class, () -> box.open(ENDPOINT, tampered), "byte " + i);
            assertTrue(e.getMessage().contains("does not authenticate"), e.getMessage());
        }
        byte[] cut = java.util.Arrays.copyOf(payload, payload.length - 1);
        assertThrows(SecretBox.Unreadable.class, () -> box.open(ENDPOINT, prefix + Base64.getEncoder().encodeToString(cut)));
        assertThrows(SecretBox.Unreadable.class, () -> box.open(ENDPOINT, prefix + "AAAA"), "shorter than a nonce and a tag");
        assertThrows(SecretBox.Unreadable.class, () -> box.open(ENDPOINT, prefix + "not base64!"));
        assertThrows(SecretBox.Unreadable.class, () -> box.open(ENDPOINT, "enc:v1:nocolon"));
        assertThrows(SecretBox.Unreadable.class, () -> box.open(ENDPOINT, sealed.replace("enc:v1:", "enc:v2:")), "an unknown version");
    }

    @Test
    void aValueMovedToAnotherEndpointDoesNotOpenThere() {
        SecretBox box = box(K1);
        String sealed = box.seal(ENDPOINT, Signatures.newSecret());
        SecretBox.Unreadable e = assertThrows(SecretBox.Unreadable.class, () -> box.open("webhook-other", sealed));
        assertTrue(e.getMessage().contains("another endpoint"), e.getMessage());
    }

    @Test
    void aPreviousKeyOpensAndResealingMovesTheValueToTheCurrentKey() {
        String secret = Signatures.newSecret();
        String underOld = box(K1).seal(ENDPOINT, secret);
        SecretBox rotated = box(K2, K1);
        assertFalse(rotated.isCurrent(underOld));
        assertEquals(secret, rotated.open(ENDPOINT, underOld));
        String resealed = rotated.reseal(ENDPOINT, underOld);
        assertTrue(resealed.startsWith("enc:v1:" + rotated.currentKeyId() + ":"), resealed);
        assertTrue(rotated.isCurrent(resealed));
        assertSame(resealed, rotated.reseal(ENDPOINT, resealed), "a value under the current key stays as it is");
        assertEquals(secret, box(K2).open(ENDPOINT, resealed), "the old key is no longer needed");
        assertThrows(SecretBox.Unreadable.class, () -> rotated.reseal("webhook-other", resealed),
                "under the current key, but another endpoint's: refused, not kept");
    }

    @Test
    void aSecretKeptInClearOpensAsItIsAndIsSealedByResealing() {
        String secret = Signatures.newSecret();
        SecretBox box = box(K1);
        assertTrue(SecretBox.inClear(secret));
        assertFalse(box.isCurrent(secret));
        assertEquals(secret, box.open(ENDPOINT, secret));
        assertEquals(secret, box(null).open(ENDPOINT, secret), "no key needed to read what was kept in clear");
        String sealed = box.reseal(ENDPOINT, secret);
        assertTrue(box.isCurrent(sealed));
        assertEquals(secret, box.open(ENDPOINT, sealed));
        assertNull(box.open(ENDPOINT, null));
        assertTrue(box.isCurrent(null), "no previous secret needs nothing");
    }

    @Test
    void withoutAKeyNothingIsSealed() {
        SecretBox none = box(null);
        assertFalse(none.canSeal());
        assertNull(none.currentPrefix());
        assertThrows(SecretBox.NoKey.class, () -> none.seal(ENDPOINT, Signatures.newSecret()));
        assertFalse(box(" ").canSeal(), "a blank setting is no key");
    }

    @Test
    void aKeyThatIsNotTheBase64Of32BytesStopsTheStartNamingItsSetting() {
        IllegalArgumentException notBase64 = assertThrows(IllegalArgumentException.class, () -> box("change-me"));
        assertTrue(notBase64.getMessage().contains("openbatch.webhooks.secret-key"), notBase64.getMessage());
        assertTrue(notBase64.getMessage().contains("openssl rand -base64 32"), notBase64.getMessage());
        IllegalArgumentException shortKey = assertThrows(IllegalArgumentException.class,
                () -> box(K1, Base64.getEncoder().encodeToString(new byte[16])));
        assertTrue(shortKey.getMessage().contains("openbatch.webhooks.previous-secret-keys"), shortKey.getMessage());
        assertTrue(shortKey.getMessage().contains("not 16"), shortKey.getMessage());
        // the current key among the previous ones is no conflict
        assertTrue(box(K1, K1).canSeal());
    }
}
