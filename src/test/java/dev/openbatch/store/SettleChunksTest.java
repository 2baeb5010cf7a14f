package dev.openbatch.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.status.LineState;
import dev.openbatch.testing.EngineOffProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Transaction;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * A cancel and an expiry settle a batch's lines a chunk at a time ({@link LineStore#CANCEL_CHUNK},
 * {@link LineStore#EXPIRE_CHUNK}): every line they are for, once, with numbers of the batch's
 * settlement sequence that no other line has, counted once in the batch's counters and in
 * usage; the batch's row is free between chunks; a moved fence stops an expiry.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
class SettleChunksTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final int LINES = 103;

    @Inject
    Pool pool;
    @Inject
    LineStore lines;

    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private final String project = "sc-" + run;

    @AfterEach
    void cleanUp() {
        exec("delete from batches where project = '" + project + "'");
        exec("delete from jobs where project = '" + project + "'");
        exec("delete from usage_hourly where project = '" + project + "'");
    }

    private void exec(String sql) {
        pool.query(sql).execute().await().atMost(WAIT);
    }

    private long one(String sql) {
        return pool.query(sql).execute().await().atMost(WAIT).iterator().next().getLong(0);
    }

    /**
     * A batch of {@link #LINES} lines: every fifth settled (numbered 1..n), every seventh of the
     * rest running, the others queued; its sequence at the settled count.
     */
    private String batch(String status, long fence) {
        String id = "sc-" + run + "-" + status;
        exec("insert into jobs (id, project, name, completion_window, is_default, created_at, created_us) values ('job-" + project
                + "', '" + project + "', 'default', '24h', false, 0, 0) on conflict do nothing");
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at, created_us,"
                + " expires_at, total, validated, completed, settled_seq, fence) values ('" + id + "', '" + project + "', 'job-" + project + "',"
                + " '/v1/chat/completions', 'file-sc-none', '24h', '" + status + "', 'sc-up', 'm', 0, 0, 4000000000, " + LINES + ", true, "
                + (LINES / 5) + ", " + (LINES / 5) + ", " + fence + ")");
        exec("insert into requests (batch_id, line, custom_id, body, state, claimed_by, fence, settled_seq) select '" + id + "', l, 'c' || l, '{}',"
                + " case when l % 5 = 0 then 'succeeded' when l % 7 = 0 then 'running' else 'queued' end,"
                + " case when l % 5 <> 0 and l % 7 = 0 then 'sc-node' end, 1, case when l % 5 = 0 then l / 5 end"
                + " from generate_series(1, " + LINES + ") l");
        return id;
    }

    private long count(String id, String where) {
        return one("select count(*) from requests where batch_id = '" + id + "' and " + where);
    }

    /** Every settled line has a number of its own, and the batch's sequence is at the highest. */
    private void numbersAreUnique(String id) {
        List<Long> seqs = new ArrayList<>();
        for (Row r : pool.query("select settled_seq from requests where batch_id = '" + id + "' and state not in ('queued', 'running')")
                .execute().await().atMost(WAIT)) {
            seqs.add(r.getLong(0));
        }
        Set<Long> distinct = new HashSet<>(seqs);
        assertEquals(seqs.size(), distinct.size(), "a number given twice");
        assertTrue(!distinct.contains(null), "a settled line without a number");
        assertEquals(seqs.stream().mapToLong(Long::longValue).max().orElse(0),
                one("select settled_seq from batches where id = '" + id + "'"), "the batch's sequence is at its highest number");
    }

    @Test
    void aCancelSettlesEveryQueuedLineInChunksAndCountsEachOnce() {
        String id = batch("cancelling", 1);
        long queued = count(id, "state = 'queued'");
        long running = count(id, "state = 'running'");
        List<Long> chunks = new ArrayList<>();
        LineStore.Counted c = lines.settleInChunks(LineStore.CANCEL_CHUNK, id, null, LineState.CANCELLED, "batch_cancelled", "m", 7200, 9, () -> true,
                k -> chunks.add(k.failed())).await().atMost(WAIT);

        assertEquals(queued, c.failed());
        assertEquals(project, c.project());
        assertTrue(chunks.size() >= queued / 9, "chunks " + chunks);
        assertTrue(chunks.stream().allMatch(n -> n > 0 && n <= 9), "chunks " + chunks);
        assertEquals(queued, count(id, "state = 'cancelled' and error_code = 'batch_cancelled'"));
        assertEquals(running, count(id, "state = 'running'"), "running lines are their dispatchers' to abort");
        assertEquals(queued, one("select failed from batches where id = '" + id + "'"));
        assertEquals(queued, one("select failed from usage_hourly where project = '" + project + "' and hour = 7200"));
        numbersAreUnique(id);

        // repeated: nothing left to do, nothing counted twice
        LineStore.Counted again = lines.cancelQueued(id, 7200, () -> true, k -> chunks.add(-1L)).await().atMost(WAIT);
        assertEquals(0, again.failed());
        assertEquals(queued, one("select failed from batches where id = '" + id + "'"));
        assertTrue(!chunks.contains(-1L));
    }

    @Test
    void aStoppingProcessStopsBetweenTwoChunksAndTheNextStepSettlesTheRest() {
        String id = batch("cancelling", 1);
        long queued = count(id, "state = 'queued'");
        List<Long> chunks = new ArrayList<>();
        // the process stops once the first chunk has committed
        assertNull(lines.settleInChunks(LineStore.CANCEL_CHUNK, id, null, LineState.CANCELLED, "batch_cancelled", "m", 0, 7, chunks::isEmpty,
                k -> chunks.add(k.failed())).await().atMost(WAIT), "cut short");
        assertEquals(List.of(7L), chunks);
        assertEquals(7, count(id, "state = 'cancelled'"));
        assertEquals(7, one("select failed from batches where id = '" + id + "'"));

        LineStore.Counted rest = lines.cancelQueued(id, 0, () -> true, k -> { }).await().atMost(WAIT);
        assertEquals(queued - 7, rest.failed());
        assertEquals(queued, count(id, "state = 'cancelled'"));
        numbersAreUnique(id);
    }

    @Test
    void anExpirySettlesQueuedAndRunningLinesWhileTheFenceHolds() {
        String id = batch("in_progress", 4);
        long unfinished = count(id, "state in ('queued', 'running')");
        assertNull(lines.settleInChunks(LineStore.EXPIRE_CHUNK, id, 3L, LineState.EXPIRED, "batch_expired", "m", 0, 10, () -> true, k -> { })
                .await().atMost(WAIT), "another fence: nothing done");
        assertEquals(unfinished, count(id, "state in ('queued', 'running')"));

        LineStore.Counted c = lines.settleInChunks(LineStore.EXPIRE_CHUNK, id, 4L, LineState.EXPIRED, "batch_expired", "m", 0, 10, () -> true, k -> { })
                .await().atMost(WAIT);
        assertEquals(unfinished, c.failed());
        assertEquals(0, count(id, "state in ('queued', 'running') or claimed_by is not null"));
        assertEquals(unfinished, count(id, "state = 'expired'"));
        numbersAreUnique(id);
    }

    @Test
    void theChunksBeforeALockedLineAreCommittedAndTheBatchRowIsFreeWhileItWaits() throws Exception {
        String id = batch("cancelling", 1);
        long queued = count(id, "state = 'queued'");
        SqlConnection holder = pool.getConnection().await().atMost(WAIT);
        SqlConnection other = pool.getConnection().await().atMost(WAIT);
        try {
            // a line in the middle held by another transaction (a result being written)
            Transaction held = holder.begin().await().atMost(WAIT);
            holder.preparedQuery("select 1 from requests where batch_id = $1 and line = 51 for update").execute(Tuple.of(id)).await().atMost(WAIT);
            var cancel = lines.settleInChunks(LineStore.CANCEL_CHUNK, id, null, LineState.CANCELLED, "batch_cancelled", "m", 0, 4, () -> true, k -> { })
                    .subscribeAsCompletionStage();
            long seen = 0;
            for (int i = 0; i < 100 && seen < 30; i++) {
                Thread.sleep(50);
                seen = count(id, "state = 'cancelled'");
            }
            assertTrue(seen >= 30 && seen < queued, "cancelled before the held line: " + seen + " of " + queued);
            assertTrue(!cancel.isDone());
            // the cancel waits on the line, not holding the batch's row
            Transaction t = other.begin().await().atMost(WAIT);
            other.preparedQuery("select 1 from batches where id = $1 for update nowait").execute(Tuple.of(id)).await().atMost(WAIT);
            t.rollback().await().atMost(WAIT);

            held.rollback().await().atMost(WAIT);
            assertEquals(queued, cancel.get(30, java.util.concurrent.TimeUnit.SECONDS).failed());
        } finally {
            holder.close().await().atMost(WAIT);
            other.close().await().atMost(WAIT);
        }
        assertEquals(queued, count(id, "state = 'cancelled'"));
        numbersAreUnique(id);
    }
    @Test
    void aLineAWriterChangesWhileTheExpiryWaitsOnItIsSettledAndCountedOnce() throws Exception {
        String id = batch("in_progress", 4);
        long unfinished = count(id, "state in ('queued', 'running')");
        SqlConnection holder = pool.getConnection().await().atMost(WAIT);
        try {
            // a claim of a queued line and a lease sweep of a running one, not yet committed
            Transaction held = holder.begin().await().atMost(WAIT);
            holder.preparedQuery("update requests set state = 'running', claimed_by = 'sc-other', fence = fence + 1, attempts = attempts + 1"
                    + " where batch_id = $1 and line = 51").execute(Tuple.of(id)).await().atMost(WAIT);
            holder.preparedQuery("update requests set state = 'queued', claimed_by = null, fence = fence + 1"
                    + " where batch_id = $1 and line = 56").execute(Tuple.of(id)).await().atMost(WAIT);
            var expiry = lines.settleInChunks(LineStore.EXPIRE_CHUNK, id, 4L, LineState.EXPIRED, "batch_expired", "m", 0, 10, () -> true, k -> { })
                    .subscribeAsCompletionStage();
            long seen = 0;
            for (int i = 0; i < 100 && seen < 30; i++) {
                Thread.sleep(50);
                seen = count(id, "state = 'expired'");
            }
            assertTrue(seen >= 30 && !expiry.isDone(), "the expiry waits on the changed lines: " + seen);
            held.commit().await().atMost(WAIT);
            assertEquals(unfinished, expiry.get(30, java.util.concurrent.TimeUnit.SECONDS).failed());
        } finally {
            holder.close().await().atMost(WAIT);
        }
        assertEquals(0, count(id, "state in ('queued', 'running') or claimed_by is not null"));
        assertEquals(unfinished, count(id, "state = 'expired'"));
        assertEquals(LINES / 5 + unfinished, one("select completed + failed from batches where id = '" + id + "'"));
        numbersAreUnique(id);
    }
}
