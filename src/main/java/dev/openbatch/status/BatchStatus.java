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
        return Wire.wire(this);
    }

    public static BatchStatus of(String wire) {
        return Wire.of(BatchStatus.class, wire);
    }

    public boolean terminal() {
        return !LIVE.contains(this);
    }

    /** {@code 'in_progress'}: this status as a SQL literal, for the stores' statements. */
    public String sql() {
        return Wire.quoted(this);
    }
}
