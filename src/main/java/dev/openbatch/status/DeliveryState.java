package dev.openbatch.status;

/** A webhook delivery's state: waiting for its (next) attempt, done with a 2xx, or given up after {@code retry-for}. */
public enum DeliveryState {
    PENDING, SUCCEEDED, FAILED;

    /** The name stored in the database and shown in the API. */
    public String wire() {
        return Wire.wire(this);
    }

    public static DeliveryState of(String wire) {
        return Wire.of(DeliveryState.class, wire);
    }

    /** {@code 'pending'}: this state as a SQL literal, for the stores' statements. */
    public String sql() {
        return Wire.quoted(this);
    }
}
