package dev.openbatch.upstream.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/** The built-in model's worker pool, without the model. */
class ModelWorkersTest {

    @Test
    void workersAreNamedDaemonsWithTheAppsClassLoader() throws Exception {
        ModelWorkers workers = new ModelWorkers(1);
        try {
            CompletableFuture<Thread> ran = new CompletableFuture<>();
            workers.execute(() -> ran.complete(Thread.currentThread()));
            Thread t = ran.get(10, TimeUnit.SECONDS);
            assertTrue(t.getName().matches("openbatch-local-\\d+"), t.getName());
            assertTrue(t.isDaemon());
            assertSame(ModelWorkers.class.getClassLoader(), t.getContextClassLoader());
        } finally {
            workers.shutdown();
        }
    }

    @Test
    void noMoreThanThreadsTasksRunAtOnceAndTheOthersWait() throws Exception {
        ModelWorkers workers = new ModelWorkers(2);
        assertEquals(2, workers.threads());
        AtomicInteger running = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        CountDownLatch twoIn = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(6);
        try {
            for (int i = 0; i < 6; i++) {
                workers.execute(() -> {
                    most.accumulateAndGet(running.incrementAndGet(), Math::max);
                    twoIn.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    running.decrementAndGet();
                    done.countDown();
                });
            }
            assertTrue(twoIn.await(10, TimeUnit.SECONDS));
            Thread.sleep(100);
            assertEquals(2, running.get(), "the other tasks wait in the queue");
            release.countDown();
            assertTrue(done.await(10, TimeUnit.SECONDS), "the queued tasks run once a worker is free");
            assertEquals(2, most.get());
        } finally {
            release.countDown();
            workers.shutdown();
        }
    }

    @Test
    void shutdownInterruptsRunningTasksDropsQueuedOnesAndRefusesNewOnes() throws Exception {
        ModelWorkers workers = new ModelWorkers(1);
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
        AtomicInteger queuedRan = new AtomicInteger();
        workers.execute(() -> {
            started.countDown();
            try {
                new CountDownLatch(1).await();
                interrupted.complete(false);
            } catch (InterruptedException e) {
                interrupted.complete(true);
            }
        });
        workers.execute(queuedRan::incrementAndGet);
        assertTrue(started.await(10, TimeUnit.SECONDS));
        workers.shutdown();
        assertTrue(interrupted.get(10, TimeUnit.SECONDS), "the running task is interrupted");
        assertThrows(RejectedExecutionException.class, () -> workers.execute(() -> {
        }));
        Thread.sleep(100);
        assertEquals(0, queuedRan.get(), "the queued task never runs");
        assertFalse(Thread.currentThread().isInterrupted());
    }
}
