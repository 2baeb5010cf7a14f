package dev.openbatch.files;

import static dev.openbatch.files.UploadTest.BOUNDARY;
import static dev.openbatch.files.UploadTest.await;
import static dev.openbatch.files.UploadTest.batchFile;
import static dev.openbatch.files.UploadTest.multipart;
import static dev.openbatch.files.UploadTest.post;
import static dev.openbatch.files.UploadTest.run;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.api.Time;
import dev.openbatch.engine.housekeeping.UploadSweep;
import dev.openbatch.store.FileStore;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.RestAssured;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * Slow and hostile uploads cost only themselves (issue 21): a trickle below the minimum rate and a
 * body past its deadline are cut with a clear 408, their connection closed, their rows deleted and
 * their slot given back at once; an upload waits for a slot a bounded time; a slow upload holds no
 * transaction between its chunks (nothing pins vacuum's horizon) and no read sees it until it has
 * ended; a failed one leaves nothing, though its chunks were committed; and the rows a dead process
 * left are swept once their time is past.
 */
@QuarkusTest
@TestProfile(UploadLimitsTest.Limits.class)
@WithTestResource(FakeUpstreamResource.class)
class UploadLimitsTest {
    static final long DEADLINE_MS = 15_000;
    static final long WINDOW_MS = 2_000;
    static final long MIN_RATE = 4096;

    /** Small limits, one upload slot, and no engine: no transaction of the database is anybody's but the test's and the uploads'. */
    public static class Limits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("openbatch.engine.enabled", "false",
                    "openbatch.limits.concurrent-uploads", "1",
                    "openbatch.limits.upload-slot-wait", "2s",
                    "openbatch.limits.upload-deadline", DEADLINE_MS + "ms",
                    "openbatch.limits.upload-min-bytes-per-second", String.valueOf(MIN_RATE),
                    "openbatch.limits.upload-rate-window", WINDOW_MS + "ms");
        }
    }

    @Inject
    Pool pool;
    @Inject
    UploadSlots slots;
    @Inject
    FileStore store;

    private long count(String sql, Object... args) {
        return pool.preparedQuery(sql).execute(Tuple.from(args)).await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
    }

    /** Rows of files, chunks and index lines, in all. */
    private long rows() {
        return count("select (select count(*) from files) + (select count(*) from file_chunks) + (select count(*) from file_lines)");
    }

    /** What a cut upload got: the server's answer, and how long after the trickle began. */
    private record Cut(String answer, long took) {
    }

    /**
     * Sends the first {@code first} bytes of {@code body} at once, then {@code n} bytes every
     * {@code everyMs} until the server answers; the server must close the connection.
     */
    private Cut trickled(byte[] body, int first, int n, long everyMs) throws IOException {
        try (Raw raw = new Raw(body, false)) {
            if (first > 0) {
                raw.send(first);
            }
            long start = System.nanoTime();
            raw.trickle(n, everyMs);
            String answer = raw.answer();
            long took = since(start);
            assertTrue(raw.closed, "the server closed the connection");
            return new Cut(answer, took);
        }
    }

    /** The raw answer has this status, the error code, and names the setting that decided it. */
    private static void assertRefused(String answer, int status, String code, String setting) {
        assertTrue(answer.startsWith("HTTP/1.1 " + status + " "), answer);
        assertTrue(answer.contains("\"code\":\"" + code + "\""), answer);
        assertTrue(answer.contains(setting), answer);
    }

    private static long since(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    /**
     * A {@code POST /v1/files} over a raw socket, its body sent as the test says: at once, up to a
     * point, or as a trickle from a thread of its own.
     */
    private static final class Raw implements AutoCloseable {
        private final Socket socket;
        private final OutputStream out;
        private final InputStream in;
        private final byte[] body;
        private int sent;
        private volatile boolean trickling;
        private Thread trickler;
        /** The server closed the connection (its end of stream, or a reset once the answer was read). */
        boolean closed;

        /** Sends the request's head; {@code close}: asks for the connection to end with the answer. */
        Raw(byte[] body, boolean close) throws IOException {
            this.body = body;
            socket = new Socket("localhost", RestAssured.port);
            socket.setSoTimeout(30_000);
            out = socket.getOutputStream();
            in = socket.getInputStream();
            out.write(("POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY_A + (close ? "\r\nConnection: close" : "")
                    + "\r\nContent-Type: multipart/form-data; boundary=" + BOUNDARY + "\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        /** Sends the body up to byte {@code upTo}. */
        synchronized void send(int upTo) throws IOException {
            int to = Math.min(upTo, body.length);
            if (to > sent) {
                out.write(body, sent, to - sent);
                out.flush();
                sent = to;
            }
        }

        /** From now on, {@code n} bytes every {@code everyMs} milliseconds, until {@link #stopTrickle} or the connection ends. */
        void trickle(int n, long everyMs) {
            trickling = true;
            trickler = new Thread(() -> {
                try {
                    while (trickling && sent < body.length) {
                        send(sent + n);
                        Thread.sleep(everyMs);
                    }
                } catch (IOException | InterruptedException e) {
                    // the server closed the connection: the trickle ends
                }
            });
            trickler.setDaemon(true);
            trickler.start();
        }

        void stopTrickle() throws InterruptedException {
            trickling = false;
            trickler.join();
        }

        /** Everything the server sends until it closes the connection (the request asked for that, or the server decided). */
        String answer() throws IOException {
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) >= 0;) {
                    got.write(buf, 0, n);
                }
                closed = true;
            } catch (SocketException e) {
                closed = got.size() > 0; // reset after the answer: the bytes the trickle sent meanwhile
            }
            trickling = false;
            return got.toString(StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws IOException {
            trickling = false;
            socket.close();
        }
    }

    @Test
    void aTrickleBelowTheMinimumRateIsCutWithinItsWindowAndTheNextUploadHasTheSlotRightAfter() throws Exception {
        long before = rows();
        byte[] body = multipart("purpose", "batch", "file", batchFile(run(), 200, 500));
        // the form's first field and a few bytes of the file, then 64 bytes a second
        Cut cut = trickled(body, 300, 16, 250);
        String answer = cut.answer();
        long took = cut.took();
        assertRefused(answer, 408, "upload_too_slow", "openbatch.limits.upload-min-bytes-per-second");
        assertTrue(took >= WINDOW_MS / 2, "not before its window: " + took + " ms");
        assertTrue(took < 2 * WINDOW_MS + 3_000, "cut within its window (and a check's period): " + took + " ms");
        // one slot in all: the next upload has it right after (else 503 after the 2 s wait)
        HttpResponse<String> next = post(multipart("purpose", "batch", "file", batchFile(run(), 3, 100)));
        assertEquals(200, next.statusCode(), next.body());
        await(() -> slots.taken() == 0, "the slot given back");
        assertEquals(before + 1 + 1 + 3, rows(), "nothing of the cut upload is left: the next one's row, chunk and 3 index lines only");
        assertEquals(0, count("select count(*) from files where upload_until is not null"));
    }

    @Test
    void anUploadPastItsDeadlineIsCutThoughItKeepsThePace() throws Exception {
        long before = rows();
        byte[] body = multipart("purpose", "batch", "file", batchFile(run(), 2000, 500));
        // about 20 KiB a second, five times the minimum: the whole body would take 50 s
        Cut cut = trickled(body, 0, 2048, 100);
        assertRefused(cut.answer(), 408, "upload_deadline_exceeded", "openbatch.limits.upload-deadline");
        long took = cut.took();
        assertTrue(took >= DEADLINE_MS - 500 && took < DEADLINE_MS + 6_000, "cut at its deadline: " + took + " ms");
        await(() -> slots.taken() == 0, "the slot given back");
        assertEquals(before, rows(), "nothing of it is left");
    }

    @Test
    void anUploadThatFindsNoSlotInTimeIs503AndReadsNothing() throws Exception {
        byte[] body = multipart("purpose", "batch", "file", batchFile(run(), 3, 100));
        boolean[] held = { false };
        Runnable holder = () -> held[0] = true;
        slots.acquire("project-holder", holder); // the one slot, as an upload in progress would hold it
        assertTrue(held[0]);
        try (Raw raw = new Raw(body, false)) {
            long start = System.nanoTime();
            String answer = raw.answer();
            long took = since(start);
            assertRefused(answer, 503, "upload_slots_busy", "openbatch.limits.upload-slot-wait");
            assertTrue(took >= 1_500 && took < 8_000, "after the slot wait: " + took + " ms");
            assertTrue(raw.closed, "the server closed the connection");
        } finally {
            slots.release("project-holder");
        }
        assertEquals(0, slots.waiting(), "it left the queue");
        await(() -> slots.taken() == 0, "no slot held");
    }

    @Test
    void aClientThatLeavesWhileItWaitsForASlotLeavesTheQueueAtOnce() throws Exception {
        boolean[] held = { false };
        slots.acquire("project-holder", () -> held[0] = true);
        assertTrue(held[0]);
        try {
            try (Raw raw = new Raw(multipart("purpose", "batch", "file", batchFile(run(), 3, 100)), false)) {
                await(() -> slots.waiting() == 1, "the upload to wait for the slot");
            }
            await(() -> slots.waiting() == 0, "the upload whose client left to leave the queue");
        } finally {
            slots.release("project-holder");
        }
        Thread.sleep(200);
        assertEquals(0, slots.taken(), "no slot went to the upload whose client left");
    }

    /** The upload in progress of project-a once it has committed {@code chunks} chunks: its id. */
    private String awaitUploadInProgress(int chunks) throws InterruptedException {
        String[] id = { null };
        await(() -> {
            List<Row> rows = new ArrayList<>();
            pool.query("select f.id, (select count(*) from file_chunks c where c.file_id = f.id) from files f"
                    + " where f.upload_until is not null and f.project = 'project-a'").execute().await().atMost(Duration.ofSeconds(10))
                    .forEach(rows::add);
            if (rows.size() == 1 && rows.get(0).getLong(1) >= chunks) {
                id[0] = rows.get(0).getString(0);
                return true;
            }
            return false;
        }, "the upload's first chunks, committed while it is in progress");
        return id[0];
    }

    /**
     * The transactions of the test database other than this query's that hold an xid, an xmin, or
     * sit idle inside a transaction, each as "pid@start" with what it holds.
     */
    private Map<String, String> transactionsHolding() {
        Map<String, String> out = new HashMap<>();
        pool.query("select pid, xact_start::text, state, backend_xid::text, backend_xmin::text from pg_stat_activity"
                + " where datname = current_database() and pid <> pg_backend_pid()"
                + " and (state like 'idle in transaction%' or backend_xid is not null or backend_xmin is not null)")
                .execute().await().atMost(Duration.ofSeconds(10))
                .forEach(r -> out.put(r.getInteger(0) + "@" + r.getString(1), r.getString(2) + " xid=" + r.getString(3) + " xmin=" + r.getString(4)));
        return out;
    }

    @Test
    void aSlowUploadHoldsNoTransactionBetweenItsChunksAndNoReadSeesItUntilItEnds() throws Exception {
        String text = batchFile(run(), 800, 5000); // four chunks
        byte[] content = text.getBytes(StandardCharsets.UTF_8);
        byte[] body = multipart("purpose", "batch", "file", text);
        // the reads below, once before the upload (the first request of a client is slow, and the upload has a deadline)
        as(KEY_A).get("/v1/files?limit=1").then().statusCode(200);
        long startMillis = System.currentTimeMillis();
        String id;
        String answer;
        try (Raw raw = new Raw(body, true)) {
            raw.send(body.length * 5 / 8); // two chunks and a half
            id = awaitUploadInProgress(2);
            long until = count("select upload_until from files where id = $1", id);
            assertTrue(until >= startMillis + DEADLINE_MS && until <= System.currentTimeMillis() + DEADLINE_MS + Upload.FINISH_MARGIN_MILLIS,
                    "abandoned for sure once past its deadline and the margin: " + until);
            // slow, but ten times the minimum: no chunk completes for a while
            raw.trickle(4096, 100);
            List<Map<String, String>> samples = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                samples.add(transactionsHolding());
                Thread.sleep(250);
            }
            for (int i = 0; i < samples.size(); i++) {
                for (int j = i + 2; j < samples.size(); j++) {
                    for (String tx : samples.get(i).keySet()) {
                        assertFalse(samples.get(j).containsKey(tx), "transaction " + tx + " (" + samples.get(i).get(tx)
                                + ") stayed open across the gap between the upload's chunks: " + samples);
                    }
                }
            }
            // nothing reads it: not listed, not found, no content, no batch
            as(KEY_A).get("/v1/files/" + id).then().statusCode(404);
            as(KEY_A).get("/v1/files/" + id + "/content").then().statusCode(404);
            List<String> listed = as(KEY_A).get("/v1/files?limit=10000").then().statusCode(200).extract().path("data.id");
            assertFalse(listed.contains(id));
            as(KEY_A).contentType("application/json").body("{\"input_file_id\":\"" + id + "\",\"endpoint\":\"/v1/chat/completions\"}")
                    .post("/v1/batches").then().statusCode(404);
            as(KEY_A).delete("/v1/files/" + id).then().statusCode(404);
            raw.stopTrickle();
            raw.send(body.length);
            answer = raw.answer();
        }
        assertTrue(answer.startsWith("HTTP/1.1 200 "), answer);
        assertTrue(answer.contains("\"id\":\"" + id + "\""), answer);
        // now a file like any other
        as(KEY_A).get("/v1/files/" + id).then().statusCode(200);
        assertEquals(content.length, (int) as(KEY_A).get("/v1/files/" + id).then().extract().path("bytes"));
        List<String> listed = as(KEY_A).get("/v1/files?limit=10000").then().statusCode(200).extract().path("data.id");
        assertTrue(listed.contains(id));
        assertArrayEquals(content, as(KEY_A).get("/v1/files/" + id + "/content").then().statusCode(200).extract().asByteArray());
        assertEquals(800, count("select count(*) from file_lines where file_id = $1", id));
        await(() -> slots.taken() == 0, "the slot given back");
    }

    @Test
    void aFailedUploadLeavesNoRowsThoughItsChunksWereCommitted() throws Exception {
        // the purpose after the file: refused only once the whole body has arrived
        byte[] body = multipart("file", batchFile(run(), 600, 5000), "purpose", "nonsense");
        String answer;
        String id;
        try (Raw raw = new Raw(body, true)) {
            raw.send(body.length - 200);
            id = awaitUploadInProgress(2);
            assertTrue(count("select count(*) from file_lines where file_id = $1", id) > 0, "its index lines are committed too");
            raw.send(body.length);
            answer = raw.answer();
        }
        assertTrue(answer.startsWith("HTTP/1.1 400 "), answer);
        assertTrue(answer.contains("\"param\":\"purpose\""), answer);
        await(() -> slots.taken() == 0, "the slot given back");
        assertEquals(0, count("select count(*) from files where id = $1", id));
        assertEquals(0, count("select count(*) from file_chunks where file_id = $1", id));
        assertEquals(0, count("select count(*) from file_lines where file_id = $1", id));
    }

    /** A row of {@code files} with two chunks and an index line, as an upload leaves it ({@code until} null: a file). */
    private void insert(String id, Long until) {
        pool.withTransaction(c -> c.preparedQuery("insert into files (id, project, purpose, filename, bytes, status, created_at, created_us,"
                + " upload_until) values ($1, 'project-a', 'batch', 'upload', 0, 'processed', 0, 0, $2)").execute(Tuple.of(id, until))
                .chain(() -> c.preparedQuery("insert into file_chunks (file_id, seq, data) values ($1, 0, '\\x7b7d0a'::bytea), ($1, 1, '\\x7b7d0a'::bytea)")
                        .execute(Tuple.of(id)))
                .chain(() -> c.preparedQuery("insert into file_lines (file_id, line, seq, last_seq, body_at, body_length, error_late)"
                        + " values ($1, 1, 0, 0, -1, 0, false)").execute(Tuple.of(id))))
                .await().atMost(Duration.ofSeconds(10));
    }

    private long rowsOf(String id) {
        return count("select (select count(*) from files where id = $1) + (select count(*) from file_chunks where file_id = $1)"
                + " + (select count(*) from file_lines where file_id = $1)", id);
    }

    private static UploadSweep sweepAt(FileStore store, long millis) {
        return new UploadSweep(store, new Time(Clock.fixed(Instant.ofEpochMilli(millis), ZoneOffset.UTC)));
    }

    @Test
    void theUploadsADeadProcessLeftAreSweptOnceTheirTimeIsPastAndNothingElse() {
        String r = run();
        long now = System.currentTimeMillis();
        String dead = "file-abandoned-" + r;
        String live = "file-uploading-" + r;
        String file = "file-kept-" + r;
        insert(dead, now - 1);
        insert(live, now + 60_000);
        insert(file, null);
        try {
            assertEquals(1L, sweepAt(store, now).run().await().atMost(Duration.ofSeconds(10)));
            assertEquals(0, rowsOf(dead), "the abandoned upload, its chunks and its index are gone");
            assertEquals(4, rowsOf(live), "an upload still within its time stays");
            assertEquals(4, rowsOf(file), "a file is never an upload");
            // its process died too: once its time is past, it goes as well
            assertEquals(1L, sweepAt(store, now + 60_001).run().await().atMost(Duration.ofSeconds(10)));
            assertEquals(0, rowsOf(live));
            assertEquals(4, rowsOf(file));
        } finally {
            pool.preparedQuery("delete from files where id = any($1)").execute(Tuple.of(new String[] { dead, live, file }))
                    .await().atMost(Duration.ofSeconds(10));
        }
    }
}
