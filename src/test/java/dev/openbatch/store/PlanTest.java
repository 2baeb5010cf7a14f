package dev.openbatch.store;
import dev.openbatch.engine.lifecycle.OutputFiles;
import dev.openbatch.batches.BatchLines;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.testing.EngineOffProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * The engine's hot statements touch only index ranges proportional to their own rows, whatever
 * the statistics say. Fills {@code requests} with lines in every state (beside a history of
 * ended batches, as a shared service has), runs {@code ANALYZE}
 * with the queue mostly queued, then all running, then all queued, and reads each statement's
 * plan with {@code EXPLAIN (FORMAT JSON)}, as a custom and as a generic plan (the engine's
 * statements are prepared once per connection): no sequential scan of {@code requests} (nor of
 * {@code batches} where a statement names its batches), and every index scan has an index
 * condition, so no join is ever evaluated as a filter over a whole index.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
class PlanTest {
    private static final int BATCHES = 200;
    private static final int LINES = 300;
    private static final int HISTORY = 5000;
    private static final int BIG = 5 * OutputFiles.PAGE;
    private static final java.util.Set<String> LIVE_BATCH_INDEXES = java.util.Set.of("batches_live", "batches_deadline");
    /** Processes holding the running lines: a process holds a small part of what runs. */
    private static final int NODES = 50;

    @Inject
    Pool pool;

    private String run;
    private String project;

