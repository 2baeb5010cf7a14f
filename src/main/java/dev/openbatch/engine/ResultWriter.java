package dev.openbatch.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

import org.jboss.logging.Logger;

import io.vertx.mutiny.core.Vertx;

/**
 * Writes one dispatcher's results in sets through {@link LineStore#write}: as soon as a writer is
 * free (or after {@code delay}), with up to {@code concurrency} writes at once, each of up to
 * {@code maxBatch} results. A failed write (PostgreSQL away) is kept and tried again with backoff;
 * the fence makes a repeat harmless. Every result is reported back once it is written, applied
 * or refused by its fence, so the dispatcher frees its slot only then.
 * Confined to the engine's event-loop context.
 */
class ResultWriter {
    private static final Logger LOG = Logger.getLogger(ResultWriter.class);

    private final LineStore lines;
    private final Vertx vertx;
    private final int maxBatch;
    private final long delayMillis;
    private final int concurrency;
    private final BiConsumer<List<Result>, LineStore.Applied> onWritten;
    private final EngineMetrics metrics;
    private List<Result> pending = new ArrayList<>();
    private int writing;
    private int inWrite;
    private boolean halted;
    private boolean timerSet;
    private boolean retrying;
    private long failures;

    ResultWriter(LineStore lines, Vertx vertx, int maxBatch, long delayMillis, int concurrency,
            BiConsumer<List<Result>, LineStore.Applied> onWritten, EngineMetrics metrics) {
        this.lines = lines;
        this.vertx = vertx;
        this.maxBatch = Math.max(1, maxBatch);
        this.delayMillis = delayMillis;
        this.concurrency = Math.max(1, concurrency);
        this.onWritten = onWritten;
        this.metrics = metrics;
    }

    void add(Result r) {
        if (halted) {
            return;
        }
        pending.add(r);
        schedule();
    }

    /** Results not yet written, including those being written now. */
    int unwritten() {
        return pending.size() + inWrite;
    }

    /** Nothing more is written: what is pending is dropped, as in a killed process. */
    void halt() {
        halted = true;
        pending.clear();
    }

    private void schedule() {
        if (halted || pending.isEmpty() || writing >= concurrency || retrying) {
            return;
        }
        if (delayMillis <= 0 || pending.size() >= maxBatch) {
            flush();
        } else if (!timerSet) {
            timerSet = true;
            vertx.setTimer(delayMillis, id -> {
                timerSet = false;
                flush();
            });
        }
    }

    /** Starts a write of what is pending now, if a writer is free. */
    void flush() {
        while (!pending.isEmpty() && writing < concurrency && !retrying) {
            List<Result> batch;
            if (pending.size() <= maxBatch) {
                batch = pending;
                pending = new ArrayList<>();
            } else {
                batch = new ArrayList<>(pending.subList(0, maxBatch));
                pending = new ArrayList<>(pending.subList(maxBatch, pending.size()));
            }
            write(batch);
        }
    }

    private void write(List<Result> batch) {
        writing++;
        inWrite += batch.size();
        long started = System.nanoTime();
        lines.write(batch).subscribe().with(applied -> {
            if (halted) {
                return;
            }
            metrics.writeLatency(System.nanoTime() - started);
            writing--;
            inWrite -= batch.size();
            failures = 0;
            onWritten.accept(batch, applied);
            schedule();
        }, failure -> {
            if (halted) {
                return;
            }
            writing--;
            inWrite -= batch.size();
            failures++;
            LOG.warnf("writing %d results failed (attempt %d), will retry: %s", batch.size(), failures, failure.getMessage());
            batch.addAll(pending);
            pending = batch;
            retrying = true;
            long wait = Math.min(5000, 100L << Math.min(6, failures));
            vertx.setTimer(wait, id -> {
                retrying = false;
                flush();
            });
        });
    }
}
