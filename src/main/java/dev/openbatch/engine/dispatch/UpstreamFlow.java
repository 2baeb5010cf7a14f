package dev.openbatch.engine.dispatch;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.IntSupplier;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.api.Time;
import dev.openbatch.upstream.QueueGauge;
import dev.openbatch.upstream.ResponseTooLargeException;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.UpstreamResponse;
import io.vertx.mutiny.core.Context;

/**
 * How many lines one upstream may have in flight from this process: its share of
 * {@code max-concurrency} (the whole of it for an upstream that is not shared, see
 * {@link Upstream#shared()}; else what the share rounds, {@link CapShares}, last allowed), or,
 * with the upstream's {@code adaptive} flag on (the default for HTTP upstreams; the built-in model
 * runs fixed), an {@link AdaptiveLimit} under
 * that share, told of every answer and, with a {@code metrics-url}, of the server's waiting queue,
 * read by a {@link QueueGauge} every {@code metrics-interval} while the dispatcher holds lines.
 * Off, neither exists and nothing of it runs. Confined to the dispatcher's context.
 * <p>
 * The latency the limit learns from is the server's, not this process's: an answer that waits for
 * a busy or starved event loop (a saturated CPU, a collection, the JIT of a cold JVM) would read
 * as a queue at the server, and cut the limit for what no server did. So while lines are held a
 * timer measures how late this context runs what is due ({@link #LAG_TICK_MILLIS}), and each
 * answer's round trip is told less that lag, smoothed (the limit learns its baseline from the
 * round trips as measured, see {@link AdaptiveLimit#onAnswer(long, long, long, int)}); and while the host's CPUs are busy
 * ({@link HostCpu}, read on the same timer) latency up to 1.5 times the baseline reads as no queue.
 */
final class UpstreamFlow {
    private static final Logger LOG = Logger.getLogger(Dispatcher.class);
    /** How often the event loop's lag is measured while lines are held. */
    static final long LAG_TICK_MILLIS = 10;
    /** Weight of one lag measurement in the smoothed lag (about five ticks' memory). */
    static final double LAG_WEIGHT = 0.2;
    /** A pause with nothing in flight after which latency is learned anew (a new batch may have answers of another length). */
    static final long IDLE_NANOS = 2_000_000_000L;
    /** Longest one read of the server's metrics may take (at least its interval). */
    static final long READ_TIMEOUT_MS = 500;

    private final String upstream;
    private final int capacity;
    /** Answers that may wait for their write beyond the slots. */
    private final int unwrittenMax;
    /** This process's share of {@code capacity}: the whole of it unless the upstream is shared, 0 until the first share round. */
    private int share;
    private final Context context;
    private final Time time;
    private final Runnable pump;
    /** Lines in flight now, and lines held now (in flight or in stock), as the dispatcher counts them. */
    private final IntSupplier inFlight;
    private final IntSupplier held;
    /** The adaptive limit; null when the upstream's flow control is fixed (the default). */
    private final AdaptiveLimit limit;
    /** Reads the server's waiting queue; null unless adaptive with a metrics URL. */
    private final QueueGauge gauge;
    private final long readEveryMillis;
    /** When the last answer came (0 before the first). */
    private long lastAnswerNanos;
    private long queueTimer = -1;
    private long lagTimer = -1;
    /** When the lag timer was due. */
    private long lagDueNanos;
    /** How late this context ran what was due, smoothed, in nanoseconds. */
    private double lagNanos;
    private boolean reading;
    private boolean closed;
    /** The waiting count last read, or NaN when the last read gave nothing (or none was made). */
    private double lastQueue = Double.NaN;
    /** Whether the last read gave a count (or none was made yet): a failure is logged once per run of failures. */
    private boolean queueReadable = true;

    /** {@code pump} is called (on the context) when a queue read may have made room. */
    UpstreamFlow(Upstream upstream, int capacity, int unwrittenMax, Context context, Time time, Runnable pump, IntSupplier inFlight,
            IntSupplier held) {
        this.upstream = upstream.name();
        this.capacity = capacity;
        this.unwrittenMax = Math.max(0, unwrittenMax);
        this.share = upstream.shared() ? 0 : capacity;
        this.context = context;
        this.time = time;
        this.pump = pump;
        this.inFlight = inFlight;
        this.held = held;
        Upstream.FlowControl flow = upstream.flowControl();
        this.limit = flow.adaptive() ? new AdaptiveLimit(capacity, flow.initial(), flow.freeSlots()) : null;
        this.gauge = flow.adaptive() && flow.metricsUrl().isPresent()
                ? new QueueGauge(context.owner(), flow.metricsUrl().get(), flow.queueMetric(), flow.runningMetric(),
                        flow.queueMetricModel().orElse(null), Duration.ofMillis(Math.max(READ_TIMEOUT_MS, flow.readEvery().toMillis())),
                        QueueGauge.DEFAULT_MAX_BYTES)
                : null;
        this.readEveryMillis = Math.max(10, flow.readEvery().toMillis());
    }

    /** The most lines that may be in flight now, whatever the adaptive limit says: this process's share of {@code max-concurrency}. */
    int ceiling() {
        return Math.min(capacity, share);
    }

    /** How many lines may be in flight now: the adaptive limit under the {@link #ceiling}, or the ceiling itself. */
    int limit() {
        return limit == null ? ceiling() : Math.min(ceiling(), limit.limit());
    }

    /** This process's share of the upstream's cap, as the last share round found it usable. */
    int share() {
        return share;
    }

    /**
     * The last share round's answer: from now on at most {@code share} lines in flight (lines
     * already in flight above it finish; none starts until fewer are). The adaptive limit gets it
     * as its ceiling once it is above 0, so that the limit does not lose its start while the first
     * round is under way.
     */
    void setShare(int share) {
        this.share = Math.max(0, share);
        if (limit != null && ceiling() > 0) {
            limit.setCeiling(ceiling());
        }
    }

