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

    /** {@code ('a', 'b')}, for a SQL {@code in} list of these states. */
    public static String sqlList(Set<LineState> states) {
        StringBuilder sb = new StringBuilder("(");
        for (LineState s : states) {
            sb.append(sb.length() > 1 ? ", '" : "'").append(s.wire()).append('\'');
        }
        return sb.append(')').toString();
    }
}
