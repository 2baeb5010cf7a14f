package dev.openbatch.engine;
import dev.openbatch.engine.config.EngineConfig;

import static dev.openbatch.testing.Api.chatLine;

import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;

import dev.openbatch.api.Time;
import dev.openbatch.engine.housekeeping.LeaseSweep;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.testing.TestClock;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.UpstreamResponse;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * What the tests that start engines by hand (as separate processes would be) share. An engine is
 * built the way {@link EngineService} builds this process's, through an {@link EngineBuilder},
 * with a part of the test's own in place of one where the test says so; every engine started
 * here is halted after the test, and the clock put back. What a test observes of an engine it
 * reads from outside: the lines its upstreams were sent, its lines in flight; and it may tick it,
 * or run a sweep of lapsed heartbeats in its name, instead of waiting for its timers. Input lines
 * and waiting are static helpers.
 */
abstract class EngineTesting {
    @Inject
    EngineService engines;
    @Inject
    EngineConfig config;
    @Inject
    TestClock clock;
    @Inject
    Pool pool;
    @Inject
    Time time;
    @Inject
    EngineMetrics metrics;

    /** Engines started by this test and not stopped by it: halted after it. */
    final List<Engine> started = new ArrayList<>();
    private final Map<Engine, AtomicLong> sent = new IdentityHashMap<>();

    /**
     * Halts the engines, and removes their heartbeat rows (and with them their shares of the
     * upstreams' caps): a halted engine of this test must not count as a live process in the next
     * one, whose engines would otherwise get a smaller share for up to a lease.
     */
    @AfterEach
    void haltEngines() {
        started.forEach(Engine::halt);
        if (!started.isEmpty()) {
            sleep(50); // the halts run on the engines' contexts: no heartbeat starts a new life once they have
            pool.preparedQuery("delete from engine_nodes where node = any($1)")
                    .execute(Tuple.of(started.stream().map(Engine::node).toArray(String[]::new)))
                    .await().atMost(Duration.ofSeconds(10));
        }
        started.clear();
        sent.clear();
        clock.reset();
    }

    /** An engine named {@code node} with every part as this process's engine has it, to change before {@link #start}. */
    EngineBuilder builder(String node) {
        return engines.builder(node);
    }

    /** Builds the engine and starts it; its upstreams count what they are sent ({@link #sent}). */
    Engine start(EngineBuilder builder) {
        AtomicLong count = new AtomicLong();
        Engine e = builder.upstreams(builder.upstreams().stream().<Upstream>map(u -> new Counting(u, count)).toList()).build();
        sent.put(e, count);
        started.add(e);
        e.start();
        return e;
    }

    /** Starts an engine named {@code node} as this process's. */
    Engine engine(String node) {
        return start(builder(node));
    }

    /** Starts an engine named {@code node} with these settings. */
    Engine engine(String node, EngineConfig c) {
        return start(builder(node).config(c));
    }

    /** Lines the engine has sent upstream so far (every attempt counts). */
    long sent(Engine e) {
        return sent.get(e).get();
    }

    /** One tick of the engine now, instead of waiting for its timer; returns once its steps are started. */
    static void tick(Engine e) {
        e.tick().await().atMost(Duration.ofSeconds(5));
    }

    /** Runs the sweep of lapsed heartbeats as the engine's own would; how many lines went back to the queue. */
    int sweep(Engine e) {
        LeaseSweep sweep = new LeaseSweep(e.node(), time, engines.builder(e.node()).nodeStore(), metrics, config.lease().toMillis(),
                config.tick().toMillis());
        return sweep.run().await().atMost(Duration.ofSeconds(5));
    }

    /** An upstream that counts the lines sent through it. */
    private record Counting(Upstream upstream, AtomicLong count) implements Upstream {
        @Override
        public String name() { return upstream.name(); }

        @Override
        public Set<String> models() { return upstream.models(); }

        @Override
        public int maxConcurrency() { return upstream.maxConcurrency(); }

        @Override
        public FlowControl flowControl() { return upstream.flowControl(); }

        @Override
        public boolean overflow() { return upstream.overflow(); }

        @Override
        public boolean checksHealth() { return upstream.checksHealth(); }

        @Override
        public Uni<Boolean> probe() { return upstream.probe(); }

        @Override
        public boolean shared() { return upstream.shared(); }

        @Override
        public Uni<UpstreamResponse> send(String path, String body) {
            count.incrementAndGet();
            return upstream.send(path, body);
        }
    }

    /** n chat lines {@code r-1 … r-n} for the fake model, with the fake's knobs ({@code null} for none). */
    static String lines(String r, int n, String fake) {
        return IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, "fake-model", fake)).collect(Collectors.joining("\n"));
    }

    /** Waits (10 s at most) until the engine has at least {@code n} lines in flight; returns how many it has. */
    static int awaitInFlight(Engine e, int n) {
        long deadline = System.currentTimeMillis() + 10_000;
        while (e.inFlight() < n && System.currentTimeMillis() < deadline) {
            sleep(10);
        }
        return e.inFlight();
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
