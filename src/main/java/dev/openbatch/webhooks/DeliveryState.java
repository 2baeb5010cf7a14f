package dev.openbatch.webhooks;

/** A delivery's state: waiting for its (next) attempt, done with a 2xx, or given up after {@code retry-for}. */
public enum DeliveryState {
    PENDING, SUCCEEDED, FAILED;

    public String wire() {
        return name().toLowerCase();
    }
}
