package dev.openbatch.engine.dispatch;

import static dev.openbatch.engine.dispatch.FifoServerSimulation.MS;
import static dev.openbatch.engine.dispatch.FifoServerSimulation.S;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.openbatch.engine.dispatch.FifoServerSimulation.Figures;
import dev.openbatch.engine.dispatch.FifoServerSimulation.Limiter;
import dev.openbatch.engine.dispatch.FifoServerSimulation.Point;
import dev.openbatch.engine.dispatch.FifoServerSimulation.Service;

/**
 * The adaptive limit against a simulated FIFO server of 64 slots and 2 s lines (see
 * {@link FifoServerSimulation}): it finds the slots alone, keeps the queue near empty when told
 * the server's queue, backs off when the server slows down and recovers after, and obeys
 * Retry-After, overload answers and its ceiling. Each run prints its figures.
 */
class AdaptiveLimitTest {
    private static final int SLOTS = 64;
    private static final Service STEADY = Service.lognormal(2 * S, 0.1);
    private static final Service VARIED = Service.lognormal(2 * S, 1.0);
    private static final double INTERACTIVE_30_PERCENT = 0.3 * SLOTS / 2.0;

    static Limiter driving(AdaptiveLimit limit, boolean readsQueue) {
        return driving(limit, readsQueue, readsQueue);
    }

    /** {@code readsRunning}: the reads give the server's running count too (vLLM's and SGLang's pages do). */
    static Limiter driving(AdaptiveLimit limit, boolean readsQueue, boolean readsRunning) {
        return new Limiter() {
            @Override
            public int limit() {
                return limit.limit();
            }

            @Override
            public void answered(long now, long rtt, int inFlight) {
                limit.onAnswer(now, rtt, inFlight);
            }

            @Override
            public void queueRead(long now, long waiting, long running, int inFlight) {
                if (readsQueue) {
                    limit.onQueue(now, waiting, readsRunning ? running : -1, inFlight);
                }
            }
        };
    }

    private static Figures run(String what, FifoServerSimulation sim, AdaptiveLimit limit, boolean readsQueue) {
        return run(what, sim, limit, readsQueue, readsQueue);
    }

    private static Figures run(String what, FifoServerSimulation sim, AdaptiveLimit limit, boolean readsQueue, boolean readsRunning) {
        Figures f = sim.run(driving(limit, readsQueue, readsRunning), 600 * S, 120 * S);
        System.out.println(what + ": " + f);
        return f;
    }

    @Test
    void aloneItGrowsToTheServersSlotsFromLatencyAlone() {
        Figures f = run("alone, latency", new FifoServerSimulation(SLOTS, STEADY, 0, 0, 1), new AdaptiveLimit(2 * SLOTS, 4), false);
        assertTrue(f.busyFraction() >= 0.95, "slots busy: " + f.busyFraction());
        assertTrue(f.meanWaiting() < 0.15 * SLOTS, "a short queue of its own: " + f.meanWaiting());
        assertTrue(f.maxLimit() < 2 * SLOTS, "it stops before the ceiling: " + f.maxLimit());
    }

    @Test
    void aloneWithTheQueueReadItFillsTheSlotsAndNotTheQueue() {
        for (Service service : new Service[] { STEADY, VARIED }) {
            Figures f = run("alone, queue read", new FifoServerSimulation(SLOTS, service, 0, 500 * MS, 2), new AdaptiveLimit(2 * SLOTS, 4), true);
            assertTrue(f.busyFraction() >= 0.98, "slots busy: " + f.busyFraction());
            assertTrue(f.meanWaiting() < 1, "waiting: " + f.meanWaiting());
        }
    }

