package dev.openbatch.engine;

/**
 * A request line's state: {@code queued → running → succeeded | failed | expired | cancelled},
 * or back to {@code queued} for a retry or when its holder gives it back.
 */
public enum LineState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, EXPIRED, CANCELLED;

    public String wire() {
        return name().toLowerCase();
    }

    public static LineState of(String wire) {
        return valueOf(wire.toUpperCase());
    }

    /** A settled line has its final result. */
    public boolean settled() {
        return this != QUEUED && this != RUNNING;
    }
}
