package dev.openbatch.engine.housekeeping;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.api.RetentionConfig;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.IndexStore;
import dev.openbatch.store.Transactions;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;

/**
 * Index upkeep (issue 21): after retention empties a table, plain VACUUM leaves its indexes at
 * their peak size; the job rebuilds an index that is well over what its entries need, spares one
 * whose entries are still there, and drops what an interrupted rebuild left. On a table of the
 * test's own, shaped like {@code requests}' keys.
 */
@QuarkusTest
class IndexUpkeepTest {
    private static final String TABLE = "upkeep_scratch";
    private static final int ROWS = 200_000;

    @Inject
    Pool pool;
    @Inject
    Transactions transactions;
    @Inject
    EngineMetrics metrics;
    @Inject
    RetentionConfig config;
    @Inject
    MeterRegistry registry;

    private void sql(String sql) {
        pool.query(sql).execute().await().atMost(Duration.ofSeconds(120));
    }

    private long size(String index) {
        return pool.query("select pg_relation_size('" + index + "')").execute().await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
    }

    private IndexUpkeep upkeep(double bloat) {
        return new IndexUpkeep(new IndexStore(transactions), List.of(TABLE), false, metrics, RetentionSettings.upkeep(config, bloat, 256));
    }

    private int run(IndexUpkeep job) {
        return job.run().await().atMost(Duration.ofSeconds(120));
    }

