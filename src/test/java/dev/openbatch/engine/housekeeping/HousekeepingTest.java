package dev.openbatch.engine.housekeeping;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.engine.metrics.EngineMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;

/** Housekeeping runs each job on its own period: a failing job is logged and counted, and never stops the others. */
class HousekeepingTest {
    private final Vertx vertx = Vertx.vertx();
    private final MeterRegistry registry = new SimpleMeterRegistry();

    @AfterEach
    void close() {
        vertx.closeAndAwait();
    }

    private static Job job(String name, Supplier<Uni<?>> run) {
        return new Job() {
            @Override
            public String name() { return name; }

            @Override
            public long periodMillis() { return 20; }

            @Override
            public Uni<?> run() { return run.get(); }
        };
    }

    private double failures(String job) {
        return registry.get("openbatch_housekeeping_failures").tag("job", job).counter().count();
    }

    @Test
    void aFailingJobIsCountedAndTheOthersGoOn() throws Exception {
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger hung = new AtomicInteger();
        Housekeeping h = new Housekeeping(vertx.getOrCreateContext(), new EngineMetrics(registry), List.of(
                job("failing", () -> Uni.createFrom().failure(new IllegalStateException("made by the test"))),
                job("throwing", () -> {
                    throw new IllegalStateException("made by the test");
                }),
                job("hung", () -> {
                    hung.incrementAndGet();
                    return Uni.createFrom().nothing();
                }),
                job("ok", () -> Uni.createFrom().item(ok.incrementAndGet()))));
        assertEquals(0, failures("ok"), "every job's counter is exported from the start");
        h.start();
        Thread.sleep(400);
        h.stop();
        Thread.sleep(50);
        int runs = ok.get();
        assertTrue(runs >= 5, "the healthy job kept running: " + runs);
        assertTrue(failures("failing") >= 5 && failures("throwing") >= 5, "each failure is counted under its own job");
        assertEquals(0, failures("ok"));
        assertEquals(1, hung.get(), "a job never overlaps itself");
        Thread.sleep(100);
        assertEquals(runs, ok.get(), "no run after stop");
    }
}
