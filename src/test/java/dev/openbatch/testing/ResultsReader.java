package dev.openbatch.testing;

import static dev.openbatch.testing.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.restassured.response.Response;
import io.vertx.core.json.JsonObject;

/**
 * A client of {@code GET /v1/batches/{id}/results}, as a user writes one: it calls with the cursor
 * of its previous answer, again at once while {@code Openbatch-Has-More} says so, after a pause
 * otherwise, until {@code Openbatch-Complete}. It keeps every line it received, exactly as sent.
 */
public final class ResultsReader {
    private final String key;
    private final String batchId;
    private final String query;
    private final List<String> lines = Collections.synchronizedList(new ArrayList<>());
    private volatile String cursor;
    private volatile boolean complete;
    private volatile int calls;
    private volatile int callsWithLinesBeforeComplete;

    /** {@code query}: extra query parameters ({@code outcome=…&limit=…}), or "". */
    public ResultsReader(String key, String batchId, String query) {
        this.key = key;
        this.batchId = batchId;
        this.query = query;
    }

    /** What one call got: how many lines, and whether more can be read at once. */
    public record Poll(int lines, boolean hasMore) {
    }

    /** One call with the current cursor. */
    public Poll poll() {
        String params = query + (cursor == null ? "" : (query.isEmpty() ? "" : "&") + "after=" + cursor);
        String url = "/v1/batches/" + batchId + "/results" + (params.isEmpty() ? "" : "?" + params);
        Response r = as(key).get(url);
        assertEquals(200, r.statusCode(), () -> r.asString());
        assertTrue(r.contentType().startsWith("application/jsonl"), r.contentType());
        String next = r.header("Openbatch-Cursor");
        assertTrue(next != null && !next.isEmpty(), "every answer carries a cursor");
        String body = r.asString();
        assertTrue(body.isEmpty() || body.endsWith("\n"), "every line ends with a line break");
        int got = 0;
        for (String line : body.split("\n")) {
            if (!line.isEmpty()) {
                lines.add(line);
                got++;
            }
        }
        calls++;
        boolean done = Boolean.parseBoolean(r.header("Openbatch-Complete"));
        if (got > 0 && !done) {
            callsWithLinesBeforeComplete++;
        }
        cursor = next;
        complete = done;
        return new Poll(got, Boolean.parseBoolean(r.header("Openbatch-Has-More")));
    }

    /** Calls until the stream is complete (pausing {@code pause} when nothing more is readable now). */
    public ResultsReader readToEnd(Duration timeout, Duration pause) {
        long end = System.currentTimeMillis() + timeout.toMillis();
        while (!complete) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("the results stream of " + batchId + " was not complete after " + timeout + "; " + lines.size()
                        + " lines so far, cursor " + cursor);
            }
            if (!poll().hasMore() && !complete) {
                sleep(pause.toMillis());
            }
        }
        return this;
    }

    public List<String> lines() {
        return new ArrayList<>(lines);
    }

    public boolean complete() { return complete; }

    public int calls() { return calls; }

    /** Calls that returned lines before the stream was complete: results came while the batch ran. */
    public int callsWithLinesBeforeComplete() { return callsWithLinesBeforeComplete; }

    /** custom_id -> how many lines had it. */
    public Map<String, Integer> counts() {
        Map<String, Integer> out = new HashMap<>();
        for (String l : lines()) {
            out.merge(new JsonObject(l).getString("custom_id"), 1, Integer::sum);
        }
        return out;
    }

    /** The lines of a file's content, one per entry (none for a null file). */
    public static List<String> fileLines(String key, String fileId) {
        List<String> out = new ArrayList<>();
        if (fileId == null) {
            return out;
        }
        for (String line : Api.content(key, fileId).split("\n")) {
            if (!line.isEmpty()) {
                out.add(line);
            }
        }
        return out;
    }

    /** Asserts that these lines are exactly the lines of the two files, byte for byte, each once (in any order). */
    public static void assertSameLines(List<String> got, List<String> outputFile, List<String> errorFile) {
        List<String> files = new ArrayList<>(outputFile);
        files.addAll(errorFile);
        List<String> a = new ArrayList<>(got);
        Collections.sort(a);
        Collections.sort(files);
        assertEquals(files.size(), a.size(), "as many lines as the two files hold");
        for (int i = 0; i < a.size(); i++) {
            assertEquals(files.get(i), a.get(i), "line " + i + " (sorted) differs from the files'");
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
