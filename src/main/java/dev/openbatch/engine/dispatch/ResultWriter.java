package dev.openbatch.engine.dispatch;
import dev.openbatch.store.LineStore;
import dev.openbatch.engine.metrics.EngineMetrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.api.Time;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;

/**
 * Writes one dispatcher's results in sets through {@link LineStore#write}: as soon as a writer is
 * free (or after {@code delay}), with up to {@code concurrency} writes at once, each of up to
 * {@code maxBatch} results. A failed write (PostgreSQL away) is kept and tried again with backoff;
 * the fence makes a repeat harmless. A write PostgreSQL refuses for a value in it (a data
 * exception, which no retry cures) is split until the refused results are alone; those settle
 * as failed lines ({@link Result#NOT_STORABLE}) and the others are written as usual. Every
 * result is reported back once it is written, applied or refused by its fence: only then does it
 * free its slot, or its room among the unwritten answers ({@code unwritten-max}).
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
    private final Time time;
    private List<Result> pending = new ArrayList<>();
    private int writing;
    private int inWrite;
    private boolean halted;
    private boolean timerSet;
    private boolean retrying;
    private long failures;

    ResultWriter(LineStore lines, Vertx vertx, int maxBatch, long delayMillis, int concurrency,
            BiConsumer<List<Result>, LineStore.Applied> onWritten, EngineMetrics metrics, Time time) {
        this.lines = lines;
        this.vertx = vertx;
        this.maxBatch = Math.max(1, maxBatch);
        this.delayMillis = delayMillis;
        this.concurrency = Math.max(1, concurrency);
        this.onWritten = onWritten;
        this.metrics = metrics;
        this.time = time;
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
    private void flush() {
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
        writeSet(batch).subscribe().with(w -> {
            if (halted) {
                return;
            }
            metrics.writeLatency(System.nanoTime() - started);
            writing--;
            inWrite -= batch.size();
            failures = 0;
            onWritten.accept(w.results(), w.applied());
            schedule();
        }, failure -> {
            if (halted) {
                return;
            }
            writing--;
            inWrite -= batch.size();
            failures++;
            LOG.warnf("writing %d results failed (attempt %d), will retry: %s", batch.size(), failures, LogText.of(failure.getMessage(), 1000));
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

    /** What a write did: the results as written (a refused one replaced by its failure), and what they changed. */
    private record Written(List<Result> results, LineStore.Applied applied) {
        Written plus(Written o) {
            List<Result> rs = new ArrayList<>(results.size() + o.results.size());
            rs.addAll(results);
            rs.addAll(o.results);
            Set<LineStore.Outcome> applied = LineStore.Applied.outcomes(this.applied.applied().size() + o.applied.applied().size());
            applied.addAll(this.applied.applied());
            applied.addAll(o.applied.applied());
            List<LineStore.Counted> counted = new ArrayList<>(this.applied.counted());
            counted.addAll(o.applied.counted());
            return new Written(rs, new LineStore.Applied(applied, this.applied.settledABatch() || o.applied.settledABatch(), counted));
        }
    }

    /**
     * Writes a set in one statement; if PostgreSQL refuses it for its values, writes each half on
     * its own, down to the single results it refuses, which are written as failed lines instead.
     * Any other failure fails the whole (it is retried; what was written already is fenced).
     */
    private Uni<Written> writeSet(List<Result> set) {
        return lines.write(set, time.seconds()).map(a -> new Written(set, a)).onFailure(LineStore.Refused.class).recoverWithUni(e -> {
            if (set.size() > 1) {
                int half = set.size() / 2;
                return writeSet(set.subList(0, half)).chain(a -> writeSet(set.subList(half, set.size())).map(a::plus));
            }
            Result r = set.get(0);
            LineStore.Refused refused = (LineStore.Refused) e;
            String why = LogText.of(refused.reason(), 500); // it may quote the refused value
            if (Result.NOT_STORABLE.equals(r.errorCode()) && r.statusCode() == null) {
                // our own failure, without a value of the upstream's, refused too: nothing more to try
                LOG.errorf("the failure of line %d of batch %s cannot be stored either (%s); the line stays with its claim",
                        r.claim().line(), r.claim().batchId(), why);
                return Uni.createFrom().item(new Written(set, LineStore.Applied.NONE));
            }
            LOG.warnf("the result of line %d of batch %s was refused (%s %s); the line fails as %s", r.claim().line(),
                    r.claim().batchId(), refused.sqlState(), why, Result.NOT_STORABLE);
            return writeSet(List.of(Result.notStorable(r.claim(), why)));
        });
    }
}
