package dev.openbatch.engine.dispatch;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * A simulated inference server for the tests of {@link AdaptiveLimit}: {@code slots} requests are
 * served at once, the rest wait in one FIFO queue, and each takes a service time drawn when it gets
 * its slot. Two clients share it: a batch client with an endless backlog, which starts a line
 * whenever its limiter allows one more, and an interactive client whose requests arrive as a
 * Poisson stream. The batch client's limiter hears every answer and, every {@code gaugePeriod},
 * the server's waiting count, as a {@code /metrics} read would give it. Time is simulated (events
 * in nanoseconds, nothing sleeps) and the random draws come from one seed, so a run is repeatable.
 * <p>
 * What it measures over the part of the run after {@code warmup}: how busy the slots were, how long
 * the queue was, how long interactive requests waited, and the batch client's limit.
 */
final class FifoServerSimulation {
    static final long MS = 1_000_000L;
    static final long S = 1_000_000_000L;

    /** What the batch client's limiter is told, and what it answers. */
    interface Limiter {
        int limit();

        void answered(long nowNanos, long rttNanos, int inFlight);

        default void queueRead(long nowNanos, long waiting, long running, int inFlight) {
        }
    }

    /** Service time of a request that gets its slot at {@code nowNanos}. */
    interface Service {
        long draw(long nowNanos, SplittableRandom random);

        /** Always {@code nanos}. */
        static Service constant(long nanos) {
            return (now, r) -> nanos;
        }

        /** Log-normal around {@code meanNanos} with coefficient of variation {@code cv}. */
        static Service lognormal(long meanNanos, double cv) {
            double sigma2 = Math.log(1 + cv * cv);
            double mu = Math.log(meanNanos) - sigma2 / 2;
            double sigma = Math.sqrt(sigma2);
            return (now, r) -> {
                double g = gaussian(r);
                return Math.max(1, (long) Math.exp(mu + sigma * g));
            };
        }

        /** {@code base}, times {@code factor} from {@code fromNanos} until {@code untilNanos}. */
        static Service slowdown(Service base, double factor, long fromNanos, long untilNanos) {
            return (now, r) -> {
                long t = base.draw(now, r);
                return now >= fromNanos && now < untilNanos ? (long) (t * factor) : t;
            };
        }
    }

    /** A sample of the run, taken every {@code traceEvery}. */
    record Point(long nanos, int limit, int batchInFlight, int busy, int waiting, long batchAnswers) {
    }

    /** The figures of one run, after the warm-up. */
    record Figures(double busyFraction, double meanWaiting, double batchBusyFraction, double meanLimit, int maxLimit,
            double interactiveWaitP50Ms, double interactiveWaitP99Ms, long batchDone, long interactiveDone, List<Point> trace) {
        @Override
        public String toString() {
            return String.format("busy %.3f, batch busy %.3f, mean waiting %.2f, mean limit %.1f (max %d), interactive wait p50 %.0f ms p99 %.0f ms, "
                    + "batch done %d, interactive done %d", busyFraction, batchBusyFraction, meanWaiting, meanLimit, maxLimit,
                    interactiveWaitP50Ms, interactiveWaitP99Ms, batchDone, interactiveDone);
        }
    }

    private record Request(boolean batch, long submitted) {
    }

    private record Event(long at, int kind, Request request, long seq) implements Comparable<Event> {
        static final int DONE = 0, ARRIVAL = 1, GAUGE = 2, TRACE = 3, HOOK = 4;

