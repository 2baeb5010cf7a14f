package dev.openbatch.engine;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.LineStore;
import dev.openbatch.engine.lifecycle.OutputFiles;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.content;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

import dev.openbatch.store.FileStore;
import dev.openbatch.testing.FakeUpstream;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * Answers of any size: the output file is written in chunks of {@link FileStore#CHUNK} bytes
 * whatever the answers weigh (an answer larger than a chunk runs over several), each page of lines
 * the files read holds about {@link OutputFiles#PAGE_BYTES}, and every line comes once, byte for byte.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class BigAnswersTest {
    private static final String CHAT = "/v1/chat/completions";

    @Inject
    Pool pool;

    private static String answer(JsonObject line) {
        return line.getJsonObject("response").getJsonObject("body").getJsonArray("choices").getJsonObject(0)
                .getJsonObject("message").getString("content");
    }

    /** Sizes of the file's chunks, in order. */
    private List<Integer> chunks(String fileId) {
        List<Integer> sizes = new ArrayList<>();
        for (Row row : pool.preparedQuery("select seq, octet_length(data) from file_chunks where file_id = $1 order by seq")
                .execute(Tuple.of(fileId)).await().atMost(Duration.ofSeconds(30))) {
            assertEquals(sizes.size(), row.getInteger(0), "chunks are numbered without a gap");
            sizes.add(row.getInteger(1));
        }
        return sizes;
    }

    @Test
    void bigAnswersMakeChunksOfAMebibyteAndEveryLineOnce() {
        String r = EngineTest.run();
        int n = 200;
        int pad = 100_000;
        int huge = 2_500_000; // lines 50 and 51: answers larger than a chunk, side by side
        String input = IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, "fake-model",
                "{\"pad\":" + (i == 50 || i == 51 ? huge : pad) + "}")).collect(Collectors.joining("\n", "", "\n"));
        String id = createBatch(KEY_A, upload(KEY_A, input), CHAT, "24h").getString("id");
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(90));
        assertEquals(n, done.getInt("request_counts.completed"));
        assertNull(done.get("error_file_id"));

        String fileId = done.getString("output_file_id");
        String text = content(KEY_A, fileId);
        long bytes = text.getBytes(StandardCharsets.UTF_8).length;
        assertTrue(bytes > (long) (n - 2) * pad + 2L * huge, "the whole output came: " + bytes);
        List<Integer> sizes = chunks(fileId);
        for (int i = 0; i < sizes.size() - 1; i++) {
            assertEquals(FileStore.CHUNK, sizes.get(i), "chunk " + i + " of " + sizes.size() + " holds a chunk's bytes exactly");
        }
        assertTrue(sizes.get(sizes.size() - 1) <= FileStore.CHUNK, "chunks of " + sizes);
        assertEquals(bytes, sizes.stream().mapToLong(Integer::longValue).sum(), "the chunks hold the file's bytes, no more");
        assertEquals(bytes, pool.preparedQuery("select bytes from files where id = $1").execute(Tuple.of(fileId))
                .await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0));

        Map<String, JsonObject> out = EngineTest.byCustomId(text); // fails on a line written twice
        assertEquals(n, out.size());
        for (int i = 1; i <= n; i++) {
            JsonObject line = out.get(r + "-" + i);
            assertNotNull(line, "line " + i + " missing");
            String key = r + "-" + i;
            assertEquals("echo " + key + FakeUpstream.padding(key, i == 50 || i == 51 ? huge : pad), answer(line), "line " + i);
        }

        // a page of these lines, as the files read them (in settlement order), holds about a page's bytes, not a page of lines
        LineStore store = new LineStore(pool);
        LineStore.SettledPage page = store.settled(new Transactions(pool).autoCommit(), id, 0, 0, OutputFiles.PAGE, null,
                OutputFiles.PAGE_BYTES).await().atMost(Duration.ofSeconds(30));
        List<LineStore.SettledLine> rows = page.lines();
        long before = 0;
        for (int i = 0; i < rows.size() - 1; i++) {
            before += rows.get(i).response().length();
        }
        assertTrue(before < OutputFiles.PAGE_BYTES, "only the last line of a page may go past its budget");
        assertTrue(rows.size() <= OutputFiles.PAGE_BYTES / pad + 1, rows.size() + " lines in a page");
        assertTrue(before + rows.get(rows.size() - 1).response().length() >= OutputFiles.PAGE_BYTES - pad - 1000,
                "a page is cut by its bytes, near its budget: " + rows.size() + " lines");
        // a line larger than the budget makes a page of its own
        long seq50 = pool.preparedQuery("select settled_seq from requests where batch_id = $1 and line = 50").execute(Tuple.of(id))
                .await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
        LineStore.SettledPage big = store.settled(new Transactions(pool).autoCommit(), id, seq50 - 1, 0, OutputFiles.PAGE, null,
                OutputFiles.PAGE_BYTES).await().atMost(Duration.ofSeconds(30));
        assertEquals(List.of(50), big.lines().stream().map(LineStore.SettledLine::line).toList());
    }
}