    @Test
    void withInteractiveTrafficTheQueueReadKeepsTheQueueNearEmpty() {
        for (Service service : new Service[] { STEADY, VARIED }) {
            Figures f = run("interactive 30%, queue read", new FifoServerSimulation(SLOTS, service, INTERACTIVE_30_PERCENT, 500 * MS, 3),
                    new AdaptiveLimit(2 * SLOTS, 4), true);
            assertTrue(f.busyFraction() >= 0.93, "slots busy: " + f.busyFraction());
            assertTrue(f.meanWaiting() < 1.5, "waiting: " + f.meanWaiting());
            assertEquals(0, f.interactiveWaitP50Ms(), "most interactive requests find a free slot");
            assertTrue(f.interactiveWaitP99Ms() < 1000, "interactive p99 wait under half a line: " + f.interactiveWaitP99Ms());
            assertTrue(f.batchBusyFraction() >= 0.6, "the batch takes what interactive traffic leaves: " + f.batchBusyFraction());
        }
    }

    @Test
    void itBacksOffWhenTheServerSlowsFourfoldAndRecoversAfter() {
        Service slow = Service.slowdown(STEADY, 4, 200 * S, 400 * S);
        Figures f = run("slowdown x4 200-400 s, latency", new FifoServerSimulation(SLOTS, slow, 0, 0, 250 * MS, 4), new AdaptiveLimit(2 * SLOTS, 4),
                false);
        int before = at(f, 199 * S).limit();
        assertTrue(before >= SLOTS, "full before: " + before);
        // lines that got a slot at 200 s answer at about 208 s: the first slow answers
        long firstSlow = at(f, 208 * S).batchAnswers();
        Point halved = f.trace().stream().filter(p -> p.nanos() > 200 * S && p.limit() <= before * 0.6).findFirst().orElseThrow();
        assertTrue(halved.batchAnswers() - firstSlow <= 128, "cut within two windows of slow answers: " + (halved.batchAnswers() - firstSlow));
        for (Point p : f.trace()) {
            if (p.nanos() >= 460 * S && p.nanos() <= 600 * S) {
                assertTrue(p.busy() >= 0.95 * SLOTS, "recovered a minute after: " + p);
            }
        }
    }

    @Test
    void withTheServersCountsItStillBacksOffWhenTheServerSlowsFourfoldWithNoQueueAndRecoversAfter() {
        // 50 s: within the minute after which a slower server is taken as it now is
        Service slow = Service.slowdown(STEADY, 4, 200 * S, 250 * S);
        Figures f = run("slowdown x4 200-250 s, queue read and running count",
                new FifoServerSimulation(SLOTS, slow, 0, 500 * MS, 250 * MS, 5), new AdaptiveLimit(2 * SLOTS, 4), true, true);
        int before = at(f, 199 * S).batchInFlight();
        assertTrue(before >= 0.95 * SLOTS, "full before: " + before);
        // the first slow answers come at about 208 s; the lines in flight fall within 20 s of them (ten answers of 2 s)
        for (Point p : f.trace()) {
            if (p.nanos() >= 228 * S && p.nanos() < 250 * S) {
                assertTrue(p.batchInFlight() <= 0.75 * before, "fewer lines while the server is slow: " + p);
            }
            if (p.nanos() >= 300 * S) {
                assertTrue(p.busy() >= 0.9 * SLOTS, "back within 50 s (25 round trips) after: " + p);
            }
        }
    }

    @Test
    void itNeverExceedsTheCeilingAndFollowsItDown() {
        AdaptiveLimit limit = new AdaptiveLimit(20, 4);
        int[] seen = { 0 };
        FifoServerSimulation sim = new FifoServerSimulation(SLOTS, STEADY, 0, 500 * MS, 5)
                .at(300 * S, () -> limit.setCeiling(10))
                .at(400 * S, () -> limit.setCeiling(0));
        Limiter watched = driving(limit, true);
        Figures f = sim.run(new Limiter() {
            @Override
            public int limit() {
                seen[0] = Math.max(seen[0], watched.limit());
                return watched.limit();
            }

            @Override
            public void answered(long now, long rtt, int inFlight) {
                watched.answered(now, rtt, inFlight);
            }

            @Override
            public void queueRead(long now, long waiting, long running, int inFlight) {
                watched.queueRead(now, waiting, running, inFlight);
            }
        }, 500 * S, 0);
        assertEquals(20, seen[0], "grew to the ceiling, not past it");
        assertEquals(20, at(f, 299 * S).limit());
        assertEquals(10, at(f, 301 * S).limit());
        assertEquals(0, at(f, 401 * S).limit(), "a ceiling of 0 starts nothing");
        assertEquals(0, at(f, 420 * S).batchInFlight());
        assertFalse(limit.mayStart(0));
    }