        @Override
        public int compareTo(Event o) {
            int c = Long.compare(at, o.at);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    private final int slots;
    private final Service service;
    private final double interactivePerSecond;
    private final long gaugePeriod;
    private final long traceEvery;
    private final SplittableRandom random;

    private final PriorityQueue<Event> events = new PriorityQueue<>();
    private final ArrayDeque<Request> queue = new ArrayDeque<>();
    private long seq;
    private long now;
    private int busy;
    private int batchInFlight;
    private long batchAnswers;
    private long[] pendingHooks = new long[0];
    private Runnable[] hooks = new Runnable[0];

    /**
     * @param slots                requests served at once
     * @param service              service time of each request
     * @param interactivePerSecond mean arrivals per second of the interactive stream (0: none)
     * @param gaugePeriod          how often the limiter hears the waiting count (0: never)
     * @param seed                 seed of every random draw
     */
    FifoServerSimulation(int slots, Service service, double interactivePerSecond, long gaugePeriod, long seed) {
        this(slots, service, interactivePerSecond, gaugePeriod, S, seed);
    }

    /** @param traceEvery how often a {@link Point} is recorded */
    FifoServerSimulation(int slots, Service service, double interactivePerSecond, long gaugePeriod, long traceEvery, long seed) {
        this.slots = slots;
        this.service = service;
        this.interactivePerSecond = interactivePerSecond;
        this.gaugePeriod = gaugePeriod;
        this.traceEvery = traceEvery;
        this.random = new SplittableRandom(seed);
    }

    /** Runs {@code action} once, at simulated time {@code atNanos} (a Retry-After, a ceiling change). */
    FifoServerSimulation at(long atNanos, Runnable action) {
        int n = hooks.length;
        hooks = Arrays.copyOf(hooks, n + 1);
        pendingHooks = Arrays.copyOf(pendingHooks, n + 1);
        hooks[n] = action;
        pendingHooks[n] = atNanos;
        return this;
    }

    /** Runs for {@code durationNanos}, measuring after {@code warmupNanos}. */
    Figures run(Limiter limiter, long durationNanos, long warmupNanos) {
        if (interactivePerSecond > 0) {
            push(now + exponential(S / interactivePerSecond), Event.ARRIVAL, null);
        }
        if (gaugePeriod > 0) {
            push(gaugePeriod, Event.GAUGE, null);
        }
        push(0, Event.TRACE, null);
        for (int i = 0; i < hooks.length; i++) {
            push(pendingHooks[i], Event.HOOK, new Request(false, i));
        }
        List<Point> trace = new ArrayList<>();
        List<Long> interactiveWaits = new ArrayList<>();
        double busyArea = 0, waitingArea = 0, batchArea = 0, limitArea = 0;
        int maxLimit = 0;
        long batchDone = 0, interactiveDone = 0;
        fill(limiter);
        while (!events.isEmpty()) {
            Event e = events.poll();
            if (e.at > durationNanos) {
                break;
            }
            long from = Math.max(now, warmupNanos);
            if (e.at > from) {
                long dt = e.at - from;
                busyArea += (double) busy * dt;
                waitingArea += (double) queue.size() * dt;
                batchArea += (double) batchInFlight * dt;
                limitArea += (double) limiter.limit() * dt;
            }
            now = e.at;
            switch (e.kind) {
                case Event.DONE -> {
                    busy--;
                    Request r = e.request;
                    if (r.batch) {
                        batchAnswers++;
                        if (now >= warmupNanos) {
                            batchDone++;
                        }
                        limiter.answered(now, now - r.submitted, batchInFlight);
                        batchInFlight--;
                    } else if (now >= warmupNanos) {
                        interactiveDone++;
                    }
                    if (!queue.isEmpty()) {
                        serve(queue.poll(), interactiveWaits, warmupNanos);
                    }
                }
                case Event.ARRIVAL -> {
                    submit(new Request(false, now), interactiveWaits, warmupNanos);
                    push(now + exponential(S / interactivePerSecond), Event.ARRIVAL, null);
                }
                case Event.GAUGE -> {
                    limiter.queueRead(now, queue.size(), busy, batchInFlight);
                    push(now + gaugePeriod, Event.GAUGE, null);
                }
                case Event.TRACE -> {
                    trace.add(new Point(now, limiter.limit(), batchInFlight, busy, queue.size(), batchAnswers));
                    push(now + traceEvery, Event.TRACE, null);
                }
                case Event.HOOK -> hooks[(int) e.request.submitted].run();
                default -> throw new IllegalStateException();
            }
            fill(limiter);
            if (now >= warmupNanos) {
                maxLimit = Math.max(maxLimit, limiter.limit());
            }
        }
        double span = durationNanos - warmupNanos;
        long[] waits = interactiveWaits.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Figures(busyArea / span / slots, waitingArea / span, batchArea / span / slots, limitArea / span, maxLimit,
                percentile(waits, 0.50) / (double) MS, percentile(waits, 0.99) / (double) MS, batchDone, interactiveDone, trace);
    }

    private void fill(Limiter limiter) {
        while (batchInFlight < limiter.limit()) {
            batchInFlight++;
            submit(new Request(true, now), null, Long.MAX_VALUE);
        }
    }

    private void submit(Request r, List<Long> interactiveWaits, long warmupNanos) {
        if (busy < slots) {
            serve(r, interactiveWaits, warmupNanos);
        } else {
            queue.add(r);
        }
    }

    private void serve(Request r, List<Long> interactiveWaits, long warmupNanos) {
        busy++;
        if (!r.batch && interactiveWaits != null && now >= warmupNanos) {
            interactiveWaits.add(now - r.submitted);
        }
        push(now + service.draw(now, random), Event.DONE, r);
    }

    private void push(long at, int kind, Request r) {
        events.add(new Event(at, kind, r, seq++));
    }

    private long exponential(double meanNanos) {
        return Math.max(1, (long) (-Math.log(1 - random.nextDouble()) * meanNanos));
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = 1 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
    }
}
