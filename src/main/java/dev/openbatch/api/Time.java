package dev.openbatch.api;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/**
 * The one source of time. Everything reads the injected {@link Clock}: the system's, in UTC
 * ({@link #systemClock()}); the tests put a clock they can move in its place, so that they pass a
 * lease or a deadline without sleeping.
 */
@ApplicationScoped
public class Time {
    private final Clock clock;
    private final AtomicLong lastMicros = new AtomicLong();

    public Time(Clock clock) {
        this.clock = clock;
    }

    /** The clock the application reads, unless a test puts another in its place. */
    @Produces
    @Singleton
    static Clock systemClock() {
        return Clock.systemUTC();
    }

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
}
