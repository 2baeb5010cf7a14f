package dev.openbatch.engine;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.content;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

import dev.openbatch.engine.housekeeping.OutputAppender;
import dev.openbatch.engine.lifecycle.OutputFiles;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.ResultsReader;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The output and error files are written while the batch runs (issue 22): they are the results
 * stream's two outcomes byte for byte; the batch's end appends only what settled since the last
 * step and leaves the rest as it was; and a step cut short at any statement (its transaction rolled
 * back, as a kill -9 would leave it) loses no line and writes none twice.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class OutputWhileRunningTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Test
    void theFilesAreTheResultsStreamByteForByteWithFailuresAndRetries() {
        String r = UUID.randomUUID().toString().substring(0, 8);
        int n = 60;
        // latencies spread so that lines settle out of line order; every 7th fails for good, every 5th fails twice first
        String input = IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, "fake-model", "{\"latency_ms\":" + (50 + (i * 37) % 400)
                + (i % 7 == 0 ? ",\"statuses\":[400]" : i % 5 == 0 ? ",\"statuses\":[503,500,200]" : "") + "}"))
                .collect(Collectors.joining("\n"));
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        Engine e = engine("output-stream");
        OutputAppender appender = appender();
        long appended = 0;
        long end = System.currentTimeMillis() + 60_000;
        while (!ended(id) && System.currentTimeMillis() < end) {
            appended += appender.run().await().atMost(WAIT);
            EngineTesting.sleep(100);
        }
        JsonPath done = awaitStatus(KEY_A, id, "completed", WAIT);
        assertTrue(appended > 0, "lines went into the files while the batch ran");
        assertEquals(n / 7, done.getInt("request_counts.failed"));

        String output = content(KEY_A, done.getString("output_file_id"));
        String errors = content(KEY_A, done.getString("error_file_id"));
        assertEquals(stream(id, "outcome=succeeded"), output, "the output file is the stream's succeeded lines, byte for byte");
        assertEquals(stream(id, "outcome=failed"), errors, "the error file is the stream's failed lines, byte for byte");
        assertEquals(n - n / 7, output.lines().count());
        assertEquals(n / 7, errors.lines().count());
        List<Integer> order = output.lines().map(l -> Integer.parseInt(new JsonObject(l).getString("custom_id").substring(9))).toList();
        assertNotEquals(order.stream().sorted().toList(), order, "in settlement order, not line order");
        assertEquals(output.length(), as(KEY_A).get("/v1/files/" + done.getString("output_file_id")).then().statusCode(200).extract()
                .jsonPath().getLong("bytes"), "the file's bytes are its content's (ASCII here)");
        e.halt();
    }

    @Test
    void theEndAppendsOnlyTheTailAndTheFilesStayHiddenUntilThen() {
        Batch b = new Batch(40);
        b.settle(IntStream.rangeClosed(1, 30).boxed().toList(), new Random(1));
        long appended = appender().run().await().atMost(WAIT);
        assertTrue(appended >= 30, "every settled line of the batch went into its files: " + appended);
        assertEquals(b.settledSeq(), b.outputSeq(), "the mark is at the last settled line");
        Map<String, String> files = b.files();
        assertEquals(2, files.size(), "an output and an error file: " + files);
        for (String f : files.keySet()) {
            as(KEY_A).get("/v1/files/" + f).then().statusCode(404);
            as(KEY_A).get("/v1/files/" + f + "/content").then().statusCode(404);
        }
        List<String> listed = as(KEY_A).get("/v1/files?limit=10000").then().statusCode(200).extract().jsonPath().getList("data.id");
        assertTrue(Collections.disjoint(listed, files.keySet()), "no list shows a file being written");
        assertNull(dev.openbatch.testing.Api.batch(KEY_A, b.id).get("output_file_id"));

        b.settle(IntStream.rangeClosed(31, 40).boxed().toList(), new Random(2));
        assertTrue(appender().run().await().atMost(WAIT) >= 10);
        Map<String, String> before = b.chunkVersions();

        // an engine finalizes the batch: every line is in the files already, so nothing of them is written again
        engine("output-tail");
        JsonPath done = awaitStatus(KEY_A, b.id, "completed", WAIT);
        assertEquals(files.get(done.getString("output_file_id")), "output");
        assertEquals(files.get(done.getString("error_file_id")), "error");
        assertEquals(before, b.chunkVersions(), "the end rewrote no chunk");
        assertEquals(stream(b.id, "outcome=succeeded"), content(KEY_A, done.getString("output_file_id")));
        assertEquals(stream(b.id, "outcome=failed"), content(KEY_A, done.getString("error_file_id")));
        assertTrue(listedNow(files.keySet()), "the files are listed once the batch ended");
    }

    /**
     * Steps cut short after a random statement, again and again as lines keep settling (answers of
     * up to 300 kB, so that a step runs over several chunks and rewrites a partial one): after each,
     * the files hold exactly the lines up to the mark, and at the end every line once.
     */
    @Test
    void aStepCutShortAtAnyStatementLosesNoLineAndWritesNoneTwice() {
        Random random = new Random(22);
        int n = 120;
        Batch b = new Batch(n);
        AtomicInteger crashAt = new AtomicInteger(-1);
        AtomicInteger calls = new AtomicInteger();
        OutputFiles crashing = crashingOutputs(calls, crashAt);
        List<Integer> left = IntStream.rangeClosed(1, n).boxed().collect(Collectors.toCollection(ArrayList::new));
        Collections.shuffle(left, random);
        int crashes = 0;
        while (!left.isEmpty() || b.outputSeq() < b.settledSeq()) {
            List<Integer> now = new ArrayList<>(left.subList(0, Math.min(left.size(), 1 + random.nextInt(25))));
            left.removeAll(now);
            b.settle(now, random);
            calls.set(0);
            // a step of several pages runs more statements than a cut may come after: one run in
            // three goes through, so that the files move on
            crashAt.set(random.nextInt(3) == 0 ? -1 : 1 + random.nextInt(20));
            try {
                crashing.catchUp(b.id, random.nextBoolean(), 1 + random.nextInt(3)).await().atMost(WAIT);
            } catch (Crash c) {
                crashes++;
            }
            crashAt.set(-1);
            b.assertFilesHoldTheLinesUpToTheMark();
        }
        assertTrue(crashes >= 10, "steps were cut short: " + crashes);
        engine("output-crashes");
        JsonPath done = awaitStatus(KEY_A, b.id, "completed", WAIT);
        String output = content(KEY_A, done.getString("output_file_id"));
        String errors = content(KEY_A, done.getString("error_file_id"));
        assertEquals(stream(b.id, "outcome=succeeded"), output);
        assertEquals(stream(b.id, "outcome=failed"), errors);
        Map<String, Long> once = (output + errors).lines().collect(Collectors.groupingBy(l -> new JsonObject(l).getString("custom_id"),
                Collectors.counting()));
        assertEquals(n, once.size(), "every line is in the files");
        assertTrue(once.values().stream().allMatch(c -> c == 1), "each once");
    }

    // ---- helpers ----

    /** Thrown by a store of {@link #crashingOutputs} in place of a process killed there. */
    private static final class Crash extends RuntimeException {
        Crash() {
            super("crash", null, false, false);
        }
    }

    /**
     * The files' writer over stores that, once {@code crashAt} is set, fail right after their
     * {@code crashAt}-th statement of the step has run: the step's transaction is rolled back there.
     */
    private OutputFiles crashingOutputs(AtomicInteger calls, AtomicInteger crashAt) {
        java.util.function.Supplier<Uni<?>> after = () -> {
            int at = crashAt.get();
            return at > 0 && calls.incrementAndGet() == at ? Uni.createFrom().<Void>failure(new Crash()) : Uni.createFrom().voidItem();
        };
        FileStore files = new FileStore(pool) {
            @Override
            public Uni<List<Produced>> producedBy(Tx tx, String batchId) {
                return super.producedBy(tx, batchId).call(x -> after.get());
            }

            @Override
            public Uni<Void> beginOutput(Tx tx, NewFile f) {
                return super.beginOutput(tx, f).call(after);
            }

            @Override
            public Uni<Buffer> chunk(Tx tx, String fileId, int seq) {
                return super.chunk(tx, fileId, seq).call(x -> after.get());
            }

            @Override
            public Uni<Void> putChunk(Tx tx, String fileId, int seq, Buffer data) {
                return super.putChunk(tx, fileId, seq, data).call(after);
            }

            @Override
            public Uni<Void> setBytes(Tx tx, String fileId, long bytes) {
                return super.setBytes(tx, fileId, bytes).call(after);
            }
        };
        BatchStore batches = new BatchStore(pool) {
            @Override
            public Uni<OutputMark> lockOutput(Tx tx, String batchId, boolean wait) {
                return super.lockOutput(tx, batchId, wait).call(x -> after.get());
            }

            @Override
            public Uni<Boolean> advanceOutput(Tx tx, String batchId, long from, long to) {
                return super.advanceOutput(tx, batchId, from, to).call(x -> after.get());
            }
        };
        LineStore lines = new LineStore(pool) {
            @Override
            public Uni<SettledPage> settled(Tx tx, String batchId, long afterXid, int afterLine, int limit, Boolean succeeded, int budget) {
                return super.settled(tx, batchId, afterXid, afterLine, limit, succeeded, budget).call(x -> after.get());
            }
        };
        return new OutputFiles(new Transactions(pool), files, lines, batches);
    }

    private OutputAppender appender() {
        BatchStore batches = new BatchStore(pool);
        return new OutputAppender(batches, new OutputFiles(new Transactions(pool), new FileStore(pool), new LineStore(pool), batches));
    }

    private static boolean ended(String id) {
        return !List.of("validating", "in_progress", "finalizing", "cancelling").contains(dev.openbatch.testing.Api.batch(KEY_A, id)
                .getString("status"));
    }

    /** The results stream of the batch with these parameters, read to its end, as one text. */
    private static String stream(String id, String query) {
        ResultsReader reader = new ResultsReader(KEY_A, id, query).readToEnd(Duration.ofSeconds(30), Duration.ofMillis(50));
        return reader.lines().stream().map(l -> l + "\n").collect(Collectors.joining());
    }

    private static boolean listedNow(java.util.Set<String> ids) {
        return as(KEY_A).get("/v1/files?limit=10000").then().statusCode(200).extract().jsonPath().<String>getList("data.id").containsAll(ids);
    }

    /**
     * A batch in progress made in the tables, whose lines the test settles itself as the engine's
     * write does (each a number of the batch's sequence, taken with its row locked; its counters
     * moved): every 4th line fails, the others succeed with answers of up to 300 kB.
     */
    private final class Batch {
        final String id = "batch-out-" + UUID.randomUUID().toString().substring(0, 8);
        final int n;

        Batch(int n) {
            this.n = n;
            String job = "job-" + id;
            exec("insert into jobs (id, project, name, completion_window, created_at, created_us) values ($1, 'project-a', 'out', '24h', 0, 0)",
                    Tuple.of(job));
            exec("insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status, upstream, model, created_at,"
                    + " created_us, total, validated, in_progress_at) values ($1, 'project-a', $2, '/v1/chat/completions', 'none', '24h',"
                    + " 'in_progress', 'fake', 'fake-model', 0, 0, $3, true, 0)", Tuple.of(id, job, n));
            exec("insert into requests (batch_id, line, custom_id, body) select $1, l, 'c' || l, '{}' from generate_series(1, $2) l",
                    Tuple.of(id, n));
        }

        /** Settles these lines, one transaction each, in this order. */
        void settle(List<Integer> lines, Random random) {
            for (int line : lines) {
                boolean ok = line % 4 != 0;
                String answer = ok ? new JsonObject().put("line", line).put("pad", "é".repeat(random.nextInt(150_000))).encode() : null;
                exec("with lk as (update batches set settled_seq = settled_seq + 1, completed = completed + $3::int,"
                        + " failed = failed + (1 - $3::int) where id = $1 returning settled_seq)"
                        + " update requests set state = case when $3::int = 1 then 'succeeded' else 'failed' end, status_code = 200,"
                        + " request_id = 'req-' || line, response = $4, error_code = case when $3::int = 0 then 'upstream_error' end,"
                        + " error_message = case when $3::int = 0 then 'no \"luck\"' end, settled_seq = (select settled_seq from lk)"
                        + " where batch_id = $1 and line = $2", Tuple.of(id, line, ok ? 1 : 0, answer));
            }
        }

        long settledSeq() {
            return one("select settled_seq from batches where id = $1").getLong(0);
        }

        long outputSeq() {
            return one("select output_seq from batches where id = $1").getLong(0);
        }

        /** The batch's files: id → "output" or "error". */
        Map<String, String> files() {
            Map<String, String> out = new HashMap<>();
            for (Row r : query("select id, filename from files where producer_batch_id = $1", Tuple.of(id))) {
                out.put(r.getString(0), r.getString(1).endsWith("_output.jsonl") ? "output" : "error");
            }
            return out;
        }

        /** Each chunk of the batch's files and the transaction that wrote its row version. */
        Map<String, String> chunkVersions() {
            Map<String, String> out = new HashMap<>();
            for (Row r : query("select c.file_id || '/' || c.seq, c.xmin::text from file_chunks c join files f on f.id = c.file_id"
                    + " where f.producer_batch_id = $1", Tuple.of(id))) {
                out.put(r.getString(0), r.getString(1));
            }
            return out;
        }

        /**
         * The files' chunks hold, in each file, the lines numbered up to the mark that belong in it,
         * in their order, each once, exactly a chunk each but the last; their rows' bytes are their
         * chunks'.
         */
        void assertFilesHoldTheLinesUpToTheMark() {
            long mark = outputSeq();
            for (Map.Entry<String, String> f : files().entrySet()) {
                List<String> got = new ArrayList<>();
                long sum = 0;
                List<Row> chunks = new ArrayList<>();
                query("select seq, data from file_chunks where file_id = $1 order by seq", Tuple.of(f.getKey())).forEach(chunks::add);
                Buffer all = Buffer.buffer();
                for (int i = 0; i < chunks.size(); i++) {
                    Buffer data = chunks.get(i).getBuffer(1);
                    assertEquals(i, chunks.get(i).getInteger(0), "chunks numbered without a gap");
                    assertTrue(i == chunks.size() - 1 ? data.length() <= FileStore.CHUNK : data.length() == FileStore.CHUNK, "chunk " + i);
                    sum += data.length();
                    all.appendBuffer(data);
                }
                assertEquals(sum, one("select bytes from files where id = $1", f.getKey()).getLong(0), "the row's bytes are its chunks'");
                for (String l : all.toString().split("\n")) {
                    if (!l.isEmpty()) {
                        got.add(new JsonObject(l).getString("custom_id"));
                    }
                }
                List<String> want = new ArrayList<>();
                for (Row r : query("select custom_id from requests where batch_id = $1 and settled_seq <= $2 and (state = 'succeeded') = $3"
                        + " order by settled_seq", Tuple.of(id, mark, f.getValue().equals("output")))) {
                    want.add(r.getString(0));
                }
                assertEquals(want, got, f.getValue() + " file at mark " + mark);
            }
            assertFalse(mark > settledSeq());
        }

        private Row one(String sql, Object arg) {
            return query(sql, Tuple.of(arg == null ? id : arg)).iterator().next();
        }

        private Row one(String sql) {
            return one(sql, null);
        }
    }

    private Iterable<Row> query(String sql, Tuple args) {
        return pool.preparedQuery(sql).execute(args).await().atMost(WAIT);
    }

    private void exec(String sql, Tuple args) {
        pool.preparedQuery(sql).execute(args).await().atMost(WAIT);
    }
}