    /** The server's waiting count as last read (NaN when unread); null when no queue is read. */
    Double queue() {
        return gauge == null ? null : lastQueue;
    }

    /**
     * Whether one more line may start with {@code inFlight} lines in flight and {@code unwritten}
     * answers not yet written: fewer in flight than the {@link #ceiling} (and the adaptive limit),
     * and fewer held in all than the ceiling plus {@code unwrittenMax}, the answers that may wait
     * for a write beyond the slots (with 0, an answer keeps its slot until written).
     */
    boolean mayStart(int inFlight, int unwritten) {
        return inFlight < ceiling() && inFlight + unwritten < ceiling() + unwrittenMax && (limit == null || limit.mayStart(inFlight));
    }

    /** A line is about to be sent with {@code inFlight} others in flight: after a pause of {@link #IDLE_NANOS}, latency is learned anew. */
    void sending(int inFlight) {
        if (limit != null && inFlight == 0 && lastAnswerNanos != 0 && System.nanoTime() - lastAnswerNanos > IDLE_NANOS) {
            limit.forgetLatency();
        }
    }

    /** An answer (or its absence) to a line sent at {@code startedNanos}, while it is still counted in {@code inFlight}. */
    void answered(long startedNanos, UpstreamResponse resp, Throwable err, int inFlight) {
        if (limit == null) {
            return;
        }
        long now = System.nanoTime();
        lastAnswerNanos = now;
        long measured = Math.max(1, now - startedNanos);
        long rtt = Math.max(1, measured - (long) lagNanos);
        boolean overload = resp == null
                // no answer: a timeout is load; a refused or lost connection is not (Drain's business: a
                // server that went away, or a kept-alive connection it closed), nor a malformed or too large answer
                ? !(err instanceof ResponseTooLargeException) && !RetryPolicy.malformedAnswer(err) && !Drain.connectionLost(err)
                : RetryPolicy.retryable(resp.status()); // 408, 429, 5xx
        if (!overload) {
            limit.onAnswer(now, rtt, measured, inFlight);
            return;
        }
        limit.onOverload(now, rtt, inFlight);
        if (resp != null && (resp.status() == 429 || resp.status() == 503)) {
            Long wait = RetryPolicy.retryAfterMillis(resp.retryAfter(), time.millis());
            if (wait != null) {
                limit.onRetryAfter(now, Duration.ofMillis(wait).toNanos());
            }
        }
    }

    /** The dispatcher may hold lines now: the queue reads run while it holds any. */
    void holding() {
        if (gauge != null && !closed && queueTimer < 0 && held.getAsInt() > 0) {
            queueTimer = context.owner().setPeriodic(readEveryMillis, id -> context.runOnContext(this::readQueue));
        }
        if (limit != null && !closed && lagTimer < 0 && held.getAsInt() > 0) {
            scheduleLag();
        }
    }

    /** How late this context ran what was due, smoothed (nanoseconds): what is taken off each answer's round trip. */
    long lagNanos() {
        return (long) lagNanos;
    }

    private void scheduleLag() {
        lagDueNanos = System.nanoTime() + LAG_TICK_MILLIS * 1_000_000L;
        lagTimer = context.owner().setTimer(LAG_TICK_MILLIS, id -> context.runOnContext(this::lagTick));
    }

    /** The lag timer's turn: how late it came is one measurement; it goes on while lines are held. */
    private void lagTick() {
        lagTimer = -1;
        if (closed) {
            return;
        }
        long now = System.nanoTime();
        long late = Math.max(0, now - lagDueNanos);
        lagNanos += LAG_WEIGHT * (late - lagNanos);
        limit.hostBusy(HostCpu.system().busy(now));
        if (held.getAsInt() > 0) {
            scheduleLag();
        } else {
            lagNanos = 0; // idle: the next lines start with no lag known
        }
    }

    /** The queue timer's turn: reads the server's waiting queue, tells the limit, and lets the dispatcher start what it allows; stops itself when nothing is held. */
    private void readQueue() {
        if (closed || queueTimer < 0) {
            return;
        }
        if (held.getAsInt() == 0) {
            stopReading(); // holding() starts it again with the next lines
            return;
        }
        if (reading) {
            return;
        }
        reading = true;
        gauge.read().emitOn(r -> context.runOnContext(r)).subscribe().with(reading -> {
            this.reading = false;
            if (closed) {
                return;
            }
            OptionalLong waiting = reading.waiting();
            if (waiting.isPresent()) {
                queueReadable = true;
                lastQueue = waiting.getAsLong();
                limit.onQueue(System.nanoTime(), waiting.getAsLong(), reading.running().orElse(-1), inFlight.getAsInt());
            } else {
                if (queueReadable) {
                    queueReadable = false;
                    LOG.warnf("reading the queue of upstream %s failed, latency decides its limit meanwhile: %s", upstream,
                            LogText.of(String.valueOf(gauge.lastProblem()), 500));
                }
                lastQueue = Double.NaN;
            }
            pump.run();
        }, failure -> this.reading = false);
    }

    /** No more queue reads until lines are held again. */
    void stopReading() {
        if (queueTimer >= 0) {
            context.owner().cancelTimer(queueTimer);
            queueTimer = -1;
        }
    }

    private void stopLag() {
        if (lagTimer >= 0) {
            context.owner().cancelTimer(lagTimer);
            lagTimer = -1;
        }
    }

    /** For good: the timer stops and the gauge's client closes. */
    void close() {
        closed = true;
        stopReading();
        stopLag();
        if (gauge != null) {
            gauge.close();
        }
    }
}
