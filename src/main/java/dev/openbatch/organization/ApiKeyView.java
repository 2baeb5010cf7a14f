package dev.openbatch.organization;

import dev.openbatch.store.ProjectStore;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * The {@code organization.project.api_key} object, as OpenAI shows it. Every key made here
 * belongs to a service account of its own (OpenAI's owner for keys that are not a person's),
 * which carries the key's id and name.
 */
@RegisterForReflection
public record ApiKeyView(String object, String redacted_value, String name, long created_at, Long last_used_at, String id, Owner owner) {

    @RegisterForReflection
    public record Owner(String type, ServiceAccount service_account) {
    }

    @RegisterForReflection
    public record ServiceAccount(String object, String id, String name, String role, long created_at) {
    }

    static ApiKeyView of(ProjectStore.Key k) {
        return new ApiKeyView("organization.project.api_key", k.redacted(), k.name(), k.createdAt(), k.lastUsedAt(), k.id(),
                new Owner("service_account", new ServiceAccount("organization.project.service_account", k.id(), k.name(), "member", k.createdAt())));
    }

    /** A new key: the object and, this once, its secret ({@code value}). */
    @RegisterForReflection
    public record Created(String object, String value, String redacted_value, String name, long created_at, Long last_used_at, String id,
            Owner owner) {
        static Created of(ProjectStore.Key k, String value) {
            ApiKeyView v = ApiKeyView.of(k);
            return new Created(v.object(), value, v.redacted_value(), v.name(), v.created_at(), v.last_used_at(), v.id(), v.owner());
        }
    }

    /** The answer to a revocation. */
    @RegisterForReflection
    public record Deleted(String object, String id, boolean deleted) {
    }
}
