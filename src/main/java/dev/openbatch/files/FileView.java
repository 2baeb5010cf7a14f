package dev.openbatch.files;

/** The File object of the API. */
public record FileView(String id, String object, long bytes, long created_at, Long expires_at,
        String filename, String purpose, String status) {
}
