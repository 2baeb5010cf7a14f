package dev.openbatch.webhooks;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * The webhook endpoint object, shaped as OpenAI's ({@code object: "webhook_endpoint"}), so its SDKs
 * read it. {@code signing_secret} is only in the answers of create and rotate_secret.
 */
@RegisterForReflection
public record WebhookEndpointView(String id, String object, String url, String name, List<String> event_types,
        String signing_secret_hint, @JsonInclude(JsonInclude.Include.NON_NULL) String signing_secret, long created_at,
        long updated_at) {
}
