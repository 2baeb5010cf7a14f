package dev.openbatch.status;

import java.util.EnumSet;
import java.util.Set;

/** A batch's status, as the contract spells it; the API and the engine share these. */
public enum BatchStatus {
    VALIDATING, IN_PROGRESS, FINALIZING, COMPLETED, FAILED, EXPIRED, CANCELLING, CANCELLED;

    /** Statuses in which the engine still has work to do. */
    public static final Set<BatchStatus> LIVE = EnumSet.of(VALIDATING, IN_PROGRESS, FINALIZING, CANCELLING);

    /** The name stored in the database and shown in the API. */
    public String wire() {
        return name().toLowerCase();
    }

    public static BatchStatus of(String wire) {
        return valueOf(wire.toUpperCase());
    }

    public boolean terminal() {
        return !LIVE.contains(this);
    }

    /** {@code ('a', 'b')}, for a SQL {@code in} list of these statuses. */
    public static String sqlList(Set<BatchStatus> statuses) {
        StringBuilder sb = new StringBuilder("(");
        for (BatchStatus s : statuses) {
            sb.append(sb.length() > 1 ? ", '" : "'").append(s.wire()).append('\'');
        }
        return sb.append(')').toString();
    }
}