    @Test
    void retryAfterHalvesOnceAndHoldsGrowthUntilItPasses() {
        AdaptiveLimit limit = grown(40);
        long now = 1_000 * S;
        limit.onRetryAfter(now, 10 * S);
        assertEquals(20, limit.limit());
        limit.onRetryAfter(now + S, 10 * S); // the same episode: extends the hold, no second halving
        assertEquals(20, limit.limit());
        answerCalmly(limit, now + 2 * S, now + 10 * S);
        assertEquals(20, limit.limit(), "no growth until 11 s after");
        answerCalmly(limit, now + 12 * S, now + 60 * S);
        assertTrue(limit.limit() > 20, "grows again after: " + limit.limit());
        int later = limit.limit();
        limit.onRetryAfter(now + 61 * S, S);
        assertEquals(later / 2, limit.limit(), "a new episode halves again");
    }

    @Test
    void overloadCutsOncePerRoundTrip() {
        AdaptiveLimit limit = grown(40);
        long now = 1_000 * S;
        for (int i = 0; i < 30; i++) {
            limit.onOverload(now + i * MS, 2 * S, 40); // a burst of 503s to lines sent before the first of them
        }
        assertEquals(28, limit.limit());
        limit.onOverload(now + 3 * S, 2 * S, 28); // sent after the cut: a new overload
        assertEquals(19, limit.limit());
    }

    @Test
    void aQueueReadCutsToWhatWeHoldLessTheQueueOnceAndHoldsGrowth() {
        AdaptiveLimit limit = grown(40);
        long now = 1_000 * S;
        limit.onQueue(now, 5, 40);
        assertEquals(35, limit.limit());
        limit.onQueue(now + 500 * MS, 3, 38); // still draining: same target, no second cut
        assertEquals(35, limit.limit());
        for (int i = 0; i < 20; i++) {
            limit.onAnswer(now + S + i * MS, 2 * S, 35);
        }
        assertEquals(35, limit.limit(), "no growth while the last read saw a queue");
        limit.onQueue(now + 2 * S, 0, 35);
        for (int i = 0; i < 4; i++) {
            limit.onAnswer(now + 2 * S + i * MS, 500 * MS, 35);
        }
        assertEquals(37, limit.limit(), "half a line per answer once the queue is empty");
        for (int i = 4; i < 40; i++) {
            limit.onAnswer(now + 2 * S + i * MS, 500 * MS, 35);
        }
        assertEquals(38, limit.limit(), "but no more than a tenth of the limit between two reads");
        limit.onQueue(now + 2500 * MS, 0, 37);
        limit.onAnswer(now + 2600 * MS, 500 * MS, 37);
        limit.onAnswer(now + 2601 * MS, 500 * MS, 37);
        assertEquals(39, limit.limit(), "the next read opens a new allowance");
        assertTrue(limit.mayStart(38));
        assertFalse(limit.mayStart(39));
    }

    @Test
    void moreFreeSlotsKeptLeaveMoreOfTheServerToOthers() {
        long now = 1_000 * S;
        for (int kept = 0; kept <= 3; kept++) {
            AdaptiveLimit limit = new AdaptiveLimit(256, 4, kept);
            limit.onQueue(now, 3, 32, 20); // 32 slots; others hold 32 + 3 - 20 = 15
            assertEquals(32 - 15 - kept, limit.limit(), kept + " kept free");
        }
    }

