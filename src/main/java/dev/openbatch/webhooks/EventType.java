package dev.openbatch.webhooks;

import java.util.Arrays;
import java.util.List;

import dev.openbatch.status.BatchStatus;

/** The events openbatch sends, named as OpenAI names them: one per terminal batch status. */
public enum EventType {
    BATCH_COMPLETED("batch.completed", BatchStatus.COMPLETED),
    BATCH_FAILED("batch.failed", BatchStatus.FAILED),
    BATCH_EXPIRED("batch.expired", BatchStatus.EXPIRED),
    BATCH_CANCELLED("batch.cancelled", BatchStatus.CANCELLED);

    /** Every type's wire name, in declaration order (an endpoint's default subscription). */
    public static final List<String> ALL = Arrays.stream(values()).map(EventType::wire).toList();

    private final String wire;
    private final BatchStatus status;

    EventType(String wire, BatchStatus status) {
        this.wire = wire;
        this.status = status;
    }

    public String wire() {
        return wire;
    }

    /** The event of a batch that has just become {@code status}. */
    public static EventType of(BatchStatus status) {
        for (EventType t : values()) {
            if (t.status == status) {
                return t;
            }
        }
        throw new IllegalArgumentException("no event for status " + status.wire());
    }

    /** The type with this wire name, or null. */
    public static EventType byWire(String wire) {
        for (EventType t : values()) {
            if (t.wire.equals(wire)) {
                return t;
            }
        }
        return null;
    }
}
