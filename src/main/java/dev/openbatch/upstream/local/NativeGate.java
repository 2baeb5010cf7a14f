package dev.openbatch.upstream.local;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.jboss.logging.Logger;

import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The gate in front of the built-in model's native code (ONNX Runtime): every worker passes it
 * while it is inside native code (loading the model, counting tokens, embedding), and the stop
 * closes it for good before the JVM's shutdown begins, then waits for the calls still inside,
 * because ONNX Runtime's own shutdown hook frees its environment at once, and a native call still
 * running then crashes the process (SIGBUS or SIGSEGV).
 *
 * <p>The stop comes from a SIGTERM, SIGINT or SIGHUP ({@link #installStopSignals}); a call refused
 * by the gate is no fault of the model, and its line is given back.
 */
final class NativeGate {
    private static final Logger LOG = Logger.getLogger(NativeGate.class);

    /** Longest wait, on a stop signal, for a model call (or the model's load) already running. */
    static final Duration STOP_WAIT = Duration.ofSeconds(20);

    /**
     * Held (shared) by every caller while it is inside native code; taken (exclusively, for good) by
     * {@link #stop}.
     */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Set once the stop began: no call enters from then on. */
    private volatile boolean stopped;

    /**
     * A caller may go into native code, and must call {@link #leave} after (on the same thread),
     * unless the stop began.
     *
     * @return false once the stop began: the caller must not go into native code
     */
    boolean tryEnter() {
        if (stopped || !lock.readLock().tryLock()) {
            return false;
        }
        if (stopped) {
            lock.readLock().unlock();
            return false;
        }
        return true;
    }

    /** The caller, let in by {@link #tryEnter} on this thread, is out of native code. */
    void leave() {
        lock.readLock().unlock();
    }

    /** Whether the stop began: a call into native code that fails now fails because of the stop. */
    boolean stopped() {
        return stopped;
    }

    /** The stop begins: no call enters from now on; those inside are not waited for. */
    void beginStop() {
        stopped = true;
    }

    /**
     * No call enters from now on, and those inside are waited for (up to {@code wait}), so that none
     * is inside native code when ONNX Runtime's shutdown hook frees its environment.
     *
     * @return whether every call inside ended within {@code wait}
     */
    boolean stop(Duration wait) {
        stopped = true;
        try {
            // taken for good: the process is about to end
            return lock.writeLock().tryLock(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * A SIGTERM, SIGINT or SIGHUP first {@link #stop stops} the native work (waiting up to
     * {@link #STOP_WAIT}), then goes on as the JVM would have: the handler that was there before,
     * or else the JVM's shutdown with the exit status of a process the signal ended (a signal that
     * was ignored stays ignored). Install once per process.
     */
    void installStopSignals() {
        for (String name : List.of("TERM", "INT", "HUP")) {
            try {
                Signal signal = new Signal(name);
                SignalHandler[] previous = new SignalHandler[1];
                previous[0] = Signal.handle(signal, sig -> {
                    long t0 = System.nanoTime();
                    boolean clean = stop(STOP_WAIT);
                    LOG.infof("SIG%s: the built-in model's native work stopped (%s, %d ms)", name,
                            clean ? "every model call had ended" : "a model call still running after " + STOP_WAIT, (System.nanoTime() - t0) / 1_000_000);
                    SignalHandler before = previous[0];
                    if (before == SignalHandler.SIG_IGN) {
                        return;
                    }
                    if (before != null && before != SignalHandler.SIG_DFL) {
                        before.handle(sig);
                    } else {
                        System.exit(128 + sig.getNumber());
                    }
                });
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // a signal this platform or JVM (-Xrs) does not let us handle: its shutdown stays as it was
                LOG.debugf("cannot handle SIG%s: %s", name, e.getMessage());
            }
        }
    }
}
