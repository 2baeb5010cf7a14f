package dev.openbatch.upstream.local;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The built-in model's worker threads: a pool of its own, not Mutiny's default pool, which Quarkus
 * shares with blocking endpoints and whose threads this CPU-bound work would hog for seconds.
 *
 * <p>Up to {@code threads} tasks run at once, each on a daemon thread named
 * {@code openbatch-local-N}; more wait in an unbounded queue. A thread idle for 30 s ends, so an
 * instance that embeds nothing holds no thread.
 */
final class ModelWorkers {
    private final int threads;
    private final ThreadPoolExecutor pool;

    /** A pool of {@code threads} workers (at least 1); none starts before the first task. */
    ModelWorkers(int threads) {
        this.threads = threads;
        AtomicInteger n = new AtomicInteger();
        ClassLoader cl = ModelWorkers.class.getClassLoader();
        this.pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "openbatch-local-" + n.incrementAndGet());
            t.setDaemon(true);
            // the model reads its files through the context class loader
            t.setContextClassLoader(cl);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
    }

    /** Most tasks that run at once. */
    int threads() {
        return threads;
    }

    /**
     * Runs {@code task} on a worker, at once or when one is free.
     *
     * @throws RejectedExecutionException once {@link #shutdown} was called
     */
    void execute(Runnable task) {
        pool.execute(task);
    }

    /** No task starts from now on: queued ones are dropped, and running ones interrupted. */
    void shutdown() {
        pool.shutdownNow();
    }
}
