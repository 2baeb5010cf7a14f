package dev.openbatch.status;

import java.util.EnumSet;
import java.util.Set;

/**
 * A request line's state: {@code queued → running → succeeded | failed | expired | cancelled},
 * or back to {@code queued} for a retry or when its holder gives it back.
 */
public enum LineState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, EXPIRED, CANCELLED;

    /** The settled states whose lines go to the error file: what a retry takes. */
    public static final Set<LineState> UNSUCCESSFUL = EnumSet.of(FAILED, EXPIRED, CANCELLED);

    /** The name stored in the database and shown in the API. */
    public String wire() {
        return Wire.wire(this);
    }

    public static LineState of(String wire) {
        return Wire.of(LineState.class, wire);
    }

    /** A settled line has its final result. */
    public boolean settled() {
        return this != QUEUED && this != RUNNING;
    }

    /** {@code 'queued'}: this state as a SQL literal, for the stores' statements. */
    public String sql() {
        return Wire.quoted(this);
    }
}
