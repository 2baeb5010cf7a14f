package dev.openbatch.validation;

import static dev.openbatch.testing.Api.KEY_A;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * A batch whose input file's line index ends before its verdict (it should not: an index that
 * stops early says so only once the verdict is sealed) is judged by reading the file instead, in
 * the same validation: the same verdict, the same lines and bodies as from a whole index.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class IndexFallbackTest {
    private static final String CHAT = "/v1/chat/completions";

    @Inject
    Pool pool;

    /** Uploads the file (indexed on the way in), then cuts its index after line 2 and marks it stopped. */
    private String uploadWithAShortIndex(String text) {
        String id = Api.upload(KEY_A, text);
        pool.preparedQuery("delete from file_lines where file_id = $1 and line > 2").execute(Tuple.of(id)).await().atMost(Duration.ofSeconds(10));
        int changed = pool.preparedQuery("update files set line_index = replace(line_index, ' complete', ' stopped') where id = $1"
                + " and line_index like '% complete'").execute(Tuple.of(id)).await().atMost(Duration.ofSeconds(10)).rowCount();
        assertEquals(1, changed, "the file was indexed whole at upload");
        return id;
    }

    private static JsonPath validated(String batch) {
        return Api.await(KEY_A, batch, p -> !"validating".equals(p.getString("status")), Duration.ofSeconds(60));
    }

    @Test
    void aValidFileGetsAllItsLinesWithTheirBodies() {
        String r = UUID.randomUUID().toString().substring(0, 8);
        StringBuilder text = new StringBuilder();
        for (int i = 1; i <= 5; i++) {
            text.append(Api.chatLine(r + "-" + i, "fake-model", null)).append("\n");
        }
        String batch = Api.createBatch(KEY_A, uploadWithAShortIndex(text.toString()), CHAT, null).getString("id");
        JsonPath b = validated(batch);
        assertEquals(5, b.getInt("request_counts.total"), b.prettify());
        List<String> ids = pool.preparedQuery("select custom_id from requests where batch_id = $1 order by line").execute(Tuple.of(batch))
                .await().atMost(Duration.ofSeconds(10)).stream().map(row -> row.getString(0)).toList();
        assertEquals(List.of(r + "-1", r + "-2", r + "-3", r + "-4", r + "-5"), ids);
        String line5 = Api.chatLine(r + "-5", "fake-model", null);
        assertEquals(line5.substring(line5.indexOf("\"body\":") + 7, line5.length() - 1),
                pool.preparedQuery("select body from requests where batch_id = $1 and line = 5").execute(Tuple.of(batch))
                        .await().atMost(Duration.ofSeconds(10)).iterator().next().getString(0));
    }

    @Test
    void aBadLineAfterTheIndexsEndStillFailsTheBatch() {
        String r = UUID.randomUUID().toString().substring(0, 8);
        String text = Api.chatLine(r + "-1", "fake-model", null) + "\n" + Api.chatLine(r + "-2", "fake-model", null) + "\n"
                + Api.chatLine(r + "-3", "fake-model", null) + "\n{oops\n";
        String batch = Api.createBatch(KEY_A, uploadWithAShortIndex(text), CHAT, null).getString("id");
        JsonPath b = validated(batch);
        assertEquals("failed", b.getString("status"));
        assertEquals(List.of(4), b.getList("errors.data.line"));
        assertEquals(List.of("invalid_json_line"), b.getList("errors.data.code"));
    }
}
