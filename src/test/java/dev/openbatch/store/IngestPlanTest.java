package dev.openbatch.store;

import static dev.openbatch.testing.Api.KEY_A;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;

/**
 * A batch's rows are made from its file's line index alone, whatever the statistics: a range of
 * the index, never a sequential scan, and no chunk of the file is read (the bodies stay there,
 * stored once).
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class IngestPlanTest {
    @Inject
    Pool pool;

    private String plan(String fileId, boolean generic) {
        return pool.withConnection(c -> c.query("set plan_cache_mode = " + (generic ? "force_generic_plan" : "force_custom_plan")).execute()
                .chain(() -> c.query("prepare ingest_plan(text, text) as " + LineStore.INSERT_FROM_INDEX).execute())
                .chain(() -> c.query("explain (format json) execute ingest_plan('batch-none', '" + fileId + "')").execute())
                .map(rs -> rs.iterator().next().getValue(0).toString())
                .eventually(() -> c.query("deallocate ingest_plan").execute().chain(() -> c.query("reset plan_cache_mode").execute())))
                .await().atMost(Duration.ofSeconds(30));
    }

    @Test
    void theRowsComeFromARangeOfTheIndexAndNoChunkIsRead() {
        StringBuilder file = new StringBuilder();
        String run = UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < 500; i++) {
            file.append(Api.chatLine(run + "-" + i, "fake-model", null)).append('\n');
        }
        String id = Api.upload(KEY_A, file.toString());
        for (boolean analyzed : new boolean[] { false, true }) {
            if (analyzed) {
                pool.query("analyze file_lines").execute().chain(() -> pool.query("analyze file_chunks").execute()).await()
                        .atMost(Duration.ofSeconds(30));
            }
            for (boolean generic : new boolean[] { false, true }) {
                String p = plan(id, generic).replaceAll("\\s", "");
                String which = (generic ? "generic" : "custom") + (analyzed ? ", analyzed" : "") + " plan: " + p;
                assertFalse(p.contains("\"NodeType\":\"SeqScan\""), which);
                assertTrue(p.contains("\"RelationName\":\"file_lines\""), which);
                assertTrue(p.contains("\"IndexName\":\"file_lines_pkey\"") || p.contains("\"IndexName\":\"file_lines_chunk\""), which);
                assertFalse(p.contains("file_chunks"), which);
            }
        }
    }
}
