package dev.openbatch.webhooks;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

import org.junit.jupiter.api.Test;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.Headers;
import com.openai.errors.InvalidWebhookSignatureException;
import com.openai.models.webhooks.UnwrapWebhookEvent;
import com.openai.models.webhooks.WebhookVerificationParams;

/** The Standard Webhooks signature, against the scheme's published example and the official OpenAI SDK's verification. */
class SignaturesTest {

    @Test
    void theStandardWebhooksExampleSignsAsPublished() {
        // the example of the Standard Webhooks specification and its reference libraries
        String sig = Signatures.sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                "{\"test\": 2432232314}".getBytes(StandardCharsets.UTF_8));
        assertEquals("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig);
    }

    @Test
    void aNewSecretIsThirtyTwoRandomBytesAndItsHintShowsFourCharacters() {
        String a = Signatures.newSecret();
        String b = Signatures.newSecret();
        assertTrue(a.startsWith("whsec_"));
        assertEquals(32, Base64.getDecoder().decode(a.substring(6)).length);
        assertNotEquals(a, b);
        assertEquals("whsec_..." + a.substring(a.length() - 4), Signatures.hint(a));
    }

    @Test
    void theOpenAiSdkVerifiesOurSignaturesWithEitherSecretDuringARotation() {
        String oldSecret = Signatures.newSecret();
        String newSecret = Signatures.newSecret();
        long ts = Instant.now().getEpochSecond();
        byte[] body = "{\"id\":\"evt_1\",\"object\":\"event\",\"created_at\":1,\"type\":\"batch.completed\",\"data\":{\"id\":\"batch-1\"}}"
                .getBytes(StandardCharsets.UTF_8);
        String header = Signatures.header(List.of(newSecret, oldSecret), "evt_1", ts, body);
        assertEquals(2, header.split(" ").length, "one signature per secret, separated by a space");
        Headers headers = Headers.builder().put("webhook-id", "evt_1").put("webhook-timestamp", Long.toString(ts))
                .put("webhook-signature", header).build();
        OpenAIClient sdk = OpenAIOkHttpClient.builder().apiKey("unused").baseUrl("http://127.0.0.1:1/v1").build();
        try {
            for (String secret : List.of(newSecret, oldSecret)) {
                UnwrapWebhookEvent e = sdk.webhooks().unwrap(WebhookVerificationParams.builder().payload(body).headers(headers)
                        .secret(secret).build());
                assertEquals("batch-1", e.batchCompleted().orElseThrow().data().id());
            }
            String stranger = Signatures.newSecret();
            assertThrows(InvalidWebhookSignatureException.class, () -> sdk.webhooks().verifySignature(
                    WebhookVerificationParams.builder().payload(body).headers(headers).secret(stranger).build()));
            byte[] tampered = new String(body, StandardCharsets.UTF_8).replace("batch-1", "batch-2").getBytes(StandardCharsets.UTF_8);
            assertThrows(InvalidWebhookSignatureException.class, () -> sdk.webhooks().verifySignature(
                    WebhookVerificationParams.builder().payload(tampered).headers(headers).secret(newSecret).build()));
            assertDoesNotThrow(() -> sdk.webhooks().verifySignature(WebhookVerificationParams.builder().payload(body).headers(headers)
                    .secret(newSecret).tolerance(Duration.ofMinutes(5)).build()));
        } finally {
            sdk.close();
        }
    }
}
