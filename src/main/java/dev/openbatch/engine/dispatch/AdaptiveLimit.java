package dev.openbatch.engine.dispatch;

/**
 * How many lines this process may have in flight to one upstream right now: a concurrency limit
 * that finds the server's capacity without being told, never above the ceiling it is given (this
 * process's share of the upstream's configured cap, see {@link CapShares}). It starts low, grows
 * while the server keeps up, and shrinks when the server's queue or latency says it no longer does,
 * on overload answers (429, 503, timeouts) and on {@code Retry-After}. Plain arithmetic on the
 * events it is told of, with the time passed in (monotonic nanoseconds, as {@link System#nanoTime()}
 * gives), so tests drive it with a simulated server and clock. Not thread-safe: one dispatcher's
 * event loop owns it.
 *
 * <h2>The two signals</h2>
 * <b>The server's waiting queue</b> ({@link #onQueue}: vLLM's {@code vllm:num_requests_waiting},
 * SGLang's {@code sglang:num_queue_reqs}) is the direct one, and while a read is fresh (at most
 * {@link #QUEUE_FRESH_NANOS} old) it decides, bar one case: a server that shows no queue but answers
 * much slower than its baseline ({@link #slowerServer}) gets fewer lines until it is fast again.
 * With the running count read too (vLLM's
 * {@code vllm:num_requests_running}), the limit is the server's free slots, set on every read (see
 * {@link #onQueue(long, long, long, int)}). Without it, a read of {@code w > 0} waiting, with
 * {@code f} of our lines in flight, cuts the limit to {@code f − w} (what we could have in flight
 * had our lines not added to the queue; the same target on each read of a queue that is still
 * draining, so repeated reads do not cut again) and stops growth; once a read says 0, each answer
 * adds {@link #GROWTH_PER_ANSWER} (the limit grows by half per round trip), but no more than
 * {@link #GROWTH_PER_READ} of the limit between two reads ({@link #SLOW_START_PER_READ} before the
 * first cut), so that a server whose round trip is shorter than the reads' period is not flooded
 * between them. Batch lines so fill free slots and leave the queue to others: in the
 * simulation (64 slots, 2 s lines, a Poisson interactive stream of 30% of capacity, a read every
 * 500 ms) the slots are 95–97% busy with 0.7–0.9 requests waiting on average and interactive
 * requests wait 0 ms at the median, 275–341 ms at p99; alone it keeps 100% of the slots busy with
 * 0.3–0.5 waiting.
 * <p>
 * <b>Latency</b> is the fallback for servers that publish no queue (or when reads fail). Its rule
 * is TCP Vegas' (L. Brakmo and L. Peterson, "TCP Vegas: End to End Congestion Avoidance on a
 * Global Internet", IEEE JSAC 13(8), 1995), in the form Netflix's concurrency-limits library gives
 * it for request concurrency ({@code VegasLimit}): with no-load latency {@code base} and measured
 * latency {@code rtt}, about {@code limit × (1 − base / rtt)} of our lines are queued at the
 * server; grow while that is small, cut when it is large. Answers are taken in windows of
 * {@code max(16, limit / 2)} (about half a round trip) and averaged, and {@code base} is the best
 * window average (of the round trips as measured, see {@link #onAnswer(long, long, long, int)}) of the last {@link #BASELINE_WINDOWS} of the last {@link #BASELINE_NANOS}, raised by {@link #NOISE_SIGMAS} standard
 * errors of a window average, so that service times that vary (LLM answers of 10 or 2,000 tokens)
 * are not taken for queueing. A window whose estimate is over {@code beta} (the larger of
 * {@code 2 × max(2, 5% of the limit)} and the same noise allowance in lines) cuts the limit to
 * {@code limit × base / rtt} (at least half), which drains our queue, so the next windows measure
 * no-load latency again and {@code base} does not creep up; any other window adds one line per
 * round trip. Until the first cut each answer adds a line (the limit doubles each round trip, as
 * TCP's slow start), and growth is fast again (half per round trip) after {@link #CALM_WINDOWS}
 * windows in a row that saw no queue with the limit in use. {@code base} forgets windows older than
 * {@link #BASELINE_NANOS} (a server that became slower for good is learned again), and all of them
 * when the upstream sat idle ({@link #forgetLatency}: the next batch may ask for longer answers).
 * While this host's CPUs are busy ({@link #hostBusy}: half their time or more), latency up to
 * {@link #HOST_BUSY_TOLERANCE} times the baseline reads as no queue: a busy host answers late
 * by itself (on a two-core box running openbatch, PostgreSQL and a 50 ms server, each at work on
 * all cores, cuts to half the limit came from CPU waits alone).
 * A latency cut after which latency does not fall (the server became slower, not queued) is not
 * told apart from a queue: the limit stays low while the server is slow, which is what a busier
 * server wants, and regrows once its answers are fast again.
 *
 * <h2>Why not the library itself</h2>
 * Netflix's {@code com.netflix.concurrency-limits:concurrency-limits-core:0.5.4} is light (its
 * one dependency is slf4j, no reflection, fine for a native image), but its limits keep their
 * estimate private and fix their maximum when built: there is no way to halve it on
 * {@code Retry-After}, hold growth until a time, cut it to a queue read's target, or move the
 * ceiling at run time without rebuilding it and losing its latency history; and its
 * {@code Gradient2Limit} ignores drops. Both were tried in the same simulation (64 slots, lines of
 * 2 s with a coefficient of variation of 0.1, then 1.0; library defaults, ceiling 128):
 * {@code VegasLimit} keeps the queue empty but leaves the server mostly idle (about 30% then 10% of the
 * slots busy: its no-load latency is the single fastest answer, so varying service times read as
 * queueing), and {@code Gradient2Limit} fills it (100%) but lets the queue grow to the ceiling (64
 * waiting: its baseline is a long average that follows the queued latency up), then with varied
 * service times keeps 32% busy. Vegas' rule, with averaged windows and the noise allowance above,
 * keeps the queue the shortest at near-full throughput: 100% busy with 6.8 waiting at CV 0.1, and
 * 56% / 41% busy with under 0.4 waiting at CV 0.5 / 1.0 (better than either, but latency alone
 * cannot see a short queue behind answers that vary that much: that is what the queue read is for).
 * {@code AdaptiveLimitComparisonTest} reruns the comparison.
 *
 * <h2>Overload and Retry-After</h2>
 * An overload answer ({@link #onOverload}) multiplies the limit by {@link #OVERLOAD_FACTOR}
 * (CUBIC's β, RFC 8312: a timeout is weaker evidence than TCP's loss), once per round trip: answers
 * to lines sent before the last cut do not cut again, so a burst of 503s is one cut, not fifty.
 * {@code Retry-After} ({@link #onRetryAfter}) halves the limit and holds growth until the time it
 * names has passed; further ones during the hold only extend it. A line that started before any cut
 * teaches nothing about latency either: its answer is left out of the windows.
 */
