package dev.openbatch.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.vertx.core.http.HttpServer;
import io.vertx.mutiny.core.Vertx;

/**
 * The queue read over HTTP against a real server on a random port: a count when the page has the
 * gauge, an empty reading (never a failure) when the server is slow, refuses, answers an error, or
 * sends a page over the byte cap.
 */
class QueueGaugeTest {
    private static Vertx vertx;
    private static HttpServer server;
    private static int port;
    private static final AtomicReference<String> MODE = new AtomicReference<>("ok");

    @BeforeAll
    static void start() throws Exception {
        vertx = Vertx.vertx();
        server = vertx.getDelegate().createHttpServer().requestHandler(req -> {
            switch (MODE.get()) {
                case "ok" -> req.response().putHeader("content-type", "text/plain; version=0.0.4")
                        .end("# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name=\"m\"} 6.0\n"
                                + "vllm:num_requests_waiting{model_name=\"n\"} 1.0\n"
                                + "vllm:num_requests_running{model_name=\"m\"} 30.0\nvllm:num_requests_running{model_name=\"n\"} 2.0\n");
                case "error" -> req.response().setStatusCode(500).end("boom");
                case "slow" -> { } // never answers
                case "huge" -> req.response().setChunked(true).end("x".repeat(300 * 1024));
                default -> throw new IllegalStateException();
            }
        }).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get();
        port = server.actualPort();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close().toCompletionStage().toCompletableFuture().get();
        vertx.closeAndAwait();
    }

    private static QueueGauge gauge(String url, String model, long timeoutMillis) {
        return new QueueGauge(vertx, url, null, QueueGauge.VLLM_RUNNING, model, Duration.ofMillis(timeoutMillis), QueueGauge.DEFAULT_MAX_BYTES);
    }

    private static OptionalLong read(QueueGauge g) {
        return g.read().await().atMost(Duration.ofSeconds(10)).waiting();
    }

    @Test
    void readsTheWaitingCount() {
        MODE.set("ok");
        QueueGauge g = gauge("http://127.0.0.1:" + port + "/metrics", null, 2_000);
        assertEquals(OptionalLong.of(7), read(g));
        assertNull(g.lastProblem());
        assertEquals(OptionalLong.of(7), read(g), "again, on the same connection");
        QueueGauge m = gauge("http://127.0.0.1:" + port + "/metrics", "m", 2_000);
        assertEquals(OptionalLong.of(6), read(m));
        assertEquals(OptionalLong.of(30), m.read().await().atMost(Duration.ofSeconds(10)).running(), "the running gauge of the same page");
        assertEquals(OptionalLong.of(32), g.read().await().atMost(Duration.ofSeconds(10)).running());
        QueueGauge absent = gauge("http://127.0.0.1:" + port + "/metrics", "other", 2_000);
        assertEquals(OptionalLong.empty(), read(absent));
        assertNotNull(absent.lastProblem());
        g.close();
        m.close();
        absent.close();
    }

    @Test
    void failuresGiveAnEmptyReading() {
        QueueGauge g = gauge("http://127.0.0.1:" + port + "/metrics", null, 300);
        MODE.set("error");
        assertEquals(OptionalLong.empty(), read(g));
        assertTrue(g.lastProblem().contains("500"), g.lastProblem());
        MODE.set("huge");
        assertEquals(OptionalLong.empty(), read(g));
        MODE.set("slow");
        long started = System.nanoTime();
        assertEquals(OptionalLong.empty(), read(g));
        assertTrue(System.nanoTime() - started < 3_000_000_000L, "bounded by the timeout");
        MODE.set("ok");
        assertEquals(OptionalLong.of(7), read(g), "and reads again after");
        g.close();
        QueueGauge refused = gauge("http://127.0.0.1:1/metrics", null, 1_000);
        assertEquals(OptionalLong.empty(), read(refused));
        refused.close();
    }
}
