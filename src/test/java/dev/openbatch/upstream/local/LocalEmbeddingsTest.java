package dev.openbatch.upstream.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.openbatch.upstream.UpstreamResponse;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;

/** The built-in model, driven directly as the engine drives it (no Quarkus, no database). */
class LocalEmbeddingsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(120);

    record Config(boolean enabled, int maxConcurrency, int threads, int groupSize) implements LocalConfig {
    }

    /** The real model, counting its calls and the texts of each. */
    static final class Counting implements Encoder {
        final Encoder real;
        final List<Integer> calls = new CopyOnWriteArrayList<>();

        Counting(Encoder real) {
            this.real = real;
        }

        @Override
        public List<float[]> embedAll(List<String> texts) {
            calls.add(texts.size());
            return real.embedAll(texts);
        }

        @Override
        public int countTokens(String text) {
            return real.countTokens(text);
        }
    }

    static MiniLm model;
    static LocalEmbeddings local;

    @BeforeAll
    static void load() {
        model = MiniLm.load();
        local = new LocalEmbeddings(new Config(true, 256, 2, 64), () -> model);
    }

    @AfterAll
    static void close() {
        local.close();
    }

    static UpstreamResponse send(LocalEmbeddings l, String path, String body) {
        return l.send(path, body).await().atMost(WAIT);
    }

    static UpstreamResponse send(String body) {
        return send(local, "/v1/embeddings", body);
    }

    static String body(Object input, String... more) {
        ObjectNode b = JSON.createObjectNode();
        b.put("model", "all-minilm-l6-v2");
        b.set("input", JSON.valueToTree(input));
        for (int i = 0; i < more.length; i += 2) {
            b.set(more[i], JSON.valueToTree(parse(more[i + 1])));
        }
        return b.toString();
    }

    static JsonNode parse(String s) {
        try {
            return JSON.readTree(s);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static float[] floats(JsonNode embedding) {
        float[] v = new float[embedding.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) embedding.get(i).doubleValue();
        }
        return v;
    }

    static void assertClose(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-5, "component " + i);
        }
    }

    @Test
    void stringInputGetsTheOpenAiShape() {
        UpstreamResponse r = send(body("The quick brown fox jumps over the lazy dog."));
        assertEquals(200, r.status(), r.body());
        JsonNode b = parse(r.body());
        assertEquals("list", b.get("object").asText());
        assertEquals("all-minilm-l6-v2", b.get("model").asText());
        assertEquals(1, b.get("data").size());
        JsonNode d = b.get("data").get(0);
        assertEquals("embedding", d.get("object").asText());
        assertEquals(0, d.get("index").asInt());
        assertEquals(384, d.get("embedding").size());
        double norm = 0;
        for (JsonNode x : d.get("embedding")) {
            assertTrue(x.isNumber());
            norm += x.doubleValue() * x.doubleValue();
        }
        assertEquals(1.0, norm, 1e-3, "the model's vectors are normalized");
        int tokens = b.get("usage").get("prompt_tokens").asInt();
        assertTrue(tokens > 0);
        assertEquals(tokens, b.get("usage").get("total_tokens").asInt());
    }

    @Test
    void usageCountsTokensAsTheModelDoes() {
        String text = "Embeddings turn text into vectors; similar sentences land close together.";
        UpstreamResponse r = send(body(text));
        var stock = new AllMiniLmL6V2EmbeddingModel(Runnable::run).embed(text);
        assertEquals(stock.tokenUsage().inputTokenCount(), parse(r.body()).get("usage").get("prompt_tokens").asInt());
        // and our session (one thread per inference) computes the same vector as langchain4j's stock one
        assertClose(stock.content().vector(), floats(parse(r.body()).get("data").get(0).get("embedding")));
        assertEquals(2, parse(send(body("hello world")).body()).get("usage").get("prompt_tokens").asInt());
        // longer than one model window (510 tokens): still one count for the whole text
        String longText = "word ".repeat(700);
        int longReported = new AllMiniLmL6V2EmbeddingModel(Runnable::run).embed(longText).tokenUsage().inputTokenCount();
        assertEquals(longReported, parse(send(body(longText)).body()).get("usage").get("prompt_tokens").asInt());
    }

    @Test
    void arrayInputKeepsOrderAndMatchesSingleTexts() {
        List<String> texts = List.of("first: a cat sat on the mat", "second: stock markets fell sharply", "third: bake the bread at 220 degrees");
        UpstreamResponse r = send(body(texts));
        assertEquals(200, r.status(), r.body());
        JsonNode b = parse(r.body());
        assertEquals(3, b.get("data").size());
        int sum = 0;
        for (int i = 0; i < texts.size(); i++) {
            JsonNode d = b.get("data").get(i);
            assertEquals(i, d.get("index").asInt());
            assertEquals(384, d.get("embedding").size());
            JsonNode alone = parse(send(body(texts.get(i))).body());
            assertClose(floats(alone.get("data").get(0).get("embedding")), floats(d.get("embedding")));
            sum += alone.get("usage").get("prompt_tokens").asInt();
        }
        assertEquals(sum, b.get("usage").get("prompt_tokens").asInt());
        assertFalse(b.get("data").get(0).get("embedding").equals(b.get("data").get(1).get("embedding")));
    }

    @Test
    void base64IsLittleEndianFloat32OfTheSameVector() {
        String text = "Base64 embeddings are a quarter of the size on the wire.";
        JsonNode f = parse(send(body(text, "encoding_format", "\"float\"")).body());
        UpstreamResponse r = send(body(List.of(text), "encoding_format", "\"base64\"", "dimensions", "384"));
        assertEquals(200, r.status(), r.body());
        JsonNode d = parse(r.body()).get("data").get(0);
        assertTrue(d.get("embedding").isTextual());
        byte[] bytes = Base64.getDecoder().decode(d.get("embedding").asText());
        assertEquals(384 * 4, bytes.length);
        float[] decoded = new float[384];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(decoded);
        assertClose(floats(f.get("data").get(0).get("embedding")), decoded);
    }

    @Test
    void badBodiesGet400WithTheEnvelope() {
        String tooMany = body(IntStream.range(0, 2049).mapToObj(i -> "t" + i).toList());
        String[][] cases = {
                // body, param
                { "not json", null },
                { "[1,2]", null },
                { "{\"input\":\"hi\"}", "model" },
                { "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}", "model" },
                { "{\"model\":7,\"input\":\"hi\"}", "model" },
                { "{\"model\":\"all-minilm-l6-v2\"}", "input" },
                { body(42), "input" },
                { body(List.of(1, 2, 3)), "input" },
                { body(List.of(List.of(1, 2))), "input" },
                { body(List.of("ok", 5)), "input" },
                { body(""), "input" },
                { body("   \n"), "input" },
                { body(List.of()), "input" },
                { body(List.of("ok", "")), "input" },
                { body(java.util.Map.of("text", "hi")), "input" },
                { tooMany, "input" },
                { body("hi", "encoding_format", "\"hex\""), "encoding_format" },
                { body("hi", "encoding_format", "1"), "encoding_format" },
                { body("hi", "dimensions", "128"), "dimensions" },
                { body("hi", "dimensions", "\"384\""), "dimensions" },
                { body("hi", "dimensions", "384.5"), "dimensions" },
        };
        for (String[] c : cases) {
            UpstreamResponse r = send(c[0]);
            String what = c[0].length() > 80 ? c[0].substring(0, 80) : c[0];
            assertEquals(400, r.status(), what + " -> " + r.body());
            JsonNode e = parse(r.body()).get("error");
            assertEquals("invalid_request_error", e.get("type").asText(), what);
            assertTrue(e.has("message") && e.has("param") && e.has("code"), what);
            assertFalse(e.get("message").asText().isBlank(), what);
            assertFalse(e.get("message").asText().contains("Exception"), what);
            if (c[1] == null) {
                assertTrue(e.get("param").isNull(), what);
            } else {
                assertEquals(c[1], e.get("param").asText(), what);
            }
        }
    }

    @Test
    void aBadLineDoesNotSpoilItsGroup() throws Exception {
        // a text with no tokens at all (only a zero-width space) cannot be embedded; the others still are
        List<Uni<UpstreamResponse>> all = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            all.add(local.send("/v1/embeddings", body(i == 5 ? "\u200b" : "line number " + i)));
        }
        List<UpstreamResponse> rs = Uni.join().all(all).andFailFast().await().atMost(WAIT);
        for (int i = 0; i < 10; i++) {
            assertEquals(i == 5 ? 400 : 200, rs.get(i).status(), i + ": " + rs.get(i).body());
        }
    }

    @Test
    void otherPathsGet404() {
        UpstreamResponse r = send(local, "/v1/chat/completions", "{\"model\":\"all-minilm-l6-v2\",\"messages\":[]}");
        assertEquals(404, r.status());
        JsonNode e = parse(r.body()).get("error");
        assertEquals("invalid_request_error", e.get("type").asText());
        assertTrue(e.get("message").asText().contains("/v1/embeddings"));
    }

    @Test
    void concurrentLinesAreGroupedOffTheCallerThread() {
        AtomicInteger loads = new AtomicInteger();
        Counting counting = new Counting(model);
        LocalEmbeddings l = new LocalEmbeddings(new Config(true, 256, 2, 64), () -> {
            loads.incrementAndGet();
            return counting;
        });
        try {
            assertEquals(0, loads.get(), "nothing loads before the first line");
            Set<String> threads = ConcurrentHashMap.newKeySet();
            List<Uni<UpstreamResponse>> all = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                String input = i % 5 == 0 ? "[\"line " + i + " part a\",\"line " + i + " part b\"]" : "\"line " + i + "\"";
                all.add(l.send("/v1/embeddings", "{\"model\":\"all-minilm-l6-v2\",\"input\":" + input + "}")
                        .invoke(() -> threads.add(Thread.currentThread().getName())));
            }
            List<UpstreamResponse> rs = Uni.join().all(all).andFailFast().await().atMost(WAIT);
            for (int i = 0; i < 50; i++) {
                assertEquals(200, rs.get(i).status(), rs.get(i).body());
                assertEquals(i % 5 == 0 ? 2 : 1, parse(rs.get(i).body()).get("data").size());
            }
            assertEquals(1, loads.get(), "the model loads once");
            assertEquals(60, counting.calls.stream().mapToInt(Integer::intValue).sum(), "every text embedded once");
            assertTrue(counting.calls.size() < 50, "50 lines took " + counting.calls.size() + " model calls: " + counting.calls);
            assertTrue(counting.calls.stream().allMatch(n -> n <= 64), "no group above group-size: " + counting.calls);
            assertTrue(threads.stream().allMatch(t -> t.startsWith("openbatch-local-")), "completed on " + threads);
            assertNotEquals(Thread.currentThread().getName(), threads.iterator().next());
        } finally {
            l.close();
        }
    }

    /**
     * A stop signal waits for a model load (or call) already in native code before the JVM's
     * shutdown may free the runtime under it (it crashed the process with SIGBUS), and no call
     * starts after it: lines get a retryable 503 instead, which the engine gives back.
     */
    @Test
    void aStopWaitsForTheModelCallInNativeCodeAndStartsNoOther() throws Exception {
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch finishLoad = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        Counting counting = new Counting(model);
        NativeGate gate = new NativeGate();
        LocalEmbeddings l = new LocalEmbeddings(new Config(true, 8, 1, 4), () -> {
            loading.countDown();
            try {
                finishLoad.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return new Encoder() {
                @Override
                public List<float[]> embedAll(List<String> texts) {
                    calls.incrementAndGet();
                    return counting.embedAll(texts);
                }

                @Override
                public int countTokens(String text) {
                    return counting.countTokens(text);
                }
            };
        }, gate);
        try {
            java.util.concurrent.CompletableFuture<UpstreamResponse> first = l.send("/v1/embeddings", body("first"))
                    .subscribeAsCompletionStage();
            assertTrue(loading.await(10, java.util.concurrent.TimeUnit.SECONDS), "the load began");
            // the stop cannot pass a load in native code...
            assertFalse(gate.stop(java.time.Duration.ofMillis(300)), "a stop does not pass a running load");
            java.util.concurrent.CompletableFuture<Boolean> stopped = java.util.concurrent.CompletableFuture
                    .supplyAsync(() -> gate.stop(java.time.Duration.ofSeconds(10)));
            Thread.sleep(200);
            assertFalse(stopped.isDone(), "the stop waits for the load");
            finishLoad.countDown();
            assertTrue(stopped.get(10, java.util.concurrent.TimeUnit.SECONDS), "...and goes on once it has ended");
            assertEquals(200, first.get(10, java.util.concurrent.TimeUnit.SECONDS).status(), "the line in native code completes");
            // nothing enters native code afterwards
            int before = calls.get();
            UpstreamResponse later = l.send("/v1/embeddings", body("later")).await().atMost(WAIT);
            assertEquals(503, later.status(), later.body());
            assertEquals("server_error", parse(later.body()).get("error").get("type").asText());
            assertEquals(before, calls.get(), "no model call after the stop");
        } finally {
            finishLoad.countDown();
            l.close();
        }
    }

    @Test
    void cancelledLinesAreNotEmbedded() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> seen = new CopyOnWriteArrayList<>();
        Encoder gated = new Encoder() {
            @Override
            public List<float[]> embedAll(List<String> texts) {
                seen.addAll(texts);
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return model.embedAll(texts);
            }

            @Override
            public int countTokens(String text) {
                return model.countTokens(text);
            }
        };
        LocalEmbeddings l = new LocalEmbeddings(new Config(true, 8, 1, 1), () -> gated);
        try {
            Map<String, UpstreamResponse> answers = new ConcurrentHashMap<>();
            Map<String, Cancellable> running = new HashMap<>();
            for (String t : List.of("a", "b", "c", "d", "e")) {
                running.put(t, l.send("/v1/embeddings", body("text " + t)).subscribe().with(r -> answers.put(t, r)));
                if (t.equals("a")) {
                    assertTrue(entered.await(60, TimeUnit.SECONDS), "the first line reaches the model");
                }
            }
            running.get("c").cancel(); // as the engine does when a batch is cancelled or expires
            running.get("e").cancel();
            release.countDown();
            long until = System.nanoTime() + WAIT.toNanos();
            while (answers.size() < 3 && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            assertEquals(Set.of("a", "b", "d"), answers.keySet());
            answers.values().forEach(r -> assertEquals(200, r.status(), r.body()));
            assertEquals(List.of("text a", "text b", "text d"), seen);
        } finally {
            release.countDown();
            l.close();
        }
    }

    @Test
    void aFailingModelAnswers500() {
        Encoder broken = new Encoder() {
            @Override
            public List<float[]> embedAll(List<String> texts) {
                throw new IllegalStateException("onnx went away");
            }

            @Override
            public int countTokens(String text) {
                return model.countTokens(text);
            }
        };
        LocalEmbeddings l = new LocalEmbeddings(new Config(true, 8, 1, 4), () -> broken);
        LocalEmbeddings unloadable = new LocalEmbeddings(new Config(true, 8, 1, 4), () -> {
            throw new IllegalStateException("no model file");
        });
        try {
            for (LocalEmbeddings x : List.of(l, unloadable)) {
                List<Uni<UpstreamResponse>> all = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    all.add(x.send("/v1/embeddings", body("text " + i)));
                }
                for (UpstreamResponse r : Uni.join().all(all).andFailFast().await().atMost(WAIT)) {
                    assertEquals(500, r.status());
                    JsonNode e = parse(r.body()).get("error");
                    assertEquals("server_error", e.get("type").asText());
                    assertFalse(r.body().contains("IllegalState") || r.body().contains("onnx went away"), r.body());
                }
            }
        } finally {
            l.close();
            unloadable.close();
        }
    }

    @Test
    void configSwitchesItOff() {
        LocalEmbeddings off = new LocalEmbeddings(new Config(false, 256, 0, 64), () -> {
            throw new AssertionError("must not load");
        });
        try {
            assertFalse(off.enabled());
            assertEquals("local", off.name());
            assertEquals(Set.of("all-minilm-l6-v2"), off.models());
            assertEquals(256, off.maxConcurrency());
        } finally {
            off.close();
        }
    }
}
