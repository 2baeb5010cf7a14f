package dev.openbatch.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.jboss.logging.Logger;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * Writes results in sets: one statement applies up to {@code writeBatch} results, each only if
 * its fence still matches and the line is still running, and adds the applied ones to their
 * batches' counters in the same statement. A failed write (PostgreSQL away, a deadlock) is kept
 * and tried again; the fence makes a repeat harmless.
 * Confined to the engine's event-loop context.
 */
class ResultWriter {
    private static final Logger LOG = Logger.getLogger(ResultWriter.class);

    static final String WRITE = """
            with v as (
              select * from unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::bigint[], $6::int[], $7::text[],
                                   $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[])
                as v(batch_id, line, fence, state, not_before, status_code, request_id, response, error_code, error_message,
                     input_tokens, output_tokens, total_tokens)
            ), u as (
              update requests r set state = v.state, not_before = v.not_before, status_code = v.status_code,
                     request_id = v.request_id, response = v.response, error_code = v.error_code,
                     error_message = v.error_message, claimed_by = null, lease_until = null
                from v
               where r.batch_id = v.batch_id and r.line = v.line and r.fence = v.fence and r.state = 'running'
              returning r.batch_id, r.line, v.state, v.input_tokens, v.output_tokens, v.total_tokens
            ), c as (
              update batches b set completed = b.completed + x.ok, failed = b.failed + x.bad,
                     input_tokens = b.input_tokens + x.it, output_tokens = b.output_tokens + x.ot,
                     total_tokens = b.total_tokens + x.tt
                from (select batch_id,
                             count(*) filter (where state = 'succeeded') as ok,
                             count(*) filter (where state in ('failed', 'cancelled', 'expired')) as bad,
                             coalesce(sum(input_tokens), 0) as it, coalesce(sum(output_tokens), 0) as ot,
                             coalesce(sum(total_tokens), 0) as tt
                        from u group by batch_id) x
               where b.id = x.batch_id
              returning b.id, b.completed + b.failed >= b.total as settled
            )
            select u.batch_id, u.line, u.state, coalesce(c.settled, false) from u left join c on c.id = u.batch_id
            """;

    private final Pool pool;
    private final Vertx vertx;
    private final int maxBatch;
    private final long delayMillis;
    private final Consumer<Applied> onApplied;
    private final EngineMetrics metrics;
    private List<Result> pending = new ArrayList<>();
    private boolean writing;
    private boolean timerSet;
    private long failures;
    private boolean discarded;

    /**
     * What one write changed: results that were applied, how many were refused by their fence,
     * and whether it settled the last line of some batch (time to finalize it).
     */
    record Applied(List<Result> applied, int refused, boolean settledABatch) {
    }

    ResultWriter(Pool pool, Vertx vertx, int maxBatch, long delayMillis, Consumer<Applied> onApplied, EngineMetrics metrics) {
        this.pool = pool;
        this.vertx = vertx;
        this.maxBatch = maxBatch;
        this.delayMillis = delayMillis;
        this.onApplied = onApplied;
        this.metrics = metrics;
    }

    void add(Result r) {
        if (discarded) {
            return;
        }
        pending.add(r);
        schedule();
    }

    /** For tests that simulate a crash: results not yet written are lost, and nothing more is written. */
    void discard() {
        pending.clear();
        discarded = true;
    }

    int pending() {
        return pending.size() + (writing ? 1 : 0);
    }

    private void schedule() {
        if (writing) {
            return;
        }
        if (pending.size() >= maxBatch) {
            flush();
        } else if (!timerSet && !pending.isEmpty()) {
            timerSet = true;
            vertx.setTimer(delayMillis, id -> {
                timerSet = false;
                flush();
            });
        }
    }

    /** Writes what is pending now; completes when it is written (or failed, to be retried). */
    void flush() {
        if (writing || pending.isEmpty() || discarded) {
            return;
        }
        List<Result> batch;
        if (pending.size() <= maxBatch) {
            batch = pending;
            pending = new ArrayList<>();
        } else {
            batch = new ArrayList<>(pending.subList(0, maxBatch));
            pending = new ArrayList<>(pending.subList(maxBatch, pending.size()));
        }
        writing = true;
        long started = System.nanoTime();
        write(batch).subscribe().with(applied -> {
            metrics.writeLatency(System.nanoTime() - started);
            writing = false;
            failures = 0;
            onApplied.accept(applied);
            schedule();
        }, failure -> {
            writing = false;
            failures++;
            LOG.warnf("writing %d results failed (attempt %d), will retry: %s", batch.size(), failures, failure.getMessage());
            batch.addAll(pending);
            pending = batch;
            long wait = Math.min(5000, 100L << Math.min(6, failures));
            vertx.setTimer(wait, id -> flush());
        });
    }

    Uni<Applied> write(List<Result> rs) {
        int n = rs.size();
        String[] batchIds = new String[n];
        Integer[] lines = new Integer[n];
        Long[] fences = new Long[n];
        String[] states = new String[n];
        Long[] notBefore = new Long[n];
        Integer[] status = new Integer[n];
        String[] requestIds = new String[n];
        String[] responses = new String[n];
        String[] codes = new String[n];
        String[] messages = new String[n];
        Long[] in = new Long[n];
        Long[] out = new Long[n];
        Long[] tot = new Long[n];
        for (int i = 0; i < n; i++) {
            Result r = rs.get(i);
            batchIds[i] = r.batchId();
            lines[i] = r.line();
            fences[i] = r.fence();
            states[i] = r.state();
            notBefore[i] = r.notBefore();
            status[i] = r.statusCode();
            requestIds[i] = r.requestId();
            responses[i] = r.response();
            codes[i] = r.errorCode();
            messages[i] = r.errorMessage();
            in[i] = r.inputTokens();
            out[i] = r.outputTokens();
            tot[i] = r.totalTokens();
        }
        Tuple t = Tuple.tuple().addArrayOfString(batchIds).addArrayOfInteger(lines).addArrayOfLong(fences)
                .addArrayOfString(states).addArrayOfLong(notBefore).addArrayOfInteger(status).addArrayOfString(requestIds)
                .addArrayOfString(responses).addArrayOfString(codes).addArrayOfString(messages).addArrayOfLong(in)
                .addArrayOfLong(out).addArrayOfLong(tot);
        return pool.preparedQuery(WRITE).execute(t).map(rows -> {
            java.util.Set<String> ok = new java.util.HashSet<>();
            boolean settled = false;
            for (Row row : rows) {
                ok.add(row.getString(0) + "\u0000" + row.getInteger(1));
                settled |= row.getBoolean(3);
            }
            List<Result> applied = new ArrayList<>(ok.size());
            for (Result r : rs) {
                if (ok.contains(r.batchId() + "\u0000" + r.line())) {
                    applied.add(r);
                }
            }
            return new Applied(applied, n - applied.size(), settled);
        });
    }
}
