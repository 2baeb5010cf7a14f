package dev.openbatch.api;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.enterprise.context.ApplicationScoped;

/**
 * The one source of time. Everything reads the injected {@link Clock}, so tests move time
 * instead of sleeping ({@link #set(Clock)}).
 */
@ApplicationScoped
public class Time {
    private volatile Clock clock = Clock.systemUTC();
    private final AtomicLong lastMicros = new AtomicLong();

    public long millis() { return clock.millis(); }

    public long seconds() { return clock.millis() / 1000; }

    /**
     * Strictly increasing microseconds within this process: orders objects made in one second.
     * Read from the system clock, not the injected one: creation order is not business time, and
     * a clock moved forward in a test must not leave objects that sort before everything made later.
     */
    public long orderingMicros() {
        long now = System.currentTimeMillis() * 1000;
        return lastMicros.updateAndGet(prev -> Math.max(prev + 1, now));
    }

    /** For tests: replace the clock (for example with an offset clock to pass a lease or a deadline). */
    public void set(Clock clock) { this.clock = clock; }

    public Clock clock() { return clock; }
}
