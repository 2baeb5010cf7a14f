package dev.openbatch.upstream;

import dev.openbatch.testing.TestServer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.vertx.core.http.HttpServer;
import io.vertx.mutiny.core.Vertx;

/**
 * What a probe of a drained upstream reads as up: with a {@code health-url}, a 2xx there; without
 * one, any HTTP answer to {@code GET <url>}; a refused connection never.
 */
class UpstreamProbeTest {
    private static Vertx vertx;
    private static HttpServer server;
    private static int port;

    @BeforeAll
    static void start() throws Exception {
        vertx = Vertx.vertx();
        server = vertx.getDelegate().createHttpServer().requestHandler(req -> {
            switch (req.path()) {
                case "/healthy" -> req.response().end("ok");
                case "/sick" -> req.response().setStatusCode(503).end("loading");
                default -> req.response().setStatusCode(404).end("no such page");
            }
        }).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get();
        port = server.actualPort();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close().toCompletionStage().toCompletableFuture().get();
        vertx.closeAndAwait();
    }

    private static boolean probe(String url, String healthUrl) {
        HttpUpstream u = new HttpUpstream(vertx, "probed", TestServer.of(url).healthUrl(healthUrl), Duration.ofSeconds(5), 1024);
        try {
            return u.probe().await().atMost(Duration.ofSeconds(10));
        } finally {
            u.close();
        }
    }

    @Test
    void withoutAHealthUrlAnyAnswerMeansUp() {
        assertTrue(probe("http://127.0.0.1:" + port, null), "a 404 comes from a live server");
        assertFalse(probe("http://127.0.0.1:1", null), "a refused connection");
    }

    @Test
    void withAHealthUrlOnly2xxMeansUp() {
        String root = "http://127.0.0.1:" + port;
        assertTrue(probe(root, root + "/healthy"));
        assertFalse(probe(root, root + "/sick"), "a 503 while the model loads");
        assertFalse(probe(root, root + "/elsewhere"), "a 404");
        assertFalse(probe(root, "http://127.0.0.1:1/health"), "a refused connection");
    }
}
