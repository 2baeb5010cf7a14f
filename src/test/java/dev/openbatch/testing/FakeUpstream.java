package dev.openbatch.testing;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * A real HTTP server on a random port that answers like an OpenAI-compatible inference server.
 * Each request line steers its own answer through an optional {@code "fake"} object in its body:
 * <ul>
 * <li>{@code "key"}: the name its attempts are counted under (default: the first message's content or the input);</li>
 * <li>{@code "statuses"}: the status of attempt 1, 2, ... (the last one repeats; default 200);</li>
 * <li>{@code "retry_after"}: seconds, sent as {@code Retry-After} with 429/503;</li>
 * <li>{@code "latency_ms"}: delay before answering; {@code "hang": true} never answers;</li>
 * <li>{@code "pad"}: characters added to the answer's content (big answers, each line's different);</li>
 * <li>{@code "error_body"}: the body sent with a status of 300 or more, as it is (default: an OpenAI-style error);</li>
 * <li>{@code "body_bytes"}: a 200 answer of this many bytes, written as fast as the client reads it, with a
 * {@code Content-Length}, or chunked with {@code "chunked": true}; {@link #written} counts what got out.</li>
 * </ul>
 * A global latency and a "hold" switch (answers wait until released) serve the in-flight tests.
 * {@code GET /metrics} answers like vLLM's Prometheus endpoint: {@code vllm:num_requests_waiting}
 * is {@link #waiting(long)}'s count (0 by default); those reads are not counted as requests.
 */
public class FakeUpstream {
    private final Vertx vertx = Vertx.vertx();
    private HttpServer server;
    /** Attempts per key, in arrival order. */
    public final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    public final Map<String, CopyOnWriteArrayList<Long>> arrivals = new ConcurrentHashMap<>();
    public final AtomicInteger total = new AtomicInteger();
    public final AtomicInteger inFlight = new AtomicInteger();
    public final AtomicInteger maxInFlight = new AtomicInteger();
    /** Requests in flight per {@code model} of their body, and the most at once since {@link #reset()}. */
    public final Map<String, AtomicInteger> inFlightByModel = new ConcurrentHashMap<>();
    public final Map<String, AtomicInteger> maxInFlightByModel = new ConcurrentHashMap<>();
    public final CopyOnWriteArrayList<String> authorizations = new CopyOnWriteArrayList<>();
    public final CopyOnWriteArrayList<String> bodies = new CopyOnWriteArrayList<>();
    /** Bytes of {@code body_bytes} answers written per key, until the client closed the connection or the answer ended. */
    public final Map<String, java.util.concurrent.atomic.AtomicLong> written = new ConcurrentHashMap<>();
    private volatile long latencyMs;
    private volatile boolean hold;
    private volatile long waiting;
    private final CopyOnWriteArrayList<Runnable> held = new CopyOnWriteArrayList<>();

    public int start() throws Exception {
        return start(0);
    }

    /** Listens on {@code port} (0: any free one); returns the port. */
    public int start(int port) throws Exception {
        server = vertx.createHttpServer().requestHandler(this::handle).listen(port, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        return server.actualPort();
    }

    public void stop() {
        vertx.close();
    }

    /** The port it listens on. */
    public int port() {
        return server.actualPort();
    }

    /** Stops and waits until the port is closed: connections to it are refused from then on. */
    public void stopNow() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    public void reset() {
        attempts.clear();
        arrivals.clear();
        total.set(0);
        maxInFlight.set(0);
        maxInFlightByModel.clear();
        authorizations.clear();
        bodies.clear();
        written.clear();
        latencyMs = 0;
        waiting = 0;
        hold = false;
        release();
    }

    public void latency(long ms) { this.latencyMs = ms; }

    /** The waiting count {@code GET /metrics} reports. */
    public void waiting(long n) { this.waiting = n; }

    /** While on, answers wait until {@link #release()}. */
    public void hold(boolean on) { this.hold = on; }

    public void release() {
        var pending = new java.util.ArrayList<>(held);
        held.clear();
        pending.forEach(Runnable::run);
    }

    public int heldCount() { return held.size(); }

    public int attemptsOf(String key) {
        AtomicInteger n = attempts.get(key);
        return n == null ? 0 : n.get();
    }

    private void handle(HttpServerRequest req) {
        if (req.path().equals("/metrics")) {
            req.response().putHeader("Content-Type", "text/plain; version=0.0.4")
                    .end("# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name=\"fake-model\"} " + waiting + "\n");
            return;
        }
        req.body().onSuccess(buf -> {
            total.incrementAndGet();
            int now = inFlight.incrementAndGet();
            maxInFlight.accumulateAndGet(now, Math::max);
            java.util.concurrent.atomic.AtomicBoolean finished = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<AtomicInteger> ofModel = new java.util.concurrent.atomic.AtomicReference<>();
            // a request the client gave up on (timeout, cancel) is no longer in flight
            req.response().closeHandler(v -> {
                if (finished.compareAndSet(false, true)) {
                    inFlight.decrementAndGet();
                    AtomicInteger m = ofModel.get();
                    if (m != null) {
                        m.decrementAndGet();
                    }
                }
            });
            req.response().endHandler(v -> {
                if (finished.compareAndSet(false, true)) {
                    inFlight.decrementAndGet();
                    AtomicInteger m = ofModel.get();
                    if (m != null) {
                        m.decrementAndGet();
                    }
                }
            });
            authorizations.add(String.valueOf(req.getHeader("Authorization")));
            String text = buf.toString();
            bodies.add(text);
            JsonObject body;
            try {
                body = new JsonObject(text);
            } catch (RuntimeException e) {
                answer(req, 400, new JsonObject().put("error", new JsonObject().put("message", "bad json")).encode(), null);
                return;
            }
            String model = String.valueOf(body.getValue("model"));
            AtomicInteger byModel = inFlightByModel.computeIfAbsent(model, k -> new AtomicInteger());
            ofModel.set(byModel);
            int nowOfModel = byModel.incrementAndGet();
            maxInFlightByModel.computeIfAbsent(model, k -> new AtomicInteger()).accumulateAndGet(nowOfModel, Math::max);
            JsonObject fake = body.getJsonObject("fake", new JsonObject());
            String key = fake.getString("key", keyOf(body));
            int attempt = attempts.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
            arrivals.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(System.currentTimeMillis());
            JsonArray statuses = fake.getJsonArray("statuses", new JsonArray().add(200));
            int status = statuses.getInteger(Math.min(attempt, statuses.size()) - 1);
            Integer retryAfter = fake.getInteger("retry_after");
            long delay = fake.getLong("latency_ms", latencyMs);
            if (fake.getBoolean("hang", false)) {
                return; // never answers; the client's timeout ends it
            }
            Long size = fake.getLong("body_bytes");
            String errorBody = fake.getString("error_body");
            int pad = fake.getInteger("pad", 0);
            Runnable respond = size != null ? () -> stream(req, key, size, fake.getBoolean("chunked", false))
                    : errorBody != null && status >= 300 ? () -> answer(req, status, errorBody, null)
                    : () -> answer(req, status, responseFor(req.path(), body, status, key, pad).encode(),
                            status == 429 || status == 503 ? retryAfter : null);
            Runnable maybeHeld = () -> {
                if (hold) {
                    held.add(respond);
                } else {
                    respond.run();
                }
            };
            if (delay > 0) {
                vertx.setTimer(delay, t -> maybeHeld.run());
            } else {
                maybeHeld.run();
            }
        });
    }

    private static String keyOf(JsonObject body) {
        JsonArray messages = body.getJsonArray("messages");
        if (messages != null && !messages.isEmpty()) {
            return messages.getJsonObject(0).getString("content", "");
        }
        Object input = body.getValue("input");
        return input == null ? body.getString("prompt", "") : input.toString();
    }

    private static JsonObject responseFor(String path, JsonObject body, int status, String key, int pad) {
        if (status >= 300) {
            return new JsonObject().put("error", new JsonObject().put("message", "fake failure " + status + " for " + key)
                    .put("type", "fake").put("code", status));
        }
        JsonObject usage = new JsonObject().put("prompt_tokens", 7).put("completion_tokens", 3).put("total_tokens", 10);
        if (path.endsWith("/embeddings")) {
            return new JsonObject().put("object", "list").put("model", body.getString("model"))
                    .put("data", new JsonArray().add(new JsonObject().put("object", "embedding").put("index", 0)
                            .put("embedding", new JsonArray().add(0.1).add(0.2))))
                    .put("usage", new JsonObject().put("prompt_tokens", 4).put("total_tokens", 4));
        }
        return new JsonObject().put("id", "chatcmpl-" + key).put("object", "chat.completion").put("model", body.getString("model"))
                .put("choices", new JsonArray().add(new JsonObject().put("index", 0)
                        .put("message", new JsonObject().put("role", "assistant").put("content", "echo " + key + padding(key, pad)))
                        .put("finish_reason", "stop")))
                .put("usage", usage);
    }

    /** {@code n} characters that differ from line to line (so that compression cannot make big answers small). */
    public static String padding(String key, int n) {
        if (n <= 0) {
            return "";
        }
        StringBuilder sb = new StringBuilder(n);
        java.util.Random random = new java.util.Random(key.hashCode());
        while (sb.length() < n) {
            sb.append((char) ('a' + random.nextInt(26)));
        }
        return sb.toString();
    }

    /**
     * A 200 answer of {@code size} bytes (one JSON object with a long string in it), written in 64 KiB
     * pieces only as fast as the client takes them, so {@link #written} shows how much it read before
     * it closed the connection.
     */
    private void stream(HttpServerRequest req, String key, long size, boolean chunked) {
        var resp = req.response().setStatusCode(200).putHeader("Content-Type", "application/json");
        if (chunked) {
            resp.setChunked(true);
        } else {
            resp.putHeader("Content-Length", Long.toString(size));
        }
        java.util.concurrent.atomic.AtomicLong out = written.computeIfAbsent(key, k -> new java.util.concurrent.atomic.AtomicLong());
        String head = "{\"object\":\"chat.completion\",\"pad\":\"";
        String tail = "\"}";
        resp.write(head);
        out.addAndGet(head.length());
        pad(resp, out, size - head.length() - tail.length(), tail);
    }

    private void pad(io.vertx.core.http.HttpServerResponse resp, java.util.concurrent.atomic.AtomicLong out, long left, String tail) {
        io.vertx.core.buffer.Buffer piece = io.vertx.core.buffer.Buffer.buffer("x".repeat(64 * 1024));
        long remaining = left;
        while (remaining > 0 && !resp.writeQueueFull()) {
            if (resp.closed()) {
                return;
            }
            io.vertx.core.buffer.Buffer b = remaining >= piece.length() ? piece : piece.slice(0, (int) remaining);
            resp.write(b);
            out.addAndGet(b.length());
            remaining -= b.length();
        }
        if (resp.closed()) {
            return;
        }
        if (remaining > 0) {
            long rest = remaining;
            resp.drainHandler(v -> pad(resp, out, rest, tail));
        } else {
            resp.end(tail);
            out.addAndGet(tail.length());
        }
    }

    private void answer(HttpServerRequest req, int status, String body, Integer retryAfter) {
        if (req.response().closed() || req.response().ended()) {
            return;
        }
        var resp = req.response().setStatusCode(status).putHeader("Content-Type", "application/json")
                .putHeader("x-request-id", "req_fake_" + total.get());
        if (retryAfter != null) {
            resp.putHeader("Retry-After", retryAfter.toString());
        }
        resp.end(body);
    }
}
