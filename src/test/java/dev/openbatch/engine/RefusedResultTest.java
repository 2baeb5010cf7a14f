package dev.openbatch.engine;
import dev.openbatch.store.LineStore;
import dev.openbatch.status.LineState;
import dev.openbatch.engine.dispatch.Result;
import dev.openbatch.engine.dispatch.Answers;

import static dev.openbatch.engine.EngineTesting.lines;
import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Configs;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;

/**
 * A result PostgreSQL refuses settles its own line as failed ({@code result_not_storable}) and
 * never holds up the results written with it; a write that fails for another reason is retried.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class RefusedResultTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";

    /**
     * Spoils the results of the lines named {@code spoiled} with a value PostgreSQL refuses (a NUL
     * character, put past the results' factories, which would have replaced it); makes those of the
     * lines named {@code wild} again through the factories, as from an upstream that sends a NUL
     * in its request id and absurd token counts; and fails the first {@code blips} writes as a
     * lost connection would.
     */
    static final class SpoilingLineStore extends LineStore {
        final Set<Integer> spoiled;
        final Set<Integer> wild;
        final AtomicInteger blips;
        final AtomicInteger writes = new AtomicInteger();

        SpoilingLineStore(Pool pool, Set<Integer> spoiled, Set<Integer> wild, int blips) {
            super(pool);
            this.spoiled = spoiled;
            this.wild = wild;
            this.blips = new AtomicInteger(blips);
        }

        @Override
        public Uni<Applied> write(List<? extends Outcome> outcomes, long nowSeconds) {
            writes.incrementAndGet();
            if (blips.getAndDecrement() > 0) {
                return Uni.createFrom().failure(new IllegalStateException("connection reset (a database blip, made by the test)"));
            }
            List<Result> out = new ArrayList<>(outcomes.size());
            for (Outcome o : outcomes) {
                Result r = (Result) o;
                int line = r.claim().line();
                if (r.state() != LineState.SUCCEEDED) {
                    out.add(r);
                } else if (spoiled.contains(line)) {
                    out.add(new Result(r.claim(), r.state(), r.notBefore(), r.statusCode(), "req\0spoiled", r.response(), r.errorCode(),
                            r.errorMessage(), r.usage(), r.refund()));
                } else if (wild.contains(line)) {
                    out.add(Result.succeeded(r.claim(), 200, "req\0wild", r.response(), new Answers.Usage(Long.MAX_VALUE, -5, Long.MAX_VALUE)));
                } else {
                    out.add(r);
                }
            }
            return super.write(out, nowSeconds);
        }
    }

    private Engine engine(String node, LineStore lines) {
        // results gathered into large sets, so that a refused one shares its set with many others
        return start(builder(node).config(Configs.of(config).holdingResults(Duration.ofMillis(300))).lines(lines));
    }

    @Test
    void aRefusedResultFailsItsLineAndTheOthersAreWritten() {
        String r = EngineTest.run();
        int n = 40;
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, n, null)), CHAT, "24h").getString("id");
        SpoilingLineStore store = new SpoilingLineStore(pool, Set.of(7, 23), Set.of(11, 12), 2);
        engine("spoiled", store);
        JsonPath done = awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(30));
        assertEquals(n - 2, done.getInt("request_counts.completed"));
        assertEquals(2, done.getInt("request_counts.failed"));
        // a refused result counts no tokens; absurd counts are capped, so that the batch's sums cannot overflow
        assertEquals((n - 4) * 7L + 2 * Result.MAX_TOKENS, done.getLong("usage.input_tokens"));
        assertEquals((n - 4) * 3L, done.getLong("usage.output_tokens"));
        assertEquals((n - 4) * 10L + 2 * Result.MAX_TOKENS, done.getLong("usage.total_tokens"));
        Map<String, JsonObject> out = EngineTest.file(KEY_A, done.getString("output_file_id"));
        Map<String, JsonObject> errors = EngineTest.file(KEY_A, done.getString("error_file_id"));
        assertEquals(n - 2, out.size());
        assertEquals(Set.of(r + "-7", r + "-23"), errors.keySet());
        JsonObject refused = errors.get(r + "-7");
        assertNull(refused.getValue("response"));
        assertEquals(Result.NOT_STORABLE, refused.getJsonObject("error").getString("code"));
        String message = refused.getJsonObject("error").getString("message");
        assertTrue(message.startsWith("The answer to this request could not be stored") && message.contains("0x00"), message);
        assertTrue(store.writes.get() > 2, "the failed writes were tried again");
        // a NUL from the upstream is replaced, and the result stored
        assertEquals("req\uFFFDwild", out.get(r + "-11").getJsonObject("response").getString("request_id"));
        assertEquals("echo " + r + "-12", out.get(r + "-12").getJsonObject("response").getJsonObject("body").getJsonArray("choices")
                .getJsonObject(0).getJsonObject("message").getString("content"));
    }
}
