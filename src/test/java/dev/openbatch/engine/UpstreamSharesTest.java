package dev.openbatch.engine;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.await;
import static dev.openbatch.testing.Api.awaitStatus;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.FakeUpstreamResource.FAKE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Configs;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.UpstreamResponse;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.smallrye.mutiny.Uni;

/**
 * One cap per upstream across processes (issue 19): engines on one database, as replicas, send to
 * one server whose {@code max-concurrency} is 24. The server never has more than 24 of their
 * lines at once; two engines settle on 12 each and three on 8 each, and each sends within 25% of
 * an equal part of the lines; when one is killed, the others take its share once its lease has
 * run out.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
@WithTestResource(FakeUpstreamResource.class)
class UpstreamSharesTest extends EngineTesting {
    private static final String CHAT = "/v1/chat/completions";
    private static final int CAP = 24;
    private static final Duration LEASE = Duration.ofSeconds(4);

    /** The fake server, with a max-concurrency of {@link #CAP}. */
    private record Capped(Upstream upstream) implements Upstream {
        @Override
        public String name() { return upstream.name(); }

        @Override
        public Set<String> models() { return upstream.models(); }

        @Override
        public int maxConcurrency() { return CAP; }

        @Override
        public Uni<UpstreamResponse> send(String path, String body) { return upstream.send(path, body); }
    }

    private Engine replica(String node) {
        EngineBuilder b = builder(node).config(Configs.of(config).withLease(LEASE));
        return start(b.upstreams(b.upstreams().stream().filter(u -> u.name().equals("fake")).<Upstream>map(Capped::new).toList()));
    }

    @Test
    void replicasShareOneCapAndADeadOnesShareReturnsWithinALease() {
        FAKE.reset();
        String r = EngineTest.run();
        String id = createBatch(KEY_A, upload(KEY_A, lines(r, 4000, "{\"latency_ms\":250}")), CHAT, "24h").getString("id");
        Engine a = replica("shares-a");
        Engine b = replica("shares-b");
        await(KEY_A, id, x -> "in_progress".equals(x.getString("status")), Duration.ofSeconds(30));

        // two replicas: 12 each
        awaitShares(List.of(a, b), 12, Duration.ofSeconds(10));
        evenWork(List.of(a, b));

        // a third: 8 each, the first two giving up what it takes
        Engine c = replica("shares-c");
        awaitShares(List.of(a, b, c), 8, Duration.ofSeconds(10));
        evenWork(List.of(a, b, c));
        assertTrue(FAKE.maxInFlight.get() <= CAP, "never more than the cap in flight at the server: " + FAKE.maxInFlight.get());

        // one is killed: once its lease has run out, the other two have its share
        c.halt();
        long killed = System.nanoTime();
        awaitShares(List.of(a, b), 12, LEASE.plusSeconds(5));
        long tookMs = (System.nanoTime() - killed) / 1_000_000;
        // its row lapses at most a lease after its last beat; then a share round (every second, two steps) hands its part out
        assertTrue(tookMs <= LEASE.toMillis() + 3_500, "the dead replica's share returned after " + tookMs + " ms, lease " + LEASE);
        long deadline = System.currentTimeMillis() + 3_000;
        while (a.inFlight("fake") + b.inFlight("fake") < CAP && System.currentTimeMillis() < deadline) {
            sleep(10);
        }
        assertEquals(CAP, a.inFlight("fake") + b.inFlight("fake"), "the two left fill the whole cap");
        assertTrue(FAKE.maxInFlight.get() <= CAP, "never more than the cap in flight at the server: " + FAKE.maxInFlight.get());

        as(KEY_A).post("/v1/batches/" + id + "/cancel").then().statusCode(200);
        awaitStatus(KEY_A, id, "cancelled", Duration.ofSeconds(30));
    }

    /** Waits until every engine's share of the fake's cap is {@code each}. */
    private static void awaitShares(List<Engine> engines, int each, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!engines.stream().allMatch(e -> e.share("fake") == each) && System.nanoTime() < deadline) {
            sleep(20);
        }
        assertTrue(engines.stream().allMatch(e -> e.share("fake") == each),
                "shares " + engines.stream().map(e -> e.node() + "=" + e.share("fake")).collect(Collectors.joining(", ")) + ", expected " + each + " each");
    }

    /** Over two seconds, each engine sends within 25% of an equal part of what they all send. */
    private void evenWork(List<Engine> engines) {
        long[] before = engines.stream().mapToLong(this::sent).toArray();
        sleep(2_000);
        long[] part = new long[engines.size()];
        long all = 0;
        for (int i = 0; i < part.length; i++) {
            part[i] = sent(engines.get(i)) - before[i];
            all += part[i];
        }
        double equal = (double) all / part.length;
        assertTrue(all > 0, "the replicas sent nothing");
        for (int i = 0; i < part.length; i++) {
            assertTrue(Math.abs(part[i] - equal) <= 0.25 * equal,
                    engines.get(i).node() + " sent " + part[i] + " lines of " + all + " (equal part " + equal + ")");
        }
    }
}
