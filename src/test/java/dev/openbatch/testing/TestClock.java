package dev.openbatch.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;

import jakarta.annotation.Priority;
import jakarta.enterprise.inject.Alternative;
import jakarta.inject.Singleton;

/**
 * The clock of the application under test, in place of the system's: it runs with the system
 * clock until a test moves it ({@link #set}, {@link #advance}) to pass a lease or a deadline
 * without sleeping, and {@link #reset} puts it back. Tests inject it by this type.
 */
@Alternative
@Priority(1)
@Singleton
public class TestClock extends Clock {
    private volatile Clock now = Clock.systemUTC();

    /** From now on, time is what {@code clock} says (for example an offset from the system clock). */
    public void set(Clock clock) {
        now = clock;
    }

    /** Moves time forward by {@code by} (it keeps running from there). */
    public void advance(Duration by) {
        now = Clock.offset(now, by);
    }

    /** Back to the system clock. */
    public void reset() {
        now = Clock.systemUTC();
    }

    @Override
    public ZoneId getZone() {
        return now.getZone();
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return now.withZone(zone);
    }

    @Override
    public Instant instant() {
        return now.instant();
    }

    @Override
    public long millis() {
        return now.millis();
    }
}
