package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.api.Time;
import dev.openbatch.upstream.QueueGauge;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.UpstreamResponse;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Context;
import io.vertx.mutiny.core.Vertx;

/**
 * The lag {@link UpstreamFlow} takes off each round trip: how late its event loop runs what is due,
 * measured while lines are held. A loop kept busy reads as lag (so a starved process does not take
 * its own wait for a queue at the server); an idle one does not; with nothing held it is forgotten.
 */
class UpstreamFlowLagTest {
    private final Vertx vertx = Vertx.vertx();
    private final Context context = vertx.getOrCreateContext();
    private final AtomicInteger held = new AtomicInteger();

    @AfterEach
    void close() {
        vertx.closeAndAwait();
    }

    @Test
    void aBusyLoopReadsAsLagAnIdleOneDoesNotAndNothingHeldForgetsIt() throws Exception {
        UpstreamFlow flow = on(() -> new UpstreamFlow(adaptive(), 64, 0, context, new Time(Clock.systemUTC()), () -> { }, () -> 0, held::get));
        held.set(10);
        on(() -> {
            flow.holding();
            return null;
        });
        Thread.sleep(300);
        long idle = on(flow::lagNanos); // about 0 on a quiet machine; what the scheduler adds on a loaded one

        // the loop busy 40 ms of every 50 (a starved process, a long collection): what is due waits
        long until = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < until) {
            on(() -> {
                long end = System.nanoTime() + 40_000_000L;
                while (System.nanoTime() < end) {
                    Thread.onSpinWait();
                }
                return null;
            });
            Thread.sleep(10);
        }
        long busy = on(flow::lagNanos);
        assertTrue(busy - idle > 6_000_000, "a loop busy 80% of the time is late by several ms more than an idle one: " + busy
                + " ns against " + idle + " ns");

        held.set(0);
        Thread.sleep(100);
        assertTrue(on(flow::lagNanos) == 0, "nothing held: the lag is forgotten");
    }

    private <T> T on(Supplier<T> action) throws Exception {
        CompletableFuture<T> done = new CompletableFuture<>();
        context.runOnContext(() -> {
            try {
                done.complete(action.get());
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
            }
        });
        return done.get(5, TimeUnit.SECONDS);
    }

    static Upstream adaptive() {
        return upstream(new Upstream.FlowControl(true, Optional.empty(), QueueGauge.VLLM_WAITING, Optional.empty(), QueueGauge.VLLM_RUNNING,
                Duration.ofMillis(100), 16, 1));
    }

    /** An upstream of 64 slots, not shared, that sends nothing, with this flow control. */
    static Upstream upstream(Upstream.FlowControl flow) {
        return new Upstream() {
            @Override
            public String name() { return "u"; }

            @Override
            public Set<String> models() { return Set.of("m"); }

            @Override
            public int maxConcurrency() { return 64; }

            @Override
            public boolean shared() { return false; }

            @Override
            public Uni<UpstreamResponse> send(String path, String body) { throw new UnsupportedOperationException(); }

            @Override
            public FlowControl flowControl() {
                return flow;
            }
        };
    }
}