public final class AdaptiveLimit {
    /** How long a queue read decides alone: after that, latency does (the reads have stopped). */
    public static final long QUEUE_FRESH_NANOS = 5_000_000_000L;
    /** While reads decide, the most answers may add between two reads, as a fraction of the limit, before the first cut. */
    static final double SLOW_START_PER_READ = 0.5;
    /** The same after it (at least one line): growth between reads is bounded whatever the round trip. */
    static final double GROWTH_PER_READ = 0.1;
    /** Lines added per answer before the first cut, latency deciding: the limit doubles each round trip. */
    static final double SLOW_START_PER_ANSWER = 1;
    /** Lines added per answer while growing fast: half the limit per round trip. */
    static final double GROWTH_PER_ANSWER = 0.5;
    /** What an overload answer leaves of the limit. */
    static final double OVERLOAD_FACTOR = 0.7;
    /** Window averages the no-load latency is the best of. */
    static final int BASELINE_WINDOWS = 32;
    /**
     * How old a window may be to count for the no-load latency: a server that became slower for
     * good (or for a while) gives a new baseline within this, so the limit grows back to its slots.
     */
    static final long BASELINE_NANOS = 60_000_000_000L;
    /** Fewest answers in a latency window. */
    static final int MIN_WINDOW = 16;
    /** Standard errors of a window average allowed for service times that vary. */
    static final double NOISE_SIGMAS = 2.5;
    /**
     * While the host's CPUs are busy, how much slower than the baseline a window may be and still
     * read as no queue: Gradient2's {@code rttTolerance} default (Netflix concurrency-limits), which
     * tolerates that much for every window. Here only while the host is busy, where late answers
     * of 10–30% (and up to double while a cold JVM compiles) were measured on a two-core box.
     */
    static final double HOST_BUSY_TOLERANCE = 1.5;
    /**
     * While queue reads decide, how much slower than the baseline a window of answers may be
     * before the lines in flight are cut for it ({@link #slowerServer}): as {@link #HOST_BUSY_TOLERANCE},
     * above what lines that wait behind a short queue of others add.
     */
    static final double SLOWER_SERVER = 1.5;
    /** Slots left free for others when the limit follows the server's free slots, unless told otherwise. */
    static final int FREE_SLOTS_KEPT = 1;
    /** Reads in a row without a queue after which the server's slots are taken to be one more (probing for a larger server). */
    static final int PROBE_READS = 20;
    /** Windows in a row with no queue seen, limit in use, after which growth is fast again. */
    static final int CALM_WINDOWS = 8;

