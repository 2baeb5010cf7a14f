package dev.openbatch.outbound;

import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with "equal jitter": the step after {@code attempt} failed attempts is
 * {@code min · 2^(attempt−1)}, doubled at most {@code maxDoublings} times and never more than
 * {@code max}; the delay is a random point between half and the whole of the step, so that
 * retries spread out but still grow. The step saturates at {@code max} instead of overflowing,
 * whatever the attempt number.
 * <p>
 * The random source is a supplier, so that the default ({@link ThreadLocalRandom#current()})
 * is fetched on the calling thread each time, and tests can pass a seeded generator. Holds no
 * other state: one instance serves every thread.
 */
public final class Backoff {
    private final long min;
    private final long max;
    private final int maxDoublings;
    private final Supplier<? extends RandomGenerator> random;

    /**
     * @param minMillis    the first step; at least 1 ms is used
     * @param maxMillis    the largest step; at least {@code minMillis} is used
     * @param maxDoublings how many times the step doubles at most: attempts after attempt
     *                     {@code maxDoublings + 1} get the same step as it; a negative value counts as 0
     * @param random       where the jitter is drawn from, asked once per delay on the calling thread
     */
    public Backoff(long minMillis, long maxMillis, int maxDoublings, Supplier<? extends RandomGenerator> random) {
        this.min = Math.max(1, minMillis);
        this.max = Math.max(this.min, maxMillis);
        this.maxDoublings = Math.max(0, maxDoublings);
        this.random = random;
    }

    /** A backoff whose jitter comes from {@link ThreadLocalRandom}. */
    public Backoff(long minMillis, long maxMillis, int maxDoublings) {
        this(minMillis, maxMillis, maxDoublings, ThreadLocalRandom::current);
    }

    /** The delay in milliseconds after {@code attempt} failed attempts: between half and the whole of {@link #step(int)}. */
    public long delay(int attempt) {
        long step = step(attempt);
        return step / 2 + random.get().nextLong(step / 2 + 1);
    }

    /**
     * The step after {@code attempt} failed attempts, before jitter: {@code min · 2^(attempt−1)}
     * with at most {@code maxDoublings} doublings, capped at {@code max}. An attempt of 1 or less
     * gives {@code min}. Computed without overflow: when the product would pass {@code max} (or
     * {@link Long#MAX_VALUE}) the step is {@code max}.
     */
    public long step(int attempt) {
        int doublings = Math.min(Math.min(maxDoublings, 63), attempt <= 1 ? 0 : attempt - 1);
        // min · 2^d <= max exactly when min <= floor(max / 2^d); then the shift cannot overflow
        return min <= (max >> doublings) ? min << doublings : max;
    }
}
