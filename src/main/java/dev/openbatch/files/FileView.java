package dev.openbatch.files;

import io.quarkus.runtime.annotations.RegisterForReflection;

/** The File object of the API. */
@RegisterForReflection
public record FileView(String id, String object, long bytes, long created_at, Long expires_at,
        String filename, String purpose, String status) {
}
