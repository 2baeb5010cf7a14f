package dev.openbatch.organization;

import dev.openbatch.store.ProjectStore;
import io.quarkus.runtime.annotations.RegisterForReflection;

/** The {@code organization.project} object, as OpenAI shows it. */
@RegisterForReflection
public record ProjectView(String object, String id, String name, long created_at, Long archived_at, String status) {
    static ProjectView of(ProjectStore.Project p) {
        return new ProjectView("organization.project", p.id(), p.name(), p.createdAt(), p.archivedAt(), p.status().wire());
    }
}