    @BeforeEach
    void fill() {
        run = UUID.randomUUID().toString().substring(0, 8);
        project = "plan-" + run;
        exec("insert into jobs (id, project, name, completion_window, is_default, created_at, created_us, max_concurrency)"
                + " values ('job-" + run + "', '" + project + "', 'default', '24h', true, 0, 0, 50)");
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at,"
                + " created_us, expires_at, total, validated) select 'pb-" + run + "-' || b, '" + project + "', 'job-" + run + "',"
                + " '/v1/chat/completions', 'none', '24h', 'in_progress', 'plan-up-" + run + "', 'm', 0, b, 4000000000, " + LINES + ", true"
                + " from generate_series(1, " + BATCHES + ") b");
        // a service's history: most batches have ended long ago
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at,"
                + " created_us, total, validated) select 'ph-" + run + "-' || b, '" + project + "', 'job-" + run + "',"
                + " '/v1/chat/completions', 'none', '24h', 'completed', 'plan-up-" + run + "', 'm', 0, b, 0, true"
                + " from generate_series(1, " + HISTORY + ") b");
        exec("insert into engine_nodes (node, heartbeat, alive_until, started_at) select 'plan-node-" + run + "-' || n, 0, 0, 0 from generate_series(0, "
                + (NODES - 1) + ") n");
        // per batch: a third settled, a sixth running, the rest queued (some waiting for a retry)
        exec("insert into requests (batch_id, line, custom_id, body, state, claimed_by, not_before, fence, attempts, settled_seq)"
                + " select 'pb-" + run + "-' || b, l, 'c' || l, '{\"model\":\"m\",\"messages\":[]}',"
                + " case when l <= 90 then 'succeeded' when l <= 100 then 'failed' when l <= 150 then 'running' else 'queued' end,"
                + " case when l > 100 and l <= 150 then 'plan-node-" + run + "-' || (l % " + NODES + ") end,"
                + " case when l > 250 then 5000000000000 else 0 end, 1, 1, case when l <= 100 then l end"
                + " from generate_series(1, " + BATCHES + ") b, generate_series(1, " + LINES + ") l");
        // one batch larger than a page of its files
        exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at,"
                + " created_us, expires_at, total, validated) values ('" + big() + "', '" + project + "', 'job-" + run + "',"
                + " '/v1/chat/completions', 'none', '24h', 'in_progress', 'plan-up-" + run + "', 'm', 0, 0, 4000000000, " + BIG + ", true)");
        exec("insert into requests (batch_id, line, custom_id, body, state, fence, attempts, settled_seq) select '" + big() + "', l, 'c' || l, '{}',"
                + " case when l % 7 = 0 then 'failed' else 'succeeded' end, 2, 1, l from generate_series(1, " + BIG + ") l");
        exec("analyze requests");
        exec("analyze batches");
    }

    private String big() {
        return "pb-" + run + "-big";
    }

    @AfterEach
    void cleanUp() {
        exec("delete from batches where project = '" + project + "'");
        exec("delete from jobs where project = '" + project + "'");
        exec("delete from engine_nodes where node like 'plan-node-" + run + "-%'");
    }

    private void exec(String sql) {
        pool.query(sql).execute().await().atMost(Duration.ofSeconds(120));
    }

    private String b(int i) {
        return "pb-" + run + "-" + i;
    }

    /** Each hot statement with arguments as SQL literals, and whether it names its batches (so must not scan batches either). */
    private Map<String, String[]> statements() {
        Map<String, String[]> s = new LinkedHashMap<>();
        s.put("claim", new String[] { LineStore.CLAIM, "'{" + b(1) + "," + b(2) + "}', '{100,100}', 1000, 'plan-node-" + run + "-1', '{0,0}'", "batches" });
        s.put("claim after a line", new String[] { LineStore.CLAIM, "'{" + b(1) + "," + b(2) + "}', '{100,100}', 1000, 'plan-node-" + run
                + "-1', '{150,0}'", "batches", "requests_queue" });
        s.put("write results", new String[] { LineStore.WRITE, "'{" + b(3) + "," + b(4) + "}', '{120,130}', '{1,1}', '{succeeded,queued}', '{0,0}',"
                + " '{200,null}', '{r1,null}', '{\"{}\",null}', '{null,null}', '{null,null}', '{1,0}', '{1,0}', '{2,0}', '{0,1}', 0", "batches" });
        s.put("recover a dead process", new String[] { LineStore.RECOVER, "'plan-node-" + run + "-1'", "" });
        s.put("running lines per capped job", new String[] { JobStore.RUNNING_BY_JOB, "'{job-" + run + "}'", "" });
        s.put("expire unfinished lines", new String[] { LineStore.EXPIRE_CHUNK, "'" + b(5) + "', 0, 'expired', 'batch_expired', 'x', 5000, 0, 0", "batches" });
        s.put("whether a cancel has queued lines left", new String[] { LineStore.ANY_QUEUED, "'" + big() + "'", "", "requests_queue" });
        s.put("cancel queued lines", new String[] { LineStore.CANCEL_CHUNK, "'" + b(6) + "', 0, 'cancelled', 'batch_cancelled', 'x', 5000, 0, null", "batches" });
        s.put("next page of a batch's files", new String[] { LineStore.RESULTS, "'" + big() + "', '0', 0, " + OutputFiles.PAGE + ", null, "
                + OutputFiles.PAGE_BYTES, "batches", "requests_settled" });
        s.put("batches whose files lack lines", new String[] { BatchStore.OUTPUT_DUE, "200", "batches" });
        s.put("batches with a step to do", new String[] { BatchStore.NEEDING_WORK, "1000", "batches" });
        s.put("batches with ready lines", new String[] { BatchStore.ELIGIBLE, "'{m}', false, '{}', 1000", "batches" });
        s.put("batches with ready lines, any model", new String[] { BatchStore.ELIGIBLE, "'{}', true, '{x}', 1000", "batches" });
        s.put("a batch that started", new String[] { BatchStore.STARTED, "'" + b(9) + "'", "batches" });
        s.put("claim a batch step", new String[] { BatchStore.CLAIM_STEP, "'" + b(8) + "', 'n', 1, 1", "batches" });
        // what the API reads of lines, and the copy a retry makes (each must read the index range named)
        s.put("results read", new String[] { LineStore.RESULTS, "'" + big() + "', '0', 0, 10001, null, " + BatchLines.RESULTS_BYTES, "batches",
                "requests_settled" });
        s.put("results read after a cursor, one outcome", new String[] { LineStore.RESULTS, "'" + b(10) + "', '3', 50, 101, true, 1000",
                "batches", "requests_settled" });
        s.put("lines' states", new String[] { LineStore.LINES, "'" + b(11) + "', 0, null, null, 101", "" });
        s.put("lines' states by state", new String[] { LineStore.LINES, "'" + b(12) + "', 120, '{running,queued}', null, 101", "" });
        s.put("failed lines", new String[] { LineStore.UNSUCCESSFUL_LINES, "'" + big() + "', 0, '{failed}', '{upstream_unreachable}', 101", "",
                "requests_unsuccessful" });
        s.put("copy a retry's lines", new String[] { LineStore.COPY_FOR_RETRY, "'pb-" + run + "-retry', '" + big() + "', null", "",
                "requests_unsuccessful" });
        s.put("insert a retry batch", new String[] { BatchStore.INSERT_RETRY, "'pb-" + run + "-retry', '" + b(13) + "', 'job-" + run
                + "', '24h', 'u', null, 0, 0, null, null, null, null", "batches" });
        s.put("a line a retry takes", new String[] { LineStore.ANY_TO_RETRY, "'" + big() + "', '{upstream_unreachable}'", "",
                "requests_unsuccessful" });
        s.put("such a line with its body in the file", new String[] { LineStore.ANY_TO_RETRY_IN_FILE, "'" + big() + "', null", "",
                "requests_unsuccessful" });
        // retention: a purge step's pick and its deletion of one range of lines
        s.put("batch to purge next", new String[] { BatchStore.NEXT_TO_PURGE, "1000", "batches", "batches_data_due" });
        s.put("purge the first lines left", new String[] { LineStore.PURGE, "'" + big() + "', 0, 5000", "", "requests_pkey" });
        s.put("purge a range of lines", new String[] { LineStore.PURGE, "'" + big() + "', 100, 5000", "", "requests_pkey" });
        return s;
    }

    private List<String> violations(String phase) {
        List<String> bad = new ArrayList<>();
        int i = 0;
        for (var e : statements().entrySet()) {
            for (String mode : new String[] { "force_custom_plan", "force_generic_plan" }) {
                String name = "plan_" + run.replace('-', '_') + "_" + i++;
                String[] st = e.getValue();
                JsonArray plan = pool.withConnection(c -> c.query("set plan_cache_mode = " + mode).execute()
                        .chain(() -> c.query("prepare " + name + " as " + st[0]).execute())
                        .chain(() -> c.query("explain (format json) execute " + name + "(" + st[1] + ")").execute())
                        .call(() -> c.query("deallocate " + name).execute())
                        .call(() -> c.query("reset plan_cache_mode").execute()))
                        .map(rs -> new JsonArray(rs.iterator().next().getValue(0).toString()))
                        .await().atMost(Duration.ofSeconds(30));
                JsonObject root = plan.getJsonObject(0).getJsonObject("Plan");
                String where = e.getKey() + " (" + mode + ", " + phase + ")";
                check(root, where, st[2].equals("batches"), st[2].equals("ordered"), bad);
                if (st.length > 3 && !indexes(root).contains(st[3])) {
                    bad.add(where + ": does not read " + st[3] + " (reads " + indexes(root) + ")");
                }
            }
        }
        return bad;
    }

    /** The names of the indexes a plan reads. */
    private static java.util.Set<String> indexes(JsonObject node) {
        java.util.Set<String> out = new java.util.HashSet<>();
        if (node.getString("Index Name") != null) {
            out.add(node.getString("Index Name"));
        }
        JsonArray children = node.getJsonArray("Plans");
        for (int i = 0; children != null && i < children.size(); i++) {
            out.addAll(indexes(children.getJsonObject(i)));
        }
        return out;
    }

    private static void check(JsonObject node, String where, boolean batchesToo, boolean ordered, List<String> bad) {
        String rel = node.getString("Relation Name");
        String type = node.getString("Node Type");
        if (ordered && "Sort".equals(type)) {
            bad.add(where + ": Sort (a page must not read and sort the rest of the batch)");
        }
        if (ordered && "requests".equals(rel) && !String.valueOf(node.getString("Index Cond")).contains("line =")
                && !String.valueOf(node.getString("Recheck Cond")).contains("line =")) {
            bad.add(where + ": " + type + " of requests not by line (a page reads its own lines, one by one)");
        }
        boolean guarded = "requests".equals(rel) || (batchesToo && "batches".equals(rel));
        if (guarded && "Seq Scan".equals(type)) {
            bad.add(where + ": sequential scan of " + rel);
        }
        if (type.contains("Index") && node.getString("Index Name", "").startsWith("requests") && node.getString("Index Cond") == null) {
            bad.add(where + ": " + type + " of " + node.getString("Index Name") + " without an index condition (a whole index read, filtered)");
        }
        // the partial indexes on batches hold live batches only: reading one whole reads no history
        if (batchesToo && type.contains("Index") && node.getString("Index Name", "").startsWith("batches") && node.getString("Index Cond") == null
                && !LIVE_BATCH_INDEXES.contains(node.getString("Index Name"))) {
            bad.add(where + ": " + type + " of " + node.getString("Index Name") + " without an index condition");
        }
        JsonArray children = node.getJsonArray("Plans");
        if (children != null) {
            for (int i = 0; i < children.size(); i++) {
                check(children.getJsonObject(i), where, batchesToo, ordered, bad);
            }
        }
    }

    @Test
    void hotStatementsReadIndexRangesWhateverTheStatistics() {
        List<String> bad = new ArrayList<>(violations("mixed states"));
        exec("update requests set state = 'running', claimed_by = 'plan-node-" + run + "-' || (line % " + NODES + ") where batch_id like 'pb-" + run + "-%'");
        exec("analyze requests");
        bad.addAll(violations("all running"));
        exec("update requests set state = 'queued', claimed_by = null where batch_id like 'pb-" + run + "-%'");
        exec("analyze requests");
        bad.addAll(violations("all queued"));
        if (!bad.isEmpty()) {
            fail(bad.size() + " plan(s) read more than their rows:\n" + String.join("\n", bad));
        }
    }

    /** The pool caches statements up to the limit the check below holds them to (PoolSettings), not the client's default 2,048. */
    @Test
    void thePoolCachesStatementsUpToTheLimit() {
        String sql = "select $1::int + 1 as n /*" + "x".repeat(LineStore.CACHED_SQL_LIMIT - 40) + "*/";
        assertTrue(sql.length() > 2048 && sql.length() <= LineStore.CACHED_SQL_LIMIT);
        long cached = pool.withConnection(c -> c.preparedQuery(sql).execute(Tuple.of(1)).chain(() -> c.preparedQuery(sql).execute(Tuple.of(2)))
                .chain(() -> c.query("select count(*) from pg_prepared_statements where statement like 'select $1::int + 1 as n /*%'").execute()))
                .map(rs -> rs.iterator().next().getLong(0)).await().atMost(Duration.ofSeconds(30));
        assertTrue(cached == 1, "the long statement stays prepared on its connection (" + cached + ")");
    }

    @Test
    void everyHotStatementFitsThePreparedStatementCache() {
        for (var e : statements().entrySet()) {
            assertTrue(e.getValue()[0].length() <= LineStore.CACHED_SQL_LIMIT, e.getKey() + " is " + e.getValue()[0].length() + " characters");
            assertFalse(e.getValue()[0].contains("\n"), e.getKey() + " is sent compact");
        }
    }
}
