package dev.openbatch.engine.dispatch;

/**
 * Whether one upstream is drained: sent no lines because it refuses connections or fails its
 * health check. {@value #FAILURES} connection failures in a row with no answer between
 * (refused: the request never left; or closed before an answer came) drain it, as does a failed
 * health check; a probe that finds it up brings it back. A timeout does not count: a slow server
 * is not a dead one. Plain code, no I/O: the dispatcher sends the probes and gives lines back.
 */
final class Drain {
    /** Connection failures in a row that drain an upstream. */
    static final int FAILURES = 3;

    private int failuresInARow;
    private boolean drained;
    private long drains;

    boolean drained() {
        return drained;
    }

    /** How many times it was drained since the dispatcher began. */
    long drains() {
        return drains;
    }

    /** The server answered (any HTTP status): it is up, whatever came before. */
    void answered() {
        failuresInARow = 0;
    }

    /** A connection failed before any answer; true when this drains the upstream now. */
    boolean connectionFailed() {
        if (drained) {
            return false;
        }
        return ++failuresInARow >= FAILURES && drain();
    }

    /** Its health check failed; true when this drains the upstream now. */
    boolean healthFailed() {
        return !drained && drain();
    }

    /** A probe found it up; true when this brings a drained upstream back. */
    boolean up() {
        failuresInARow = 0;
        if (!drained) {
            return false;
        }
        drained = false;
        return true;
    }

    private boolean drain() {
        drained = true;
        drains++;
        return true;
    }

    /**
     * Whether {@code err} says the connection was never made (refused, no route, unknown host,
     * connect timeout: all {@link java.net.ConnectException}s or an {@link java.net.UnknownHostException}
     * in its causes): the request was never sent, so the line may go back with its attempt.
     */
    static boolean neverConnected(Throwable err) {
        int depth = 0;
        for (Throwable t = err; t != null && depth++ < 10; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.net.ConnectException || t instanceof java.net.UnknownHostException) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code err} is a connection that failed or closed before an answer (not a timeout, not a refused answer). */
    static boolean connectionLost(Throwable err) {
        return neverConnected(err) || RetryPolicy.Unanswered.of(err) == RetryPolicy.Unanswered.CLOSED;
    }
}
