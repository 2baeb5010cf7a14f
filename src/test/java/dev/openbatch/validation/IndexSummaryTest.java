package dev.openbatch.validation;

import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.pick;
import static dev.openbatch.testing.Theories.qt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import dev.openbatch.store.FileStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.testing.EngineOffProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * A batch's validation sums a complete line index up in one aggregate ({@link FileStore#indexSummary})
 * and, when it says nothing is wrong, takes that as the verdict without reading the lines: it must
 * say so exactly when judging the lines one by one ({@link Validation#indexed}) finds no error,
 * with the same count and model. Indexes of up to 12 lines drawn from few values (custom_ids,
 * urls and models that repeat, differ by one character or by case, are missing; errors of the
 * line's own, early or late), stored as an upload stores them, and read back as validation reads them.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
class IndexSummaryTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String CHAT = "/v1/chat/completions";

    @Inject
    Pool pool;

    @Inject
    FileStore files;

    @Inject
    Transactions transactions;

    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private final AtomicInteger cases = new AtomicInteger();

    @AfterEach
    void cleanUp() {
        pool.preparedQuery("delete from file_lines where file_id like $1").execute(Tuple.of("file-is-" + run + "-%")).await().atMost(WAIT);
    }

    /** One line of an index: what the upload found in it. */
    record Row(String customId, String url, String model, String error, boolean late) {
    }

    /** An index and the line limit it is judged under. */
    record Case(List<Row> rows, int maxLines) {
    }

    /** Stands for a missing value ({@code pick} takes no null). */
    private static final String NONE = "<none>";

    private static String orNull(String s) {
        return NONE.equals(s) ? null : s;
    }

    /**
     * Lines as an upload indexes them, each with one defect at most, and most with none (so that
     * a file often has exactly one): a custom_id from a handful that repeat or differ by case or
     * composition, a url or model not the others', an error of the line's own, early or late. A
     * line without an error of its own has a custom_id and a model (else parsing gave it one).
     */
    static Gen<Row> rows() {
        Gen<Integer> defect = Generate.range(0, 44);
        Gen<String> ids = pick("a", "A", "é", "e\u0301", "a ", NONE);
        Gen<String> urls = pick("/v1/embeddings", "/v1/chat/completions ", NONE);
        Gen<String> models = pick("M", "m2", "é", NONE);
        Gen<String> errors = pick("invalid_json_line", "invalid_type");
        AtomicInteger next = new AtomicInteger();
        return defect.zip(ids, urls, models, (d, id, url, model) -> {
            String customId = "id-" + next.incrementAndGet();
            String u = CHAT;
            String m = "m";
            String e = null;
            switch (d) {
                case 0, 1, 2, 3, 4, 5 -> customId = orNull(id);
                case 6 -> u = orNull(url);
                case 7 -> m = orNull(model);
                case 8 -> e = "invalid_json_line";
                default -> { }
            }
            if (customId == null || m == null) {
                e = "missing_required_parameter";
            }
            return new Row(customId, u, m, e, false);
        }).zip(errors, Generate.booleans(), (r, code, late) -> r.error() == null ? r
                : new Row(r.customId(), r.url(), r.model(), r.error().equals("invalid_json_line") ? code : r.error(), late));
    }

    @Test
    void theSummarySaysCleanExactlyWhenNoLineHasAnError() {
        Map<String, Integer> reached = new TreeMap<>();
        qt(400).forAll(lists(rows(), 0, 12), Generate.range(1, 14)).checkAssert((rows, maxLines) -> {
            String fileId = "file-is-" + run + "-" + cases.incrementAndGet();
            store(fileId, rows);

            Validation v = new Validation(CHAT, maxLines, 1_000_000, 1_000);
            for (FileStore.IndexedLine l : files.indexed(transactions.autoCommit(), fileId, 0, 1_000).await().atMost(WAIT)) {
                BatchError error = l.errorCode() == null ? null : new BatchError(l.errorCode(), l.errorMessage(), l.errorParam(), l.line());
                v.indexed(l.line(), l.customId(), l.url(), l.model(), error, l.late());
            }
            v.endIndexed();
            boolean valid = v.errors().isEmpty();

            FileStore.IndexSummary s = files.indexSummary(transactions.autoCommit(), fileId, CHAT).await().atMost(WAIT);
            boolean clean = s.clean() && s.lines() <= maxLines;
            reached.merge(valid ? "valid" : "invalid: " + v.errors().get(0).code(), 1, Integer::sum);

            assertEquals(rows.size(), s.lines(), "lines of " + rows);
            assertEquals(valid, clean, "valid by lines " + valid + " (" + v.errors() + "), clean by the summary " + s + ", " + rows
                    + ", limit " + maxLines);
            if (clean) {
                Validation fast = new Validation(CHAT, maxLines, 1_000_000, 1_000);
                fast.indexedClean(s.lines(), s.model());
                assertEquals(v.requests(), fast.requests());
                assertEquals(v.model(), fast.model());
            }
        });
        // the examples reached both verdicts, and each kind of error
        assertTrue(reached.getOrDefault("valid", 0) >= 50, "valid files reached too rarely: " + reached);
        for (String outcome : List.of( "invalid: duplicate_custom_id", "invalid: mismatched_model", "invalid: invalid_url",
                "invalid: missing_required_parameter", "invalid: invalid_json_line", "invalid: too_many_requests", "invalid: empty_file", "invalid: invalid_type")) {
            assertTrue(reached.getOrDefault(outcome, 0) >= 3, outcome + " reached too rarely: " + reached);
        }
    }

    /** The rows stored as an upload stores a file's index ({@link FileStore#append}, index lines only), each body a byte of chunk 0. */
    private void store(String fileId, List<Row> rows) {
        List<FileStore.IndexLine> lines = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            lines.add(new FileStore.IndexLine(i + 1, 0, 0, 0, 1, r.customId(), r.url(), r.model(), r.error(),
                    r.error() == null ? null : "line " + (i + 1) + " is wrong", null, r.late()));
        }
        files.append(fileId, List.of(new FileStore.NewChunk(0, null, lines))).await().atMost(WAIT);
    }
}