    @Test
    void withARunningCountTheLimitFollowsTheServersFreeSlots() {
        AdaptiveLimit limit = new AdaptiveLimit(256, 4);
        long now = 1_000 * S;
        limit.onQueue(now, 0, 10, 4); // slots unknown yet: it grows as with the waiting count alone
        assertFalse(limit.fillsFreeSlots(now));
        limit.onQueue(now + 100 * MS, 3, 32, 20); // a queue: every slot is taken, so the server has 32
        assertTrue(limit.fillsFreeSlots(now + 100 * MS));
        // others hold 32 + 3 - 20 = 15: 32 - 15 - 1 kept free = 16
        assertEquals(16, limit.limit());
        limit.onQueue(now + 200 * MS, 0, 20, 16); // others now hold 4: room for 27
        assertEquals(27, limit.limit(), "it rises at once to the free slots");
        limit.onQueue(now + 300 * MS, 0, 32, 16); // others hold 16 again
        assertEquals(15, limit.limit());
        for (int i = 0; i < AdaptiveLimit.PROBE_READS; i++) {
            limit.onQueue(now + (400 + 100 * i) * MS, 0, 0, 0);
        }
        assertEquals(32, limit.limit(), "reads without a queue let it probe one slot more: 33 - 0 - 1");
        limit.onRetryAfter(now + 3 * S, 10 * S);
        limit.onQueue(now + 3100 * MS, 0, 0, 0);
        assertEquals(16, limit.limit(), "Retry-After halves it and the free slots do not raise it during the hold");
        limit.onQueue(now + 14 * S, 0, 0, 0);
        assertEquals(32, limit.limit(), "after the hold they do");
        limit.setCeiling(8);
        limit.onQueue(now + 15 * S, 0, 0, 0);
        assertEquals(8, limit.limit(), "never above the ceiling");
    }

    @Test
    void afterAPauseANewBatchOfLongerAnswersIsNotReadAsAQueue() {
        AdaptiveLimit limit = new AdaptiveLimit(64, 4);
        long now = 0;
        for (int i = 0; i < 400; i++) { // short answers, 50 ms, no queue: it grows
            now += 5 * MS;
            limit.onAnswer(now, 50 * MS, limit.limit());
        }
        int grown = limit.limit();
        assertTrue(grown >= 32, "grew on short answers: " + grown);
        limit.forgetLatency(); // the upstream sat idle; a batch of 5 s answers starts
        for (int i = 0; i < 200; i++) {
            now += 100 * MS;
            limit.onAnswer(now, 5 * S, limit.limit());
        }
        assertTrue(limit.limit() >= grown, "answers 100 times longer, all alike, are not a queue: " + limit.limit() + " of " + grown);
    }

    /**
     * A cold JVM's event loop lags, and the smoothed lag taken off each answer is more than some
     * answers waited: their round trips read 40 ms from a server that always takes 50. Learned as
     * the no-load latency, that made every later window at 52 ms (the lag gone) look like a queue
     * of a fifth of the limit, and it was cut again and again (throughput.sh: 200 down to 26).
     * The baseline is learned from the round trips as measured.
     */
    @Test
    void aLagTakenOffAnswersThatDidNotWaitThatLongTeachesNoBaselineBelowTheServersLatency() {
        int[] after = new int[2];
        for (int measuredKept = 0; measuredKept < 2; measuredKept++) {
            AdaptiveLimit limit = new AdaptiveLimit(100, 100);
            long now = 0;
            for (int i = 0; i < 300; i++) { // the lagging start: 50 ms measured, 40 ms once the lag is taken off
                now += MS / 2;
                if (measuredKept == 1) {
                    limit.onAnswer(now, 40 * MS, 50 * MS, limit.limit());
                } else {
                    limit.onAnswer(now, 40 * MS, limit.limit()); // as before: only the corrected round trip
                }
            }
            assertEquals(100, limit.limit(), "no queue at the start");
            for (int i = 0; i < 600; i++) { // the lag gone: 52 ms, the server's 50 and the host's 2
                now += MS / 2;
                limit.onAnswer(now, 52 * MS, 52 * MS, limit.limit());
            }
            after[measuredKept] = limit.limit();
        }
        assertTrue(after[0] < 90, "learned from corrected round trips alone, the baseline is under the server's latency and it cuts: " + after[0]);
        assertEquals(100, after[1], "learned from measured round trips, 52 ms against 50 is no queue");
    }

