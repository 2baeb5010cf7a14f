package dev.openbatch.engine.dispatch;

import static dev.openbatch.engine.dispatch.FifoServerSimulation.S;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import com.netflix.concurrency.limits.Limit;
import com.netflix.concurrency.limits.limit.Gradient2Limit;
import com.netflix.concurrency.limits.limit.VegasLimit;

import dev.openbatch.engine.dispatch.FifoServerSimulation.Figures;
import dev.openbatch.engine.dispatch.FifoServerSimulation.Limiter;
import dev.openbatch.engine.dispatch.FifoServerSimulation.Service;

/**
 * Why {@link AdaptiveLimit} follows Vegas' rule in its own code: Netflix's {@code VegasLimit} and
 * {@code Gradient2Limit} (library defaults, ceiling 128) and ours on latency alone, on the same
 * simulated server (64 slots, 2 s lines, alone), with service times nearly constant and then
 * varied. Prints the figures; checks that ours keeps the shortest queue at near-full throughput.
 */
class AdaptiveLimitComparisonTest {
    private static final int SLOTS = 64, CEILING = 128, INITIAL = 4;

    private static Limiter library(Limit l) {
        return new Limiter() {
            @Override
            public int limit() {
                return Math.max(1, Math.min(CEILING, l.getLimit()));
            }

            @Override
            public void answered(long now, long rtt, int inFlight) {
                l.onSample(now - rtt, rtt, inFlight, false);
            }
        };
    }

    private static Figures run(String name, Service service, Limiter limiter) {
        Figures f = new FifoServerSimulation(SLOTS, service, 0, 0, 1).run(limiter, 600 * S, 120 * S);
        System.out.printf("%-10s %s%n", name, f);
        return f;
    }

    @Test
    void oursKeepsTheShortestQueueAtNearFullThroughput() {
        for (double cv : new double[] { 0.1, 1.0 }) {
            Service service = Service.lognormal(2 * S, cv);
            System.out.println("service time CV " + cv);
            Figures vegas = run("vegas", service, library(VegasLimit.newBuilder().initialLimit(INITIAL).maxConcurrency(CEILING).build()));
            Figures gradient2 = run("gradient2", service,
                    library(Gradient2Limit.newBuilder().initialLimit(INITIAL).minLimit(1).maxConcurrency(CEILING).build()));
            Figures ours = run("ours", service, AdaptiveLimitTest.driving(new AdaptiveLimit(CEILING, INITIAL), false));
            assertTrue(ours.busyFraction() > vegas.busyFraction(), "more of the server used than Vegas");
            assertTrue(ours.meanWaiting() < gradient2.meanWaiting() || ours.busyFraction() > gradient2.busyFraction(),
                    "a shorter queue than Gradient2, or more of the server used");
            if (cv < 0.5) {
                assertTrue(ours.busyFraction() >= 0.95 && ours.meanWaiting() < gradient2.meanWaiting() / 4);
            }
        }
    }
}
