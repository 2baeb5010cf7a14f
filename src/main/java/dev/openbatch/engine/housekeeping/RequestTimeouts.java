package dev.openbatch.engine.housekeeping;

import io.smallrye.mutiny.Uni;

/**
 * Once a second, the engine's dispatchers end the lines in flight longer than the request timeout
 * (they count as timed out): every upstream gets the same bound on one answer, the built-in one
 * too, with one sweep a second instead of a timer per line.
 */
public final class RequestTimeouts implements Job {
    private final Runnable expireSlowRequests;

    /** @param expireSlowRequests makes every dispatcher of the engine end its slow requests */
    public RequestTimeouts(Runnable expireSlowRequests) {
        this.expireSlowRequests = expireSlowRequests;
    }

    @Override
    public String name() { return "request timeouts"; }

    @Override
    public long periodMillis() { return 1_000; }

    @Override
    public Uni<Void> run() {
        expireSlowRequests.run();
        return Uni.createFrom().voidItem();
    }
}