    private int ceiling;
    /** Slots of the server left free for others when the limit follows its free slots. */
    private final int freeSlots;
    private double estimate;
    private boolean slowStart = true;
    private int calm;

    private int windowCount;
    private double windowSum;
    /** The window's round trips as measured, with no lag taken off: what the no-load latency is learned from. */
    private double windowMeasured;
    private double windowSquares;
    private int windowBusiest;
    private final double[] recent = new double[BASELINE_WINDOWS];
    private final long[] recentAt = new long[BASELINE_WINDOWS];
    private int recentCount;
    private int recentNext;
    /** Smoothed squared coefficient of variation of single answers' latency; negative before the first window. */
    private double cv2 = -1;

    /** Answers to lines that started before this moment are not counted. */
    private long cutAt;
    private boolean cut;
    private long retryAfterUntil;
    private boolean retryAfter;
    private long queueReadAt;
    private boolean queueRead;
    private long queueWaiting;
    /** The server's slots, as learned from a read that showed a queue; 0 while unknown. */
    private long slots;
    /** Reads in a row with no queue since the slots were last learned or probed. */
    private int calmReads;
    /** What answers added since the last queue read. */
    private double grownSinceRead;
    /**
     * While queue reads decide: a cap under what they allow, set when the server answers much
     * slower than its baseline with no queue ({@link #slowerServer}); infinite otherwise.
     */
    private double slowCap = Double.POSITIVE_INFINITY;
    /** Whether this host's CPUs are busy now ({@link HostCpu}): then mild latency says nothing of the server's queue. */
    private boolean hostBusy;

    /**
     * @param ceiling the most this process may have in flight to the upstream (its share of the cap)
     * @param initial where to start, within {@code [1, ceiling]}
     */
    public AdaptiveLimit(int ceiling, int initial) {
        this(ceiling, initial, FREE_SLOTS_KEPT);
    }

    /**
     * @param ceiling   the most this process may have in flight to the upstream (its share of the cap)
     * @param initial   where to start, within {@code [1, ceiling]}
     * @param freeSlots the server's slots left free for others once its slots are known (0 or more)
     */
    public AdaptiveLimit(int ceiling, int initial, int freeSlots) {
        this.freeSlots = Math.max(0, freeSlots);
        this.ceiling = Math.max(0, ceiling);
        this.estimate = Math.max(1, Math.min(initial, Math.max(1, this.ceiling)));
    }

    /** The limit now: never above the ceiling (nor the {@link #slowCap}), never below 1 unless the ceiling is 0. */
    public int limit() {
        if (ceiling == 0) {
            return 0;
        }
        return (int) Math.max(1, Math.min(ceiling, Math.floor(Math.min(estimate, slowCap))));
    }

    /** The ceiling last set. */
    public int ceiling() {
        return ceiling;
    }

    /** Whether a line may start with {@code inFlight} lines already in flight to this upstream. */
    public boolean mayStart(int inFlight) {
        return inFlight < limit();
    }

    /**
     * This process's share of the upstream's cap changed. The limit is lowered to it at once (lines
     * in flight finish; no new one starts until fewer are in flight); a higher ceiling is only room:
     * the limit grows into it by the usual rules.
     */
    public void setCeiling(int ceiling) {
        this.ceiling = Math.max(0, ceiling);
        estimate = Math.min(estimate, Math.max(1, this.ceiling));
    }

