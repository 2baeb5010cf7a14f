package dev.openbatch.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.Headers;
import com.openai.models.webhooks.UnwrapWebhookEvent;
import com.openai.models.webhooks.WebhookVerificationParams;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;

/**
 * A real HTTP server on 127.0.0.1 that receives webhooks and records every request. What it
 * answers is steered by the path: {@code /script/<a>,<b>,...} answers attempt n of a
 * {@code webhook-id} with the n-th entry (the last repeats): a status code, {@code hang} (never
 * answers), {@code redirect} (302 to {@code /redirected}) or {@code huge} (200 with a body that never
 * ends, written as fast as the client reads it; {@link #hugeBytes} counts what got out). Any other
 * path answers 200. {@link #verified} checks a request's signature as a receiver would.
 */
public class WebhookReceiver {
    /** One request as it arrived. */
    public record Received(String path, String webhookId, String timestamp, String signature, byte[] body,
            Map<String, String> headers, String answer, long at) {
        /** The batch the event is about ({@code data.id}), or null when the body is not an event. */
        public String batchId() {
            try {
                return new io.vertx.core.json.JsonObject(new String(body, java.nio.charset.StandardCharsets.UTF_8))
                        .getJsonObject("data").getString("id");
            } catch (RuntimeException e) {
                return null;
            }
        }
    }

    private final Vertx vertx = Vertx.vertx();
    private HttpServer server;
    public final List<Received> received = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    /** Bytes of {@code huge} answers written, by {@code webhook-id}. */
    public final Map<String, AtomicLong> hugeBytes = new ConcurrentHashMap<>();
    /** Requests answered {@code hang} whose connection the sender still holds open. */
    private final List<Received> hanging = new CopyOnWriteArrayList<>();
    /** The official SDK, for its webhook verification (it sends nothing). */
    private OpenAIClient sdk;

    public int start() throws Exception {
        sdk = OpenAIOkHttpClient.builder().apiKey("unused").baseUrl("http://127.0.0.1:1/v1").build();
        server = vertx.createHttpServer().requestHandler(this::handle).listen(0, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        return server.actualPort();
    }

    public String url(String path) {
        return "http://127.0.0.1:" + server.actualPort() + path;
    }

    public void stop() {
        vertx.close();
        sdk.close();
    }

    /** The official SDK (its {@code webhooks()} verify and parse events). */
    public OpenAIClient sdk() {
        return sdk;
    }

    /** The request, verified by the official SDK and by a hand-computed HMAC with {@code secret} ({@code whsec_…}); its parsed body. */
    public JsonObject verified(Received r, String secret) throws Exception {
        Headers headers = Headers.builder().put("webhook-id", r.webhookId()).put("webhook-timestamp", r.timestamp())
                .put("webhook-signature", r.signature()).build();
        UnwrapWebhookEvent event = sdk.webhooks().unwrap(WebhookVerificationParams.builder().payload(r.body()).headers(headers)
                .secret(secret).build());
        assertNotNull(event);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
        byte[] signed = (r.webhookId() + "." + r.timestamp() + "." + new String(r.body(), StandardCharsets.UTF_8))
                .getBytes(StandardCharsets.UTF_8);
        String mine = "v1," + Base64.getEncoder().encodeToString(mac.doFinal(signed));
        assertTrue(List.of(r.signature().split(" ")).contains(mine), "hand-computed " + mine + " in " + r.signature());
        JsonObject body = new JsonObject(new String(r.body(), StandardCharsets.UTF_8));
        assertEquals(r.webhookId(), body.getString("id"), "webhook-id is the event's id");
        assertEquals("application/json", r.headers().get("content-type"));
        return body;
    }

    /** The requests whose path starts with {@code prefix}. */
    public List<Received> at(String prefix) {
        return received.stream().filter(r -> r.path().startsWith(prefix)).toList();
    }

    /**
     * The requests at {@code prefix} about one of these batches (other tests' batches that end
     * meanwhile send their events to the same project's endpoints too).
     */
    public List<Received> at(String prefix, java.util.Collection<String> batchIds) {
        return at(prefix).stream().filter(r -> batchIds.contains(r.batchId())).toList();
    }

    /** Waits up to {@code timeout} for {@code n} requests at {@code prefix} about these batches; them (fails when fewer came). */
    public List<Received> await(String prefix, java.util.Collection<String> batchIds, int n, java.time.Duration timeout) {
        long end = System.currentTimeMillis() + timeout.toMillis();
        while (at(prefix, batchIds).size() < n && System.currentTimeMillis() < end) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        List<Received> got = at(prefix, batchIds);
        assertTrue(got.size() >= n, "expected " + n + " request(s) at " + prefix + ", got " + got.size());
        return got;
    }

    /** Requests at {@code prefix} that hang and are still open: attempts still in flight at their sender. */
    public int hanging(String prefix) {
        return (int) hanging.stream().filter(r -> r.path().startsWith(prefix)).count();
    }

    public long hugeBytes(String webhookId) {
        AtomicLong n = hugeBytes.get(webhookId);
        return n == null ? 0 : n.get();
    }

    private void handle(HttpServerRequest req) {
        req.body().onSuccess(buf -> {
            Map<String, String> headers = new ConcurrentHashMap<>();
            req.headers().forEach(h -> headers.put(h.getKey().toLowerCase(), h.getValue()));
            String id = String.valueOf(req.getHeader("webhook-id"));
            String path = req.path();
            String answer = "200";
            if (path.startsWith("/script/")) {
                String[] steps = path.substring("/script/".length()).split("/")[0].split(",");
                int n = attempts.computeIfAbsent(path + " " + id, k -> new AtomicInteger()).incrementAndGet();
                answer = steps[Math.min(n, steps.length) - 1];
            }
            Received got = new Received(path, id, req.getHeader("webhook-timestamp"), req.getHeader("webhook-signature"), buf.getBytes(),
                    headers, answer, System.currentTimeMillis());
            received.add(got);
            HttpServerResponse resp = req.response();
            switch (answer) {
                case "hang" -> {
                    // never answers: the sender's timeout ends it
                    hanging.add(got);
                    resp.closeHandler(v -> hanging.remove(got));
                }
                case "redirect" -> resp.setStatusCode(302).putHeader("Location", url("/redirected")).end();
                case "huge" -> {
                    resp.setStatusCode(200).setChunked(true).putHeader("Content-Type", "text/plain");
                    pour(resp, hugeBytes.computeIfAbsent(id, k -> new AtomicLong()));
                }
                default -> resp.setStatusCode(Integer.parseInt(answer)).end("{\"ok\":true}");
            }
        });
    }

    /** Writes 64 KiB chunks for as long as the client reads them (at most 1 GiB). */
    private void pour(HttpServerResponse resp, AtomicLong written) {
        Buffer chunk = Buffer.buffer(new byte[65536]);
        while (!resp.writeQueueFull() && !resp.closed() && written.get() < (1L << 30)) {
            resp.write(chunk);
            written.addAndGet(chunk.length());
        }
        if (!resp.closed() && written.get() < (1L << 30)) {
            resp.drainHandler(v -> pour(resp, written));
        }
    }
}
