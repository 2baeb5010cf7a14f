package dev.openbatch.upstream.local;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The gate in front of the model's native code, without the model: callers are plain threads. */
class NativeGateTest {
    private final NativeGate gate = new NativeGate();
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void close() {
        threads.shutdownNow();
    }

    /** Enters on a thread of its own and stays inside until {@code release}; {@code entered} counts down once it is in. */
    private Future<Boolean> holder(CountDownLatch entered, CountDownLatch release) {
        return threads.submit(() -> {
            if (!gate.tryEnter()) {
                return false;
            }
            try {
                entered.countDown();
                release.await();
            } finally {
                gate.leave();
            }
            return true;
        });
    }

    @Test
    void callersEnterTogetherUntilTheStop() throws Exception {
        CountDownLatch entered = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        Future<Boolean> a = holder(entered, release);
        Future<Boolean> b = holder(entered, release);
        assertTrue(entered.await(10, TimeUnit.SECONDS), "two callers are inside at once");
        release.countDown();
        assertTrue(a.get(10, TimeUnit.SECONDS));
        assertTrue(b.get(10, TimeUnit.SECONDS));
        assertFalse(gate.stopped());
        assertTrue(gate.tryEnter(), "a caller enters again once the others left");
        gate.leave();
    }

    @Test
    void noCallerEntersOnceTheStopBegan() {
        gate.beginStop();
        assertTrue(gate.stopped());
        assertFalse(gate.tryEnter());
    }

    @Test
    void aStopWithNoCallerInsideReturnsAtOnceAndIsForGood() {
        long t0 = System.nanoTime();
        assertTrue(gate.stop(Duration.ofSeconds(10)));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the stop did not wait");
        assertTrue(gate.stopped());
        assertFalse(gate.tryEnter());
    }

    @Test
    void aStopWaitsForTheCallerInsideUpToItsTimeout() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<Boolean> inside = holder(entered, release);
        assertTrue(entered.await(10, TimeUnit.SECONDS));

        long t0 = System.nanoTime();
        assertFalse(gate.stop(Duration.ofMillis(300)), "the caller is still inside after the timeout");
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(300), "the stop waited its timeout");
        assertFalse(gate.tryEnter(), "no caller enters while the stop waits, even a stop that timed out");

        CompletableFuture<Boolean> stop = CompletableFuture.supplyAsync(() -> gate.stop(Duration.ofSeconds(10)), threads);
        Thread.sleep(200);
        assertFalse(stop.isDone(), "the stop waits for the caller inside");
        Future<Boolean> late = holder(new CountDownLatch(1), new CountDownLatch(0));
        assertFalse(late.get(10, TimeUnit.SECONDS), "a caller that comes while the stop waits is refused");
        release.countDown();
        assertTrue(stop.get(10, TimeUnit.SECONDS), "the stop goes on once the caller left");
        assertTrue(inside.get(10, TimeUnit.SECONDS));
        assertFalse(gate.tryEnter());
    }

    @Test
    void anInterruptedStopReturnsFalseAndKeepsTheInterrupt() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        holder(entered, release);
        assertTrue(entered.await(10, TimeUnit.SECONDS));
        try {
            Thread.currentThread().interrupt();
            assertFalse(gate.stop(Duration.ofSeconds(10)));
            assertTrue(Thread.interrupted(), "the interrupt is kept");
            assertFalse(gate.tryEnter());
        } finally {
            release.countDown();
        }
    }
}