    /**
     * A line was answered (any answer that is not overload: 2xx, 4xx but 408 and 429), its round
     * trip measured as it is, with nothing taken off.
     *
     * @param nowNanos now
     * @param rttNanos how long the line was in flight
     * @param inFlight lines in flight to this upstream when it was answered, this one included
     */
    public void onAnswer(long nowNanos, long rttNanos, int inFlight) {
        onAnswer(nowNanos, rttNanos, rttNanos, inFlight);
    }

    /**
     * A line was answered (any answer that is not overload: 2xx, 4xx but 408 and 429).
     * {@code rttNanos} is the round trip less what this process's own delays are estimated to have
     * added (its event loop's lag, see {@link UpstreamFlow}): the queue is judged by it. The no-load
     * latency is learned from {@code measuredNanos}, the round trip as measured: an estimate of
     * the lag taken off answers that were not delayed that much made the baseline shorter than the
     * server ever answers (40 ms for a 50 ms server, on a cold JVM), and every later window at the
     * server's true latency then read as a queue and cut, down to 26 lines of 200. A measured round
     * trip is never shorter than the server's, so the baseline errs towards tolerance, and one
     * window without lag brings it down to the truth.
     *
     * @param nowNanos      now
     * @param rttNanos      how long the line was in flight, less this process's estimated delays
     * @param measuredNanos how long the line was in flight, as measured
     * @param inFlight      lines in flight to this upstream when it was answered, this one included
     */
    public void onAnswer(long nowNanos, long rttNanos, long measuredNanos, int inFlight) {
        long rtt = Math.max(1, rttNanos);
        long measured = Math.max(rtt, measuredNanos);
        if (cut && nowNanos - rtt < cutAt) {
            return; // sent before the last cut: it tells of the load before it
        }
        boolean gauged = gauged(nowNanos);
        if (gauged && slots <= 0 && mayGrow(nowNanos) && inFlight >= estimate / 2) {
            double budget = (slowStart ? estimate * SLOW_START_PER_READ : Math.max(1, estimate * GROWTH_PER_READ)) - grownSinceRead;
            double by = Math.min(GROWTH_PER_ANSWER, Math.max(0, budget));
            grow(by);
            grownSinceRead += by;
        }
        if (!gauged && slowStart && mayGrow(nowNanos) && inFlight >= estimate / 2) {
            grow(SLOW_START_PER_ANSWER); // until the first cut: doubling each round trip, as TCP's slow start
        }
        windowSum += rtt;
        windowMeasured += measured;
        windowSquares += (double) rtt * rtt;
        windowCount++;
        windowBusiest = Math.max(windowBusiest, inFlight);
        if (windowCount < Math.max(MIN_WINDOW, (int) Math.ceil(estimate / 2))) {
            return;
        }
        int answers = windowCount;
        int busiest = windowBusiest;
        double average = windowSum / answers;
        double measuredAverage = windowMeasured / answers;
        double variance = Math.max(0, windowSquares / answers - average * average);
        resetWindow();
        double windowCv2 = variance / (average * average);
        cv2 = cv2 < 0 ? windowCv2 : 0.9 * cv2 + 0.1 * windowCv2;
        double noise = Math.sqrt(cv2 / answers); // standard error of a window average, relative
        recent[recentNext] = measuredAverage;
        recentAt[recentNext] = nowNanos;
        recentNext = (recentNext + 1) % recent.length;
        recentCount = Math.min(recent.length, recentCount + 1);
        double best = measuredAverage;
        for (int i = 0; i < recentCount; i++) {
            if (nowNanos - recentAt[i] <= BASELINE_NANOS) {
                best = Math.min(best, recent[i]);
            }
        }
        double base = Math.min(average, best * (1 + NOISE_SIGMAS * noise));
        if (gauged) {
            slowerServer(nowNanos, average, base, noise, busiest); // the queue read decides the rest
            return;
        }
        slowCap = Double.POSITIVE_INFINITY;
        // a host whose CPUs are busy answers late by itself: up to HOST_BUSY_TOLERANCE, no queue can be told from that
        double tolerated = hostBusy ? Math.min(average, base * HOST_BUSY_TOLERANCE) : base;
        double queued = estimate * (1 - tolerated / average);
        double alpha = alpha(estimate);
        double beta = beta(estimate, noise);
        boolean inUse = busiest >= estimate / 2;
        calm = queued <= alpha / 2 && inUse ? calm + 1 : 0;
        if (queued > beta) {
            cut(nowNanos, vegasCut(estimate, tolerated, average));
        } else if (mayGrow(nowNanos) && inUse) {
            boolean fast = queued <= alpha / 2 && (slowStart || calm >= CALM_WINDOWS);
            grow(fast ? GROWTH_PER_ANSWER * answers : answers / estimate);
        }
    }

