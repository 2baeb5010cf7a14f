package dev.openbatch.store;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.IntFunction;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.status.LineState;
import dev.openbatch.status.Wire;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Every statement the engine runs on {@code requests}, the queue and its results. Each one
 * touches only the index range of the rows it returns or changes, whatever the statistics say:
 * lines are found through {@code requests_queue} (a batch's ready lines), {@code requests_held}
 * (a process's lines) or the primary key, looked up one by one in a lateral join, and changed by
 * {@code ctid}. Leaving {@code running} always moves the fence, so a write that names the fence
 * it claimed with needs no other check (see PlanTest).
 */
@ApplicationScoped
public class LineStore {
    /**
     * The client caches a prepared statement (parsed and planned once per connection) only up to
     * this many characters ({@link PoolSettings} sets it; the client's default is 2,048); every
     * statement here is written to fit (PlanTest checks).
     */
    static final int CACHED_SQL_LIMIT = 4096;

    private static final String QUEUED = LineState.QUEUED.sql();
    private static final String RUNNING = LineState.RUNNING.sql();
    private static final String SUCCEEDED = LineState.SUCCEEDED.sql();
    private static final String SUCCEEDED_WIRE = LineState.SUCCEEDED.wire();
    private static final String CANCELLED = LineState.CANCELLED.sql();
    private static final String EXPIRED = LineState.EXPIRED.sql();
    /** The settled states that are not a success: {@code ('failed', 'expired', 'cancelled')}. */
    private static final String UNSUCCESSFUL = Wire.sqlList(LineState.UNSUCCESSFUL);
    /** The batch statuses in which lines are written: {@code ('in_progress', 'cancelling')}. */
    private static final String WRITABLE = Wire.sqlList(List.of(BatchStatus.IN_PROGRESS, BatchStatus.CANCELLING));

    /**
     * Up to n ready lines of each named batch, due first, skipping lines another claim holds, each
     * with its body as its row has it, or where its body lies in the input file ({@code body_seq},
     * V18), which {@link BodyChunks} cuts it out of. A batch's lines never tried (due at 0) are
     * read after line $5 only (0: all): the queue's index keeps an entry for every line that was
     * queued until a vacuum, so a claim that read from the batch's first line would step over every
     * line claimed before it, a million of them at a million-line batch's end (see
     * {@code QueueFloors}, which gives it).
     */
    static final String CLAIM = compact("""
            with want as (select * from unnest($1::text[], $2::int[], $5::int[]) as w(batch_id, n, after)),
            picked as (
              select p.rid from want w cross join lateral (
                select r.ctid as rid from requests r
                 where r.batch_id = w.batch_id and r.state = %s and r.not_before <= $3 and (r.not_before, r.line) > (0, w.after)
                 order by r.not_before, r.line limit w.n for update skip locked) p
            )
            update requests r set state = %s, claimed_by = $4, fence = r.fence + 1, attempts = r.attempts + 1
              from picked p where r.ctid = p.rid
            returning r.batch_id, r.line, r.fence, r.attempts, r.body, r.body_seq, r.body_at, r.body_length
            """.formatted(QUEUED, RUNNING));

    /**
     * Results, each applied only if its line still carries the fence it was claimed with and its
     * batch has not ended (a late answer for an ended batch is dropped); the settled ones are added
     * to their batches' counters in the same statement. The batch rows are found through their
     * primary key with {@code = any(array)}, which the index walks in key order: two writers lock
     * them in the same order and never wait on each other in a circle. A line that settles gets the
     * next number of its batch's settlement sequence ({@code settled_seq}, read by {@link #RESULTS}),
     * taken with the batch row locked ({@code lk}, after the lines' rows, in key order as the update
     * of the counters locks them): the writers of one batch number its lines one after another, in
     * the order they commit. The same sums
     * are added to {@code usage_hourly} for the batches' projects and models in the hour $15, after
     * the batch rows are locked and in (project, model) order, so that two writers lock usage rows
     * in one order too. Returns the applied lines, then (as line 0) each batch whose counters moved,
     * whether it has now settled every line, its project and model and what it added.
     */
    static final String WRITE = compact("""
            with v as (
              select * from unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::bigint[], $6::int[], $7::text[],
                                   $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::int[])
                as v(batch_id, line, fence, state, not_before, status_code, request_id, response, error_code, error_message,
                     it, ot, tt, refund)
            ), hit as (
              select v.*, r.rid from v cross join lateral (
                select r.ctid as rid from requests r
                 where r.batch_id = v.batch_id and r.line = v.line and r.fence = v.fence for update) r
               where exists (select 1 from batches b where b.id = v.batch_id and b.status in %s)
            ), lk as materialized (
              select b.id, b.settled_seq as base from batches b
               where b.id = any(array(select distinct batch_id from hit where state <> %s)) for update
            ), n as (
              select h.*, case when h.state <> %s
                     then lk.base + row_number() over (partition by h.batch_id, h.state <> %s order by h.line) end as seq
                from hit h left join lk on lk.id = h.batch_id
            ), u as (
              update requests r set state = h.state, not_before = h.not_before, status_code = h.status_code,
                     request_id = h.request_id, response = h.response, error_code = h.error_code,
                     error_message = h.error_message, claimed_by = null, fence = r.fence + 1,
                     attempts = r.attempts - h.refund, settled_seq = h.seq
                from n h where r.ctid = h.rid
              returning h.batch_id, h.line, h.state, h.it, h.ot, h.tt
            ), x as (
              select batch_id, count(*) filter (where state = %s) as ok,
                     count(*) filter (where state in (%s, %s, %s)) as bad,
                     coalesce(sum(it), 0) as it, coalesce(sum(ot), 0) as ot, coalesce(sum(tt), 0) as tt
                from u group by batch_id
            ), c as (
              update batches b set (completed, failed, input_tokens, output_tokens, total_tokens, settled_seq) =
                     (select b.completed + x.ok, b.failed + x.bad, b.input_tokens + x.it, b.output_tokens + x.ot,
                             b.total_tokens + x.tt, b.settled_seq + x.ok + x.bad from x where x.batch_id = b.id)
               where b.id = any(array(select batch_id from x where ok > 0 or bad > 0))
              returning b.id, b.completed + b.failed >= b.total as settled, b.project p, coalesce(b.model, '') m
            ), g as (
              select c.*, x.ok, x.bad, x.it::bigint it, x.ot::bigint ot from c join x on x.batch_id = c.id
            ), usage as (
              insert into usage_hourly as t (project, model, hour, requests, succeeded, failed, input_tokens, output_tokens)
              select p, m, $15::bigint, sum(ok + bad), sum(ok), sum(bad), sum(it), sum(ot) from g group by p, m order by p, m
              on conflict (project, model, hour) do update set requests = t.requests + excluded.requests,
                 succeeded = t.succeeded + excluded.succeeded, failed = t.failed + excluded.failed,
                 input_tokens = t.input_tokens + excluded.input_tokens, output_tokens = t.output_tokens + excluded.output_tokens
            )
            select u.batch_id, u.line, false, null, null, 0::bigint, 0::bigint, 0::bigint, 0::bigint from u
            union all
            select id, 0, settled, p, m, ok, bad, it, ot from g
            """.formatted(WRITABLE, QUEUED, QUEUED, QUEUED, SUCCEEDED, LineState.FAILED.sql(), CANCELLED, EXPIRED));

    /** Every line a process holds goes back to the queue (it died, or an earlier life of it did). */
    static final String RECOVER = "update requests set state = " + QUEUED + ", claimed_by = null, fence = fence + 1"
            + " where claimed_by = $1 and state = " + RUNNING;

    /**
     * Lines held in the name of a process that has no heartbeat row (it was declared dead while a
     * claim of its was committing) go back to the queue. Reads the running lines only.
     */
    static final String RECOVER_ORPHANS = compact("""
            update requests r set state = %s, claimed_by = null, fence = r.fence + 1
              from (select ctid as rid from requests q where q.state = %s and q.claimed_by is not null
                       and not exists (select 1 from engine_nodes n where n.node = q.claimed_by) for update skip locked) h
             where r.ctid = h.rid
            """.formatted(QUEUED, RUNNING));

    /**
     * Settles one chunk of a batch's lines, as a cancel ({@link #CANCEL_CHUNK}) or the deadline
     * ({@link #EXPIRE_CHUNK}) does: up to $6 lines after line $2 in the given states, in line order,
     * become state $3 with error $4/$5 and take the next numbers of the batch's settlement
     * sequence, counted as failed lines in its counters and in {@code usage_hourly} (hour $7), if
     * the batch's fence is $8 (any fence when $8 is null). The lines are locked first, then the
     * batch's row, in the order every writer locks them, and the row stays locked only for this
     * chunk: a cancel or an expiry of a million lines is many short transactions, never one that
     * holds the batch's row (and the results waiting on it) for a minute. Returns the batch's
     * project, model, the lines settled and the last line looked at; no row when the fence moved
     * (then nothing changed). The primary key's range after $2, so a whole batch costs one pass.
     * The update finds the lines by key, not by the {@code ctid} the lock returned: a line that a
     * writer changed while the lock waited (a claim, a lease sweep) is locked in its new version,
     * which this statement's snapshot does not see, and a join on that ctid would count the line
     * without settling it.
     */
    private static String settleChunk(String states) {
        return compact("""
                with p as (
                  select line from requests
                   where batch_id = $1 and line > $2 and state in (%s)
                   order by line limit $6 for update
                ), k as (select count(*) as n, max(line) as last from p), b as (
                  update batches set failed = failed + k.n, settled_seq = settled_seq + k.n
                    from k where id = $1 and ($8::bigint is null or fence = $8)
                  returning project p, coalesce(model, '') m, k.n, settled_seq - k.n as base, k.last
                ), x as (
                  update requests r set state = $3, fence = r.fence + 1, claimed_by = null, error_code = $4,
                         error_message = $5, settled_seq = b.base + q.rn
                    from (select line, row_number() over (order by line) as rn from p) q, b
                   where r.batch_id = $1 and r.line = q.line
                ), %s
                select n, p, m, last from b
                """.formatted(states, countFailed("$7")));
    }

    /** {@link #settleChunk} of a batch's unfinished lines (queued and running), at its deadline. */
    static final String EXPIRE_CHUNK = settleChunk(QUEUED + ", " + RUNNING);

    /** {@link #settleChunk} of a cancelling batch's queued lines (those running are aborted by their dispatchers). */
    static final String CANCEL_CHUNK = settleChunk(QUEUED);

    /** Lines a chunk of {@link #EXPIRE_CHUNK} or {@link #CANCEL_CHUNK} settles at most. */
    static final int SETTLE_CHUNK_LINES = 5000;

    /** The CTE that adds the n failed lines of b (project p, model m) to {@code usage_hourly} in the hour {@code hour}. */
    private static String countFailed(String hour) {
        return """
                usage as (
                  insert into usage_hourly as t (project, model, hour, requests, failed)
                  select p, m, %s::bigint, n, n from b where n > 0
                  on conflict (project, model, hour) do update set requests = t.requests + excluded.requests,
                     failed = t.failed + excluded.failed
                )""".formatted(hour);
    }

    static final String INSERT = "insert into requests (batch_id, line, custom_id, body)"
            + " select $1, l, c, b from unnest($2::int[], $3::text[], $4::text[]) as t(l, c, b)";

    /**
     * A batch's lines from its input file's index, for every line whose body lies in one chunk: the
     * row keeps where the body is (its chunk, offset and length), not the body, which stays stored
     * once, in the file (V18); no chunk is read. A range of the index (IngestPlanTest). The bodies
     * were checked to be UTF-8 at upload, so cutting them out later cannot fail.
     */
    static final String INSERT_FROM_INDEX = compact("""
            insert into requests (batch_id, line, custom_id, body_seq, body_at, body_length)
            select $1, l.line, l.custom_id, l.seq, l.body_at, l.body_length
              from file_lines l where l.file_id = $2 and l.last_seq = l.seq
            """);

    /**
     * The lines longer than a chunk, which have no place in one chunk to point to: each body is
     * copied into its row, from the chunks it spans, joined.
     */
    static final String INSERT_SPANNING = compact("""
            insert into requests (batch_id, line, custom_id, body)
            select $1, l.line, l.custom_id,
                   convert_from(substring((select string_agg(c.data, ''::bytea order by c.seq) from file_chunks c
                                            where c.file_id = l.file_id and c.seq between l.seq and l.last_seq)
                                          from l.body_at + 1 for l.body_length), 'UTF8')
              from file_lines l where l.file_id = $2 and l.last_seq > l.seq
            """);

    /** Bytes of a file line beyond its values (its id, the keys, the status). */
    static final int LINE_OVERHEAD = 128;

    /**
     * The bytes a line takes in a file beyond {@link #LINE_OVERHEAD}, read from its values' headers
     * ({@code octet_length} does not fetch or decompress a stored value; row alias {@code q}).
     */
    private static final String SIZE = "octet_length(q.custom_id) + coalesce(octet_length(q.request_id), 0)"
            + " + coalesce(octet_length(q.response), 0) + coalesce(octet_length(q.error_code), 0)"
            + " + coalesce(octet_length(q.error_message), 0)";

    /**
     * A read of a batch's results stream: whether the batch has ended, and the settled lines after
     * the position ($2 settled_seq; $3, the line, is not needed to order them and is ignored) in
     * settlement order, up to $4 of them and to $6 bytes in a file (at least one), summed from the
     * values' headers ({@link #SIZE}), so that the lines past the budget are never sent. Every
     * settled line this snapshot sees is returned, and no line can later appear before the last one
     * returned: a line's number is taken with its batch's row locked, so the transaction that took
     * a smaller one committed before the one that took a larger one could take it, and a snapshot
     * that sees the larger sees the smaller. No other transaction (an upload, a reader, anything in
     * another database of the server) holds the stream back. $5 null: every line; else only lines whose
     * {@code state = 'succeeded'} is $5 carry their values (the others only their place, so a
     * reader moves past them). Each row also says how many lines the range held ({@code n}, up to
     * $4). The answer comes as its UTF-8 bytes, as they go into the response. One range of
     * {@code requests_settled}, each line read once.
     */
    static final String RESULTS = compact("""
            with b as (select status not in %s as ended, data_purged_at is not null as purged from batches where id = $1)
            select b.ended, p.xid, p.line, p.custom_id, p.status_code, p.request_id, p.response, p.error_code, p.error_message, p.state, p.n,
                   b.purged
              from b left join lateral (
                select r.*, sum(r.size) over (order by r.sx rows unbounded preceding) as upto, count(*) over () as n
                  from (select q.settled_seq as sx, q.settled_seq::text as xid, q.line, q.state, w.want,
                               case when w.want then q.custom_id end as custom_id, case when w.want then q.status_code end as status_code,
                               case when w.want then q.request_id end as request_id, case when w.want then convert_to(q.response, 'UTF8') end as response,
                               case when w.want then q.error_code end as error_code, case when w.want then q.error_message end as error_message,
                               case when w.want then %d + %s else 0 end as size
                          from requests q cross join lateral (select $5::boolean is null or (q.state = %s) = $5 as want) w
                         where q.batch_id = $1 and q.settled_seq > $2::text::bigint and $3::int is not null
                         order by q.settled_seq limit $4) r
              ) p on p.upto - p.size < $6
            """.formatted(Wire.sqlList(BatchStatus.LIVE), LINE_OVERHEAD, SIZE, SUCCEEDED));

    /**
     * A page of a batch's lines in line order after line $2, up to $5, of the states in $3 and the
     * error codes in $4 (null: any): a range of the primary key. The first column says, in the same
     * snapshot, whether the batch's lines were purged (then the page is not whole: the API answers 410).
     */
    static final String LINES = compact("""
            with b as (select data_purged_at is not null as purged from batches where id = $1)
            select b.purged, p.line, p.custom_id, p.state, p.attempts, p.status_code, p.error_code, p.error_message, p.not_before
              from b left join lateral (
                select r.line, r.custom_id, r.state, r.attempts, r.status_code, r.error_code, r.error_message, r.not_before
                  from requests r
                 where r.batch_id = $1 and r.line > $2 and ($3::text[] is null or r.state = any($3))
                   and ($4::text[] is null or r.error_code = any($4))
                 order by r.line limit $5) p on true
            """);

    /** The same, when every state asked for is one of the error file's: a range of {@code requests_unsuccessful}. */
    static final String UNSUCCESSFUL_LINES = LINES.replace("where r.batch_id = $1 and",
            "where r.batch_id = $1 and r.state in " + UNSUCCESSFUL + " and");

    /**
     * A retry: the lines of batch $2 that went to its error file (those with an error code in $3
     * only, when given) become the lines of batch $1, with their custom_ids and bodies (or where their bodies
     * are in the input file, which the retry batch shares), numbered
     * from 1 in their old order. A range of {@code requests_unsuccessful}; no file is read.
     */
    static final String COPY_FOR_RETRY = compact("""
            insert into requests (batch_id, line, custom_id, body, body_seq, body_at, body_length)
            select $1, row_number() over (order by r.line), r.custom_id, r.body, r.body_seq, r.body_at, r.body_length
              from requests r
             where r.batch_id = $2 and r.state in %s and ($3::text[] is null or r.error_code = any($3))
            """.formatted(UNSUCCESSFUL));

    /**
     * Retention: deletes the lines of batch $1 numbered after $2 up to $2 + $3 (after $2 = 0: from
     * its first line left), by their keys (an array of numbers, probed in the primary key whatever
     * the statistics say, as a page of the files is read); how many, the end of the range, the
     * bytes their bodies and answers took as stored, and whether the batch has lines past it.
     */
    static final String PURGE = compact("""
            with f as (select case when $2::int > 0 then $2::int
                                   else (select coalesce(min(line), 1) - 1 from requests where batch_id = $1) end as after),
                 d as (delete from requests where batch_id = $1
                          and line = any(array(select generate_series(f.after + 1, f.after + $3::int) from f))
                       returning coalesce(pg_column_size(body), 0) + coalesce(pg_column_size(response), 0) as size)
            select (select count(*) from d), (select after + $3::int from f), (select coalesce(sum(size), 0) from d)::bigint,
                   (select max(line) from requests where batch_id = $1) > (select after + $3::int from f)
            """);

    /** Whether a line of the batch expired. */
    static final String ANY_EXPIRED = "select exists (select 1 from requests where batch_id = $1 and state = " + EXPIRED + ")";
    static final String ANY_CANCELLED = "select exists (select 1 from requests where batch_id = $1 and state = " + CANCELLED + ")";
    /**
     * A queued line of the batch, if it has one: the first entry of the queue's partial index,
     * whatever the batch's size. In the index's order, so that no statistics (a batch whose lines
     * were all queued when last analysed) make it a scan of the table that finds none.
     */
    static final String ANY_QUEUED = "select line from requests where batch_id = $1 and state = " + QUEUED + " order by not_before, line limit 1";

    /** The statement on one line, white space collapsed: shorter to send, and under the cache's limit. */
    static String compact(String sql) {
        return sql.replaceAll("\\s+", " ").trim();
    }

    private final Pool pool;
    /** The input files' chunks the bodies of claimed lines are cut out of, shared by this process's dispatchers. */
    private final BodyChunks chunks = new BodyChunks(BodyChunks.DEFAULT_BUDGET);

    public LineStore(Pool pool) {
        this.pool = pool;
    }

    /** A line as a claim returned it. */
    public record Taken(String batchId, int line, long fence, int attempts, String body) {
    }

    /**
     * Claims the lines (see {@link #CLAIM}), each with its body: cut out of its input file's chunk
     * ({@link BodyChunks}, read in {@code client} when not in memory) unless its row holds it; null
     * when the chunk is gone (the file was deleted). {@code after}: for each batch, the line after
     * which its lines never tried are read (0: from its first).
     */
    public Uni<List<Taken>> claim(Tx client, String[] batchIds, Integer[] counts, Integer[] after, long now, String node) {
        return client.client().preparedQuery(CLAIM).execute(Tuple.of(batchIds, counts, now, node, after)).chain(rows -> {
            List<BodyChunks.Raw> raw = new ArrayList<>(rows.size());
            for (Row r : rows) {
                Integer seq = r.getInteger(5);
                raw.add(new BodyChunks.Raw(r.getString(0), r.getInteger(1), r.getLong(2), r.getInteger(3), r.getString(4), seq,
                        seq == null ? 0 : r.getInteger(6), seq == null ? 0 : r.getInteger(7)));
            }
            return chunks.fill(client, raw);
        });
    }

    /**
     * What became of a claimed line, to be written under the fence it was claimed with: its next
     * state (settled, or {@code queued} again with the time it is due), the answer or the error,
     * the tokens the answer counted, and whether the attempt the claim counted is given back. An
     * interface, not a record: the dispatcher's results are written as they are, a set of
     * thousands a second, without a copy of each.
     */
    public interface Outcome {
        String batchId();

        int line();

        long fence();

        LineState state();

        /** For a line queued again, the earliest time (epoch ms) it may be claimed. */
        long notBefore();

        Integer statusCode();

        String requestId();

        String response();

        String errorCode();

        String errorMessage();

        long inputTokens();

        long outputTokens();

        long totalTokens();

        /** Give back the attempt the claim counted (the line was never sent). */
        boolean refund();
    }

    /**
     * What one write changed: the outcomes applied (the others lost their claim), whether a batch
     * settled, and what it counted into {@code usage_hourly}, per batch.
     */
    public record Applied(Set<Outcome> applied, boolean settledABatch, List<Counted> counted) {
        /** Nothing applied. */
        public static final Applied NONE = new Applied(Set.of(), false, List.of());

        /**
         * An empty set of outcomes, by identity: an outcome is one event, and hashing its values
         * would hash each answer's whole body, on every write and every look-up.
         */
        public static Set<Outcome> outcomes(int expected) {
            return Collections.newSetFromMap(new IdentityHashMap<>(expected));
        }
    }

    /**
     * Lines settled by one statement for one project and model (one batch's, or several's), as
     * counted into {@code usage_hourly}: {@code failed} is every settled line without a success.
     */
    public record Counted(String project, String model, long succeeded, long failed, long inputTokens, long outputTokens) {
    }

    /** The start of the hour (unix seconds) that {@code usage_hourly} counts the lines settled at {@code nowSeconds} in. */
    static long hourOf(long nowSeconds) {
        return Math.floorDiv(nowSeconds, 3600) * 3600;
    }

    /**
     * PostgreSQL refused a write for a value in it: a data exception (class 22, e.g. a NUL
     * character, a number out of range) or a value over one of its limits (54000). The same values
     * would be refused again; any other failure of a write (PostgreSQL away) is not this.
     */
    public static final class Refused extends RuntimeException {
        private final String sqlState;
        private final String reason;

        Refused(String sqlState, String reason, Throwable cause) {
            super(sqlState + " " + reason, cause, false, false);
            this.sqlState = sqlState;
            this.reason = reason;
        }

        /** PostgreSQL's code for the refusal. */
        public String sqlState() {
            return sqlState;
        }

        /** PostgreSQL's own words (they may quote the refused value). */
        public String reason() {
            return reason;
        }
    }

    /** A refusal of a write's values as {@link Refused}; any other failure as it is. */
    private static Throwable refusal(Throwable e) {
        if (e instanceof PgException pg && pg.getSqlState() != null
                && (pg.getSqlState().startsWith("22") || pg.getSqlState().equals("54000"))) {
            return new Refused(pg.getSqlState(), pg.getErrorMessage(), e);
        }
        return e;
    }

    /**
     * Writes the outcomes in one statement ({@link #WRITE}), each only if its line still carries
     * its fence, and counts the settled ones into {@code usage_hourly} in the hour of
     * {@code nowSeconds}; fails with {@link Refused} when PostgreSQL refuses a value in them.
     */
    public Uni<Applied> write(List<? extends Outcome> rs, long nowSeconds) {
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
        Integer[] refund = new Integer[n];
        Map<String, Outcome> byKey = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            Outcome r = rs.get(i);
            batchIds[i] = r.batchId();
            lines[i] = r.line();
            fences[i] = r.fence();
            states[i] = r.state().wire();
            notBefore[i] = r.notBefore();
            status[i] = r.statusCode();
            requestIds[i] = r.requestId();
            responses[i] = r.response();
            codes[i] = r.errorCode();
            messages[i] = r.errorMessage();
            in[i] = r.inputTokens();
            out[i] = r.outputTokens();
            tot[i] = r.totalTokens();
            refund[i] = r.refund() ? 1 : 0;
            byKey.put(key(r.batchId(), r.line()), r);
        }
        Tuple t = Tuple.tuple().addArrayOfString(batchIds).addArrayOfInteger(lines).addArrayOfLong(fences)
                .addArrayOfString(states).addArrayOfLong(notBefore).addArrayOfInteger(status).addArrayOfString(requestIds)
                .addArrayOfString(responses).addArrayOfString(codes).addArrayOfString(messages).addArrayOfLong(in)
                .addArrayOfLong(out).addArrayOfLong(tot).addArrayOfInteger(refund).addLong(hourOf(nowSeconds));
        return pool.preparedQuery(WRITE).execute(t).map(rows -> {
            Set<Outcome> applied = Applied.outcomes(rows.size());
            List<Counted> counted = new ArrayList<>(1);
            boolean settled = false;
            for (Row row : rows) {
                if (row.getInteger(1) == 0) { // a batch whose counters moved (lines are numbered from 1)
                    settled |= row.getBoolean(2);
                    counted.add(new Counted(row.getString(3), row.getString(4), row.getLong(5), row.getLong(6), row.getLong(7),
                            row.getLong(8)));
                } else {
                    applied.add(byKey.get(key(row.getString(0), row.getInteger(1))));
                }
            }
            return new Applied(applied, settled, counted);
        }).onFailure().transform(LineStore::refusal);
    }

    private static String key(String batchId, int line) {
        return batchId + '#' + line;
    }

    /** Returns every line {@code node} holds to the queue; how many. */
    public Uni<Integer> recover(Tx client, String node) {
        return client.client().preparedQuery(RECOVER).execute(Tuple.of(node)).map(RowSet::rowCount);
    }

    /** Returns to the queue the lines held in the name of a process that has no heartbeat row; how many. */
    public Uni<Integer> recoverOrphans() {
        return pool.query(RECOVER_ORPHANS).execute().map(RowSet::rowCount);
    }

    /**
     * Queued lines of a cancelling batch become {@code batch_cancelled} errors, counted as failed
     * lines in the hour of {@code nowSeconds}, a chunk at a time ({@link #CANCEL_CHUNK}); safe to
     * repeat. {@code each} sees what every committed chunk counted. What it counted in all (none
     * when the batch does not exist).
     */
    public Uni<Counted> cancelQueued(String batchId, long nowSeconds, BooleanSupplier goOn, Consumer<Counted> each) {
        Counted none = new Counted("", "", 0, 0, 0, 0);
        // The cancel's step repeats while the lines in flight are aborted, and by then nothing is
        // queued: asking the queue's index first spares each repeat a pass over the whole batch.
        return pool.preparedQuery(ANY_QUEUED).execute(Tuple.of(batchId)).map(rs -> rs.size() > 0)
                .chain(any -> !any ? Uni.createFrom().item(none)
                        : settleInChunks(CANCEL_CHUNK, batchId, null, LineState.CANCELLED, "batch_cancelled",
                                "The batch was cancelled before this request ran.", nowSeconds, SETTLE_CHUNK_LINES, goOn, each)
                                .map(c -> c == null ? none : c));
    }

    /**
     * Every unfinished line of the batch becomes {@code state} with the error given, a chunk at a
     * time ({@link #EXPIRE_CHUNK}) while the batch's fence holds, counted as failed lines in the
     * hour of {@code nowSeconds}; {@code each} sees what every committed chunk counted. What it
     * counted in all; null when the fence moved (the chunks before it stay settled: the deadline
     * had passed for them all the same, and whoever moved the fence settles the rest).
     */
    public Uni<Counted> settleUnfinished(String batchId, long fence, LineState state, String code, String message, long nowSeconds,
            BooleanSupplier goOn, Consumer<Counted> each) {
        return settleInChunks(EXPIRE_CHUNK, batchId, fence, state, code, message, nowSeconds, SETTLE_CHUNK_LINES, goOn, each);
    }

    /**
     * Runs {@code sql} ({@link #settleChunk}) chunk after chunk, each its own transaction, from the
     * batch's first line to its last, while {@code goOn} holds (the process is not stopping): the
     * sum of what they counted; null when a chunk found the fence moved or the batch gone, or
     * {@code goOn} stopped the chunks before the last (the chunks committed stay; whoever takes the
     * step next settles the rest).
     */
    Uni<Counted> settleInChunks(String sql, String batchId, Long fence, LineState state, String code, String message, long nowSeconds,
            int chunk, BooleanSupplier goOn, Consumer<Counted> each) {
        long hour = hourOf(nowSeconds);
        return settleFrom(sql, after -> Tuple.of(batchId, after, state.wire(), code, message, chunk).addLong(hour).addLong(fence), -1, goOn,
                each, null);
    }

    /** The chunks of {@link #settleInChunks} after line {@code after}, with {@code sum} counted before them. */
    private Uni<Counted> settleFrom(String sql, IntFunction<Tuple> args, int after, BooleanSupplier goOn, Consumer<Counted> each, Counted sum) {
        if (!goOn.getAsBoolean()) {
            return Uni.createFrom().nullItem();
        }
        return pool.preparedQuery(sql).execute(args.apply(after)).chain(rs -> {
            if (rs.size() == 0) {
                return Uni.createFrom().nullItem();
            }
            Row row = rs.iterator().next();
            Counted c = new Counted(row.getString(1), row.getString(2), 0, row.getLong(0), 0, 0);
            Counted total = sum == null ? c : new Counted(c.project(), c.model(), 0, sum.failed() + c.failed(), 0, 0);
            if (c.failed() == 0) {
                return Uni.createFrom().item(total);
            }
            each.accept(c);
            return settleFrom(sql, args, row.getInteger(3), goOn, each, total);
        });
    }

    /** Whether a line of the batch expired (only asked of a settled batch past its deadline or being cancelled). */
    public Uni<Boolean> anyExpired(String batchId) {
        return pool.preparedQuery(ANY_EXPIRED).execute(Tuple.of(batchId)).map(rs -> rs.iterator().next().getBoolean(0));
    }

    /** Whether a line of the batch was cancelled (only asked of a settled batch being cancelled). */
    public Uni<Boolean> anyCancelled(String batchId) {
        return pool.preparedQuery(ANY_CANCELLED).execute(Tuple.of(batchId)).map(rs -> rs.iterator().next().getBoolean(0));
    }

    /** A line of a batch to insert: its number in the input file, its custom_id and its request body. */
    public record NewLine(int line, String customId, String body) {
    }

    public Uni<Void> insert(Tx tx, String batchId, List<NewLine> set) {
        Integer[] numbers = new Integer[set.size()];
        String[] ids = new String[set.size()];
        String[] bodies = new String[set.size()];
        for (int i = 0; i < set.size(); i++) {
            numbers[i] = set.get(i).line();
            ids[i] = set.get(i).customId();
            bodies[i] = set.get(i).body();
        }
        return tx.client().preparedQuery(INSERT).execute(Tuple.of(batchId, numbers, ids, bodies)).replaceWithVoid();
    }

    /** Every line of the input file's index becomes a request row of the batch (a valid file: every line of it is valid). */
    public Uni<Void> insertFromFile(Tx tx, String batchId, String fileId) {
        return tx.client().preparedQuery(INSERT_FROM_INDEX).execute(Tuple.of(batchId, fileId))
                .chain(() -> tx.client().preparedQuery(INSERT_SPANNING).execute(Tuple.of(batchId, fileId)))
                .replaceWithVoid();
    }

    /**
     * A settled line as the results stream reads it: where it is in the stream (the transaction
     * that settled it, its number) and, when the read wants it ({@link #carried}), its values as
     * in the files, the answer as its UTF-8 bytes (they go into the response as they are), and
     * whether it succeeded (it belongs in the output file, else in the error file).
     */
    public record SettledLine(long xid, int line, String customId, Integer statusCode, String requestId, Buffer response,
            String errorCode, String errorMessage, boolean succeeded) {
        /** Whether the read carries this line's values (else only its place, so that a reader moves past it). */
        public boolean carried() {
            return customId != null;
        }
    }

    /**
     * What a results read found: whether the batch has ended (null: no such batch), the lines in
     * stream order, how many lines the range held, and whether the batch's lines were purged (its
     * data expired: the page is not whole).
     */
    public record SettledPage(Boolean ended, List<SettledLine> lines, long scanned, boolean purged) {
    }

    /** {@code succeeded}: null for every line, else only the lines whose success is this carry their values. */
    public Uni<SettledPage> settled(String batchId, long afterXid, int afterLine, int limit, Boolean succeeded, int budget) {
        return settled(new Tx(pool), batchId, afterXid, afterLine, limit, succeeded, budget);
    }

    /** The same in {@code tx} (the lines appended to a batch's files while it runs, in settlement order). */
    public Uni<SettledPage> settled(Tx tx, String batchId, long afterXid, int afterLine, int limit, Boolean succeeded, int budget) {
        return tx.client().preparedQuery(RESULTS).execute(Tuple.of(batchId, Long.toString(afterXid), afterLine, limit, succeeded).addInteger(budget))
                .map(rows -> {
                    Boolean ended = null;
                    boolean purged = false;
                    long scanned = 0;
                    long lastXid = afterXid;
                    int lastLine = afterLine;
                    List<SettledLine> out = new ArrayList<>(rows.size());
                    for (Row r : rows) {
                        ended = r.getBoolean(0);
                        purged = r.getBoolean(11);
                        if (r.getValue(1) == null) {
                            continue; // the batch, without a line
                        }
                        long xid = Long.parseLong(r.getString(1));
                        int line = r.getInteger(2);
                        if (xid < lastXid || (xid == lastXid && line <= lastLine)) { // the budget's sum would not be a prefix
                            throw new IllegalStateException("a results read of batch " + batchId + " came out of order");
                        }
                        lastXid = xid;
                        lastLine = line;
                        scanned = r.getLong(10);
                        out.add(new SettledLine(xid, line, r.getString(3), r.getInteger(4), r.getString(5), r.getBuffer(6),
                                r.getString(7), r.getString(8), SUCCEEDED_WIRE.equals(r.getString(9))));
                    }
                    return new SettledPage(ended, out, scanned, purged);
                });
    }

    /** A line as GET /v1/batches/{id}/requests lists it. */
    public record StateLine(int line, String customId, LineState state, int attempts, Integer statusCode, String errorCode,
            String errorMessage, long notBefore) {
    }

    /** A page of lines for GET /v1/batches/{id}/requests, or null when the batch's lines were purged (see {@link #LINES}). */
    public Uni<List<StateLine>> lines(String batchId, int afterLine, String[] states, String[] codes, int limit, boolean unsuccessfulOnly) {
        return pool.preparedQuery(unsuccessfulOnly ? UNSUCCESSFUL_LINES : LINES)
                .execute(Tuple.of(batchId, afterLine, states, codes).addInteger(limit))
                .map(rows -> {
                    List<StateLine> out = new ArrayList<>(rows.size());
                    for (Row r : rows) {
                        if (Boolean.TRUE.equals(r.getBoolean(0))) {
                            return null;
                        }
                        if (r.getValue(1) == null) {
                            continue; // the batch, without a line
                        }
                        out.add(new StateLine(r.getInteger(1), r.getString(2), LineState.of(r.getString(3)), r.getInteger(4),
                                r.getInteger(5), r.getString(6), r.getString(7), r.getLong(8)));
                    }
                    return out;
                });
    }

    /**
     * What one purge step deleted: lines, the end of the range of line numbers it covered, the
     * bytes of their bodies and answers as stored, and whether the batch has lines past that range.
     */
    public record Purged(int lines, int rangeEnd, long bytes, boolean more) {
    }

    /**
     * Retention: deletes the batch's lines numbered after {@code afterLine} (0: from its first line
     * left) up to {@code afterLine + count}, in {@code tx} (see {@link #PURGE}).
     */
    public Uni<Purged> purge(Tx tx, String batchId, int afterLine, int count) {
        return tx.client().preparedQuery(PURGE).execute(Tuple.of(batchId, afterLine, count)).map(rs -> {
            Row r = rs.iterator().next();
            return new Purged((int) r.getLong(0).longValue(), r.getInteger(1), r.getLong(2), Boolean.TRUE.equals(r.getBoolean(3)));
        });
    }

    /** Copies the retried lines of {@code fromBatch} into {@code toBatch}; how many. */
    public Uni<Integer> copyForRetry(Tx tx, String toBatch, String fromBatch, String[] codes) {
        return tx.client().preparedQuery(COPY_FOR_RETRY).execute(Tuple.of(toBatch, fromBatch, codes)).map(RowSet::rowCount);
    }

    /** The batch's input file, locked against its deletion until {@code tx} ends; empty when it is gone. */
    static final String LOCK_INPUT = "select f.id from batches b join files f on f.id = b.input_file_id where b.id = $1 for key share of f";
    /** The lines of batch $1 a retry takes: failed, expired or cancelled, with one of the error codes $2 (null: any). */
    private static final String TO_RETRY = "select 1 from requests where batch_id = $1 and state in " + UNSUCCESSFUL
            + " and ($2::text[] is null or error_code = any($2))";
    /** Whether batch $1 has a line a retry takes (see {@link #TO_RETRY}); a range of {@code requests_unsuccessful}. */
    static final String ANY_TO_RETRY = "select exists (" + TO_RETRY + ")";
    /** Whether such a line keeps its body in the input file rather than in its row. */
    static final String ANY_TO_RETRY_IN_FILE = "select exists (" + TO_RETRY + " and body_seq is not null)";
    /** Whether a line of the batch keeps its body in the input file rather than in its row. */
    static final String ANY_BODY_IN_FILE = "select exists (select 1 from requests where batch_id = $1 and body_seq is not null)";

    /**
     * Whether a line of batch {@code batchId} (inserted in {@code tx}) has lost its body: it was
     * kept in the input file, and the file was deleted. Otherwise the file, when there is one, is
     * locked until {@code tx} ends, so a deletion waits for it.
     */
    public Uni<Boolean> bodiesGone(Tx tx, String batchId) {
        return tx.client().preparedQuery(LOCK_INPUT).execute(Tuple.of(batchId)).chain(rows -> rows.size() > 0
                ? Uni.createFrom().item(false)
                : tx.client().preparedQuery(ANY_BODY_IN_FILE).execute(Tuple.of(batchId)).map(rs -> rs.iterator().next().getBoolean(0)));
    }

    /** What a retry of a batch would take: whether it has such lines, and whether some of their bodies went with the input file. */
    public record ToRetry(boolean any, boolean bodiesGone) {
    }

    /**
     * What a retry of batch {@code batchId} with {@code codes} (null: any) would take, told without
     * copying a line (two probes of {@code requests_unsuccessful}); the input file, when there is
     * one, locked until {@code tx} ends.
     */
    public Uni<ToRetry> toRetry(Tx tx, String batchId, String[] codes) {
        Tuple args = Tuple.of(batchId, codes);
        return tx.client().preparedQuery(ANY_TO_RETRY).execute(args).map(rs -> rs.iterator().next().getBoolean(0)).chain(any -> !any
                ? Uni.createFrom().item(new ToRetry(false, false))
                : tx.client().preparedQuery(LOCK_INPUT).execute(Tuple.of(batchId)).chain(file -> file.size() > 0
                        ? Uni.createFrom().item(new ToRetry(true, false))
                        : tx.client().preparedQuery(ANY_TO_RETRY_IN_FILE).execute(args).map(rs -> new ToRetry(true, rs.iterator().next().getBoolean(0)))));
    }
}