    /**
     * {@code attempt} again until {@code done} (at most 30 s): one process of the cluster rebuilds
     * at a time, and this application's own upkeep may hold that turn (its advisory lock) for the
     * moment, or its engine the batches table's lock; an attempt without them does nothing, as
     * the next scheduled run would try again.
     */
    private static void untilDone(Runnable attempt, BooleanSupplier done) {
        long end = System.currentTimeMillis() + 30_000;
        attempt.run();
        while (!done.getAsBoolean() && System.currentTimeMillis() < end) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            attempt.run();
        }
    }

    /** {@link #run} until it rebuilds something (see {@link #untilDone}): what the last run rebuilt. */
    private int runUntilRebuilt(IndexUpkeep job) {
        int[] n = new int[1];
        untilDone(() -> n[0] = run(job), () -> n[0] > 0);
        return n[0];
    }

    @BeforeEach
    void fill() {
        sql("drop table if exists " + TABLE);
        sql("create table " + TABLE + " (batch_id text not null, line int not null, seq bigint not null, body text,"
                + " primary key (batch_id, line))");
        // a second key without duplicates: B-tree deduplication would make it smaller than any per-entry estimate
        sql("create index " + TABLE + "_line on " + TABLE + " (seq)");
        sql("insert into " + TABLE + " select 'batch_' || (i / 50000), i % 50000, i, 'x' from generate_series(0, " + (ROWS - 1) + ") i");
        sql("vacuum analyze " + TABLE);
    }

    @AfterEach
    void drop() {
        sql("drop table if exists " + TABLE);
    }

    @Test
    void theEstimateOfAFreshIndexIsNearItsRealSize() {
        // freshly built indexes: what the job compares with must be near them, or it would rebuild for nothing or never
        for (String index : List.of(TABLE + "_pkey", TABLE + "_line")) {
            sql("reindex index " + index);
            sql("analyze " + TABLE);
            IndexStore.IndexSize s = new IndexStore(transactions).sizes(List.of(TABLE)).await().atMost(Duration.ofSeconds(10)).stream()
                    .filter(i -> i.index().endsWith(".\"" + index + "\"")).findFirst().orElseThrow();
            double ratio = (double) IndexUpkeep.needBytes(s.entries(), s.keyWidth()) / s.bytes();
            assertTrue(ratio > 0.7 && ratio < 1.3, index + ": estimate " + IndexUpkeep.needBytes(s.entries(), s.keyWidth()) + " B for "
                    + s.bytes() + " B, " + s.entries() + " entries of width " + s.keyWidth());
        }
    }

    @Test
    void anIndexEmptiedByDeletesIsRebuiltAndGivesItsSpaceBack() {
        long pkey = size(TABLE + "_pkey");
        long line = size(TABLE + "_line");
        sql("delete from " + TABLE + " where batch_id <> 'batch_0'"); // 150,000 of 200,000 rows, as retention would
        sql("vacuum " + TABLE);
        assertEquals(pkey, size(TABLE + "_pkey"), "plain VACUUM keeps the index at its peak size");
        double before = rebuilds();
        assertEquals(2, runUntilRebuilt(upkeep(2)));
        assertTrue(size(TABLE + "_pkey") < pkey * 0.4, "the primary key went from " + pkey + " to " + size(TABLE + "_pkey") + " bytes");
        assertTrue(size(TABLE + "_line") < line * 0.4, "the line index went from " + line + " to " + size(TABLE + "_line") + " bytes");
        assertEquals(before + 2, rebuilds());
        // what is left is still found through the rebuilt indexes
        assertEquals(50_000L, pool.query("select count(*) from " + TABLE + " where batch_id = 'batch_0' and line >= 0").execute().await()
                .atMost(Duration.ofSeconds(10)).iterator().next().getLong(0));
        assertEquals(0, run(upkeep(2)), "a rebuilt index is not rebuilt again");
    }

    @Test
    void theIndexOfTheToastTableWhereLongBodiesGoIsRebuiltToo() {
        // bodies over 2 kB go to the table's TOAST table, whose index retention empties as well
        sql("insert into " + TABLE + " select 'long', i, -i, (select string_agg(md5(random()::text || i || j), '') from generate_series(1, 200) j)"
                + " from generate_series(1, 20000) i");
        String toastIndex = pool.query("select ti.indexrelid::regclass::text from pg_class t join pg_index ti on ti.indrelid = t.reltoastrelid"
                + " where t.relname = '" + TABLE + "'").execute().await().atMost(Duration.ofSeconds(10)).iterator().next().getString(0);
        long full = size(toastIndex);
        assertTrue(full > 512 * 1024, "the TOAST index holds the long bodies' chunks: " + full);
        sql("delete from " + TABLE + " where batch_id = 'long'");
        sql("vacuum " + TABLE);
        assertEquals(full, size(toastIndex), "plain VACUUM keeps it at its peak size");
        runUntilRebuilt(upkeep(2));
        assertTrue(size(toastIndex) < full / 10, "the TOAST index went from " + full + " to " + size(toastIndex) + " bytes");
    }

    @Test
    void anIndexWhoseEntriesAreStillThereIsKept() {
        sql("delete from " + TABLE + " where line % 10 = 0"); // a tenth gone: normal churn, not bloat
        sql("vacuum " + TABLE);
        assertEquals(0, run(upkeep(2)));
        assertEquals(0, run(upkeep(0)), "0 turns rebuilds off");
    }

    @Test
    void statisticsThatSayEmptyAreCheckedAgainstTheTable() {
        // the table is full, but its statistics say it has nothing (as after a crash reset them and a vacuum counted before a refill)
        sql("update pg_class set reltuples = 0 where oid = '" + TABLE + "_pkey'::regclass");
        sql("select pg_stat_reset_single_table_counters('" + TABLE + "'::regclass)");
        long pkey = size(TABLE + "_pkey");
        assertEquals(0, run(upkeep(2)));
        assertEquals(pkey, size(TABLE + "_pkey"));
    }

    @Test
    void aBloatedBatchesTableIsRewrittenWhenNoBatchIsLive() {
        String live = "select count(*) from batches where status in ('validating', 'in_progress', 'finalizing', 'cancelling')";
        Assumptions.assumeTrue(count(live) == 0, "another test class left a live batch");
        String job = "job-upkeep";
        String insert = "insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at,"
                + " created_us, total, validated) select 'batch-upkeep-' || i, 'project-a', '" + job + "', '/v1/chat/completions', 'none', '24h',"
                + " 'completed', 'fake', 'fake-model', 0, 0, 1, true from generate_series(%d, %d) i";
        sql("insert into jobs (id, project, name, completion_window, created_at, created_us) values ('" + job + "', 'project-a', 'u', '24h', 0, 0)"
                + " on conflict do nothing");
        try {
            sql(insert.formatted(1, 20000));
            sql(insert.formatted(20001, 20001)); // a row that stays, at the table's end
            sql("delete from batches where id like 'batch-upkeep-%' and id <> 'batch-upkeep-20001'");
            sql("vacuum batches");
            long bloated = size("batches");
            // a database that many runs without autovacuum left with a larger table is rewritten by no run (by design)
            Assumptions.assumeTrue(bloated <= IndexUpkeep.COMPACT_MAX_BYTES, "the batches table was already " + bloated + " bytes");
            IndexUpkeep job0 = new IndexUpkeep(new IndexStore(transactions), List.of(TABLE), true, metrics,
                    RetentionSettings.upkeep(config, 4, 256));
            // the rewrite gives up after 100 ms without its lock (the application's engine reads the table)
            untilDone(() -> transactions.session(job0::compactBatchesIfIdle).await().atMost(Duration.ofSeconds(60)),
                    () -> size("batches") < bloated / 4);
            assertTrue(size("batches") < bloated / 4, "batches went from " + bloated + " to " + size("batches") + " bytes");
            assertEquals(1, count("select count(*) from batches where id = 'batch-upkeep-20001'"));
        } finally {
            sql("delete from batches where id like 'batch-upkeep-%'");
            sql("delete from jobs where id = '" + job + "'");
        }
    }

    private long count(String sql) {
        return pool.query(sql).execute().await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
    }

    @Test
    void whatAnInterruptedRebuildLeftIsDropped() {
        // a failed concurrent build leaves an invalid index, as a rebuild killed mid-way leaves its _ccnew copy
        sql("insert into " + TABLE + " values ('batch_0', 0, 0, 'again') on conflict do nothing");
        sql("alter table " + TABLE + " add column dup int default 1");
        try {
            sql("create unique index concurrently " + TABLE + "_line_ccnew on " + TABLE + " (dup)");
        } catch (RuntimeException expected) {
            // duplicate key: the index stays, invalid
        }
        assertTrue(exists(TABLE + "_line_ccnew"));
        IndexUpkeep job = upkeep(2);
        untilDone(() -> run(job), () -> !exists(TABLE + "_line_ccnew"));
        assertFalse(exists(TABLE + "_line_ccnew"));
    }

    private boolean exists(String index) {
        return pool.query("select count(*) from pg_class where relname = '" + index + "'").execute().await().atMost(Duration.ofSeconds(10))
                .iterator().next().getLong(0) > 0;
    }

    private double rebuilds() {
        return registry.find("openbatch_index_rebuilds").tag("table", TABLE).counters().stream().mapToDouble(c -> c.count()).sum();
    }
}
