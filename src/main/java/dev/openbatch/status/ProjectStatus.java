package dev.openbatch.status;

/** A project's status: active, or archived (its keys stop; its data stays, readable by the admin). */
public enum ProjectStatus {
    ACTIVE, ARCHIVED;

    /** The name stored in the database and shown in the API. */
    public String wire() {
        return Wire.wire(this);
    }

    public static ProjectStatus of(String wire) {
        return Wire.of(ProjectStatus.class, wire);
    }

    /** {@code 'active'}: this status as a SQL literal, for the stores' statements. */
    public String sql() {
        return Wire.quoted(this);
    }
}