    /**
     * While queue reads decide, a window of answers much slower than the baseline (over
     * {@link #SLOWER_SERVER} times it): the server shows no queue, yet serves every line slower,
     * as an inference server does when its slots hold longer work than before (or share a GPU
     * that got busier), and interactive requests are served slower too. Vegas' rule (see the class
     * comment) then runs on the lines in flight with that tolerance: when it counts more than
     * {@code beta} of them as excess, a cap is set under the free slots ({@link #slowCap}), at
     * {@code inFlight × tolerated / rtt} (at least half), and it stays while the answers stay that
     * slow; each window back at the baseline raises the cap by half (and a line), and at the
     * ceiling it goes away. The baseline forgets slow windows after {@link #BASELINE_NANOS}, so a server that
     * became slower for good gets its slots back then. (With the waiting count alone, each read
     * that shows a queue is a cut, which starts the window anew: such a server's windows seldom
     * fill, and the reads decide alone, as before.)
     */
    private void slowerServer(long nowNanos, double average, double base, double noise, int busiest) {
        double tolerated = Math.min(average, base * SLOWER_SERVER);
        double lines = Math.max(1, busiest);
        double excess = lines * (1 - tolerated / average);
        if (excess > beta(lines, noise)) {
            slowCap = Math.max(1, Math.min(slowCap, vegasCut(lines, tolerated, average)));
            cut = true;
            cutAt = nowNanos;
        } else if (average <= base && slowCap != Double.POSITIVE_INFINITY) {
            slowCap = slowCap * 1.5 + 1;
            if (slowCap >= ceiling) {
                slowCap = Double.POSITIVE_INFINITY;
            }
        }
    }

    /** Vegas' alpha for {@code lines}: lines queued at the server that still let the limit grow fast (halved). */
    private static double alpha(double lines) {
        return Math.max(2, 0.05 * lines);
    }

    /** Vegas' beta for {@code lines}: lines queued at the server above which the limit is cut, at least the noise of a window's average. */
    private static double beta(double lines, double noise) {
        return Math.max(2 * alpha(lines), NOISE_SIGMAS * noise * lines);
    }

    /** What a latency cut leaves of {@code lines}: {@code lines × tolerated / rtt}, at least half. */
    private static double vegasCut(double lines, double tolerated, double average) {
        return Math.max(lines / 2, lines * tolerated / average);
    }

    /**
     * Whether this host's CPUs are busy ({@link HostCpu}). While they are, a window's latency
     * up to {@link #HOST_BUSY_TOLERANCE} times the baseline reads as no queue: answers come late
     * because the host (this process's event loops, or a server sharing the host) waits for a CPU,
     * not because the server queues our lines, and a cut (or the slow growth of a window that seems
     * to queue a little) would only slow a batch that already takes what the host can give. A
     * server that slows down more than that (or queues our lines more) is still cut for, as are
     * overload answers, Retry-After and queue reads.
     */
    public void hostBusy(boolean busy) {
        hostBusy = busy;
    }

    /**
     * The upstream sat idle (no line in flight for a while) and lines start again: what latency was
     * is forgotten, for a new batch may ask for answers of another length (a batch of long answers
     * after one of short ones would read as a queue of a hundred lines). The limit stays, and grows
     * fast again until the next cut.
     */
    public void forgetLatency() {
        forgetWindows();
        slowCap = Double.POSITIVE_INFINITY;
        cv2 = -1;
        slowStart = true;
        calm = 0;
        resetWindow();
    }

    /**
     * A line met overload: 429 or 503 (or another 5xx), or a timeout. Cuts the limit, once per
     * round trip.
     *
     * @param rttNanos how long the line was in flight
     */
    public void onOverload(long nowNanos, long rttNanos, int inFlight) {
        if (cut && nowNanos - Math.max(0, rttNanos) < cutAt) {
            return; // sent before the last cut, which already answered this overload
        }
        cut(nowNanos, estimate * OVERLOAD_FACTOR);
    }