    @Test
    void lateAnswersOnAHostWhoseCpusAreAllBusyCutNothingUnlessMuchLaterAndOnAnIdleHostTheyDo() {
        int[] after = new int[2];
        for (int busy = 0; busy < 2; busy++) {
            AdaptiveLimit limit = new AdaptiveLimit(200, 4);
            long now = 0;
            for (int i = 0; i < 2000; i++) { // 50 ms answers: slow start to about 100
                now += MS / 2;
                limit.onAnswer(now, 50 * MS, limit.limit());
                if (limit.limit() >= 100) {
                    break;
                }
            }
            int grown = limit.limit();
            limit.hostBusy(busy == 1);
            for (int i = 0; i < 400; i++) { // the same server's answers, 20 ms late
                now += MS;
                limit.onAnswer(now, 70 * MS, limit.limit());
            }
            after[busy] = limit.limit();
            assertTrue(grown >= 100, "grew first: " + grown);
            if (busy == 1) {
                assertTrue(after[busy] >= grown, "a saturated host's late answers are no queue: " + after[busy] + " of " + grown);
            } else {
                assertTrue(after[busy] <= grown * 0.75, "answers 40% slower on an idle host are a queue: " + after[busy] + " of " + grown);
            }
        }
        // a server four times slower is cut for, busy host or not
        AdaptiveLimit slowed = new AdaptiveLimit(200, 4);
        long now = 0;
        while (slowed.limit() < 100) {
            now += MS / 2;
            slowed.onAnswer(now, 50 * MS, slowed.limit());
        }
        int grown = slowed.limit();
        slowed.hostBusy(true);
        for (int i = 0; i < 400; i++) {
            now += MS;
            slowed.onAnswer(now, 200 * MS, slowed.limit());
        }
        assertTrue(slowed.limit() <= grown / 2, "a server four times slower on a busy host: " + slowed.limit() + " of " + grown);
        // overload still cuts on a busy host
        AdaptiveLimit limit = new AdaptiveLimit(200, 100);
        limit.hostBusy(true);
        limit.onOverload(S, 50 * MS, 100);
        assertEquals(70, limit.limit());
    }

    @Test
    void aCeilingBelowTheStartIsObeyedAndTheLimitIsNeverBelowOne() {
        assertEquals(3, new AdaptiveLimit(3, 10).limit());
        AdaptiveLimit limit = new AdaptiveLimit(10, 1);
        for (int i = 0; i < 20; i++) {
            limit.onOverload(i * 10 * S, S, 1);
        }
        assertEquals(1, limit.limit());
        limit.onQueue(300 * S, 50, 1);
        assertEquals(1, limit.limit());
    }

    /** A limit grown to {@code n} with the queue read saying 0, the clock then left well before 1,000 s. */
    private static AdaptiveLimit grown(int n) {
        AdaptiveLimit limit = new AdaptiveLimit(n, 1);
        long t = 0;
        while (limit.limit() < n) {
            t += MS;
            limit.onQueue(t, 0, limit.limit());
            limit.onAnswer(t, MS, limit.limit());
        }
        return limit;
    }

    /** Answers of 2 s every 10 ms from {@code from} to {@code to}, the queue read saying 0 before each, the limit in use. */
    private static void answerCalmly(AdaptiveLimit limit, long from, long to) {
        for (long t = from; t < to; t += 10 * MS) {
            limit.onQueue(t, 0, limit.limit());
            limit.onAnswer(t, 2 * S, limit.limit());
        }
    }

    private static Point at(Figures f, long nanos) {
        Point last = null;
        for (Point p : f.trace()) {
            if (p.nanos() > nanos) {
                break;
            }
            last = p;
        }
        return last;
    }
}
