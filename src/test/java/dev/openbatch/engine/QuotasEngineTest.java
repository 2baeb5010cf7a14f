package dev.openbatch.engine;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.quotas.Quota;
import dev.openbatch.quotas.QuotaExceeded;
import dev.openbatch.quotas.QuotaLockRepository;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.quotas.QuotasConfig;
import dev.openbatch.status.BatchStatus;
import dev.openbatch.store.QuotaStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;
import dev.openbatch.testing.Api;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * The enqueued quotas, judged at validation: batches created through the API on two threads and
 * validated by two engines (as two processes would) at once stop exactly at the limit, the ones over
 * it failed with {@code token_limit_exceeded} as OpenAI's batch queue limit fails them; the first
 * two validations are made to hold their count until the other has counted ({@link Meeting}). The engines send nothing
 * (no upstream), so the lines stay enqueued.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class QuotasEngineTest extends EngineTesting {
    private static final String PROJECT = "project-a";
    private static final String MODEL = "fake-model";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    Quotas quotas;
    @Inject
    Transactions transactions;
    @Inject
    QuotasConfig quotasConfig;
    @Inject
    QuotaLockRepository locks;

    private final List<String> made = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void cleanUp() {
        Map<String, Long> none = new HashMap<>();
        none.put(Quota.ENQUEUED_LINES.wire(), null);
        none.put(Quota.ENQUEUED_INPUT_TOKENS.wire(), null);
        quotas.override(PROJECT, none).await().atMost(WAIT);
        pool.preparedQuery("update batches set status = $2 where id = any($1)")
                .execute(Tuple.of(made.toArray(String[]::new), BatchStatus.FAILED.wire())).await().atMost(WAIT);
        made.clear();
    }

    /**
     * The quotas' store of both engines, where the first two validations, once armed, wait for each
     * other (3 s at most) between counting the project's enqueued lines and committing: without the
     * project's quota lock both would count without the other and both pass. With it the second
     * cannot count before the first commits, so the first waits alone, and the second counts it.
     */
    static final class Meeting extends QuotaStore {
        volatile boolean armed;
        final AtomicInteger arrived = new AtomicInteger();
        private final CompletableFuture<Void> both = new CompletableFuture<>();

        Meeting(Pool pool) {
            super(pool);
        }

        @Override
        public Uni<Enqueued> enqueuedBesides(Tx tx, String project, String model, String except) {
            return super.enqueuedBesides(tx, project, model, except).call(e -> {
                if (!armed || arrived.get() >= 2) {
                    return Uni.createFrom().voidItem();
                }
                if (arrived.incrementAndGet() >= 2) {
                    both.complete(null);
                }
                return Uni.createFrom().completionStage(both).ifNoItem().after(Duration.ofSeconds(3)).recoverWithItem((Void) null);
            });
        }
    }

    private Meeting meeting;

    /** Two engines that validate and send nothing; once they have validated whatever earlier tests left validating. */
    private void twoEngines() {
        meeting = new Meeting(pool);
        Quotas counting = new Quotas(meeting, transactions, quotasConfig, locks, time);
        start(builder("quota-engine-1").upstreams(List.of()).quotas(counting));
        start(builder("quota-engine-2").upstreams(List.of()).quotas(counting));
        long end = System.currentTimeMillis() + WAIT.toMillis();
        while (validating() > 0) {
            assertTrue(System.currentTimeMillis() < end, "earlier batches still validating");
            sleep(50);
        }
    }

    private long validating() {
        return pool.preparedQuery("select count(*) from batches where status = $1").execute(Tuple.of(BatchStatus.VALIDATING.wire()))
                .await().atMost(WAIT).iterator().next().getLong(0);
    }

    /** The project's enqueued {@code quota} of the model. */
    private long enqueued(Quota q) {
        return quotas.headroom(PROJECT).await().atMost(WAIT).stream()
                .filter(h -> h.quota().equals(q.wire()) && MODEL.equals(h.model())).mapToLong(h -> h.used().longValue()).sum();
    }

    private String create(String file) {
        String id = Api.createBatch(KEY_A, file, "/v1/chat/completions", "24h").getString("id");
        made.add(id);
        return id;
    }

    private static JsonPath validated(String id) {
        return Api.await(KEY_A, id, b -> !BatchStatus.VALIDATING.wire().equals(b.getString("status")), WAIT);
    }

    @Test
    void enqueuedLinesStopAtTheLimitWithCreatesOnTwoThreadsAndTwoEnginesValidating() throws Exception {
        twoEngines();
        String file = upload(KEY_A, lines("q", 4, null));
        long before = enqueued(Quota.ENQUEUED_LINES);
        quotas.override(PROJECT, Map.of(Quota.ENQUEUED_LINES.wire(), before + 6)).await().atMost(WAIT);
        meeting.armed = true;

        ExecutorService threads = Executors.newFixedThreadPool(2);
        List<String> ids = new ArrayList<>();
        try {
            List<Future<List<String>>> creators = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                creators.add(threads.submit(() -> List.of(create(file), create(file), create(file))));
            }
            for (Future<List<String>> f : creators) {
                ids.addAll(f.get());
            }
        } finally {
            threads.shutdownNow();
        }

        int started = 0;
        int refused = 0;
        for (String id : ids) {
            JsonPath b = validated(id);
            if (BatchStatus.IN_PROGRESS.wire().equals(b.getString("status"))) {
                started++;
            } else {
                assertEquals(BatchStatus.FAILED.wire(), b.getString("status"), b.prettify());
                assertEquals(QuotaExceeded.BATCH_ERROR, b.getString("errors.data[0].code"));
                String message = b.getString("errors.data[0].message");
                assertTrue(message.contains("model fake-model in project project-a") && message.contains("its quota is " + (before + 6))
                        && message.contains("(quota: enqueued_lines)"), message);
                refused++;
            }
        }
        assertTrue(meeting.arrived.get() >= 1, "the validations counted through the meeting");
        assertEquals(1, started, "one batch of 4 lines fits in 6, though two validations were counting at once");
        assertEquals(5, refused);
        assertEquals(before + 4, enqueued(Quota.ENQUEUED_LINES));
    }

    @Test
    void enqueuedInputTokensAreTheRequestBytesOverFourAndStopAtTheLimit() {
        twoEngines();
        String file = upload(KEY_A, lines("t", 5, null));
        long before = enqueued(Quota.ENQUEUED_INPUT_TOKENS);
        String first = create(file);
        assertEquals(BatchStatus.IN_PROGRESS.wire(), validated(first).getString("status"));
        long tokens = enqueued(Quota.ENQUEUED_INPUT_TOKENS) - before;
        long bodyBytes = pool.preparedQuery("select sum(coalesce(octet_length(body), body_length)) from requests where batch_id = $1").execute(Tuple.of(first))
                .await().atMost(WAIT).iterator().next().getLong(0);
        assertEquals((bodyBytes + 3) / 4, tokens, "the estimate: the bytes of the request bodies / 4");

        quotas.override(PROJECT, Map.of(Quota.ENQUEUED_INPUT_TOKENS.wire(), before + 2 * tokens - 1)).await().atMost(WAIT);
        JsonPath over = validated(create(file));
        assertEquals(BatchStatus.FAILED.wire(), over.getString("status"));
        assertEquals(QuotaExceeded.BATCH_ERROR, over.getString("errors.data[0].code"));
        assertTrue(over.getString("errors.data[0].message").contains("(quota: enqueued_input_tokens)"), over.getString("errors.data[0].message"));

        quotas.override(PROJECT, Map.of(Quota.ENQUEUED_INPUT_TOKENS.wire(), before + 2 * tokens)).await().atMost(WAIT);
        assertEquals(BatchStatus.IN_PROGRESS.wire(), validated(create(file)).getString("status"));
        assertEquals(before + 2 * tokens, enqueued(Quota.ENQUEUED_INPUT_TOKENS));
        JsonPath h = as(KEY_A).get("/v1/organization/projects/project-a/quotas").then().statusCode(200).extract().jsonPath();
        List<Map<String, Object>> rows = h.getList("data");
        assertTrue(rows.stream().anyMatch(r -> "enqueued_input_tokens".equals(r.get("quota")) && MODEL.equals(r.get("model"))
                && ((Number) r.get("remaining")).longValue() == 0), rows.toString());
    }
}