    /**
     * The upstream asked to slow down for {@code waitNanos} ({@code Retry-After}): the limit is
     * halved, once, and does not grow until that time has passed. Call it besides
     * {@link #onOverload} for the same answer, or instead of it: both count as one cut.
     */
    public void onRetryAfter(long nowNanos, long waitNanos) {
        if (!retryAfter || nowNanos >= retryAfterUntil) {
            cut(nowNanos, estimate / 2);
            retryAfterUntil = nowNanos + Math.max(0, waitNanos);
        } else {
            retryAfterUntil = Math.max(retryAfterUntil, nowNanos + Math.max(0, waitNanos));
        }
        retryAfter = true;
    }

    /**
     * The server's waiting count, as just read from its metrics.
     *
     * @param waiting  requests waiting at the server (everyone's, not only ours)
     * @param inFlight this process's lines in flight to it now
     */
    public void onQueue(long nowNanos, long waiting, int inFlight) {
        onQueue(nowNanos, waiting, -1, inFlight);
    }

    /**
     * The server's waiting and running counts, as just read from its metrics. With a running count,
     * the limit is set to the server's free slots: its slots are what it runs whenever a queue
     * shows (then every slot is taken), and the limit is those slots less what others have in it
     * (running + waiting − our lines in flight) less the free slots kept ({@link #FREE_SLOTS_KEPT} by default), so that our lines
     * fill free slots and never the queue. Until a queue has shown once the slots are unknown, and
     * the limit grows as with the waiting count alone; a server that gets more slots is found by
     * one more line every {@link #PROBE_READS} reads that saw no queue.
     *
     * @param running requests being served at the server (everyone's), or −1 when unknown
     */
    public void onQueue(long nowNanos, long waiting, long running, int inFlight) {
        queueRead = true;
        queueReadAt = nowNanos;
        queueWaiting = Math.max(0, waiting);
        grownSinceRead = 0;
        if (running >= 0) {
            if (queueWaiting > 0) {
                slots = running;
                calmReads = 0;
            } else if (slots > 0 && ++calmReads >= PROBE_READS) {
                slots++;
                calmReads = 0;
            }
            if (slots > 0) {
                long others = Math.max(0, running + queueWaiting - inFlight);
                double target = Math.max(1, slots - others - freeSlots);
                if (target < estimate) {
                    slowStart = false;
                    calm = 0;
                }
                // a Retry-After's hold (or a ceiling) still bounds it: the free slots only lower it then
                boolean held = retryAfter && nowNanos < retryAfterUntil;
                estimate = Math.min(held ? Math.min(estimate, target) : target, Math.max(1, ceiling));
                return;
            }
        }
        if (queueWaiting > 0) {
            double target = Math.max(1, (double) inFlight - queueWaiting);
            if (target < estimate) {
                cut(nowNanos, target);
            }
        }
    }

    /** Whether the limit is set from the server's free slots (a running count is read and its slots are known). */
    boolean fillsFreeSlots(long nowNanos) {
        return slots > 0 && gauged(nowNanos);
    }

    private boolean mayGrow(long nowNanos) {
        if (retryAfter && nowNanos < retryAfterUntil) {
            return false;
        }
        return queueWaiting == 0 || !gauged(nowNanos);
    }

    private boolean gauged(long nowNanos) {
        return queueRead && nowNanos - queueReadAt <= QUEUE_FRESH_NANOS;
    }

    private void grow(double by) {
        estimate = Math.min(estimate + by, Math.max(1, ceiling));
    }

    private void cut(long nowNanos, double to) {
        estimate = Math.max(1, Math.min(estimate, to));
        cut = true;
        cutAt = nowNanos;
        slowStart = false;
        calm = 0;
        resetWindow();
    }

    /** The no-load latency is learned again from the next window on. */
    private void forgetWindows() {
        recentCount = 0;
        recentNext = 0;
    }

    private void resetWindow() {
        windowCount = 0;
        windowSum = 0;
        windowMeasured = 0;
        windowSquares = 0;
        windowBusiest = 0;
    }
}
