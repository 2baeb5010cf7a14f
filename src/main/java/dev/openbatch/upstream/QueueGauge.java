package dev.openbatch.upstream;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.OptionalLong;

import io.smallrye.mutiny.Uni;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.mutiny.core.Vertx;

import dev.openbatch.outbound.Exchange;

/**
 * Reads an inference server's waiting queue from its Prometheus metrics: one GET of the metrics
 * URL, and the sum of one gauge ({@code vllm:num_requests_waiting} by default; SGLang's is
 * {@code sglang:num_queue_reqs}) over its label sets, or over those of one {@code model_name}.
 * The dispatcher's adaptive limit uses it so that batch lines fill free slots and never the queue.
 * A read is bounded (a timeout for the whole exchange, a cap on the bytes read) and never fails:
 * any failure (refused, timed out, not 200, too large, metric absent) gives an empty reading, and
 * {@link #lastProblem()} says why, for a log line or a metric. One connection, reused.
 */
public class QueueGauge {
    /** vLLM's count of requests waiting for a slot. */
    public static final String VLLM_WAITING = "vllm:num_requests_waiting";
    /** vLLM's gauge of requests being served (SGLang's: {@code sglang:num_running_reqs}). */
    public static final String VLLM_RUNNING = "vllm:num_requests_running";

    /**
     * One read of the server's metrics: requests waiting, and requests being served (empty when
     * the page has no sample of that gauge, or no running gauge is read).
     */
    public record Reading(OptionalLong waiting, OptionalLong running) {
        static final Reading NONE = new Reading(OptionalLong.empty(), OptionalLong.empty());
    }
    /** The most of a metrics page that is read. */
    public static final int DEFAULT_MAX_BYTES = 256 * 1024;

    private final String metric;
    private final String modelName;
    private final RequestOptions request;
    private final String running;
    private final long timeoutMillis;
    private final int maxBytes;
    private final Exchange exchange;
    private volatile String lastProblem;

    /**
     * @param metricsUrl the server's metrics, for example {@code http://127.0.0.1:8000/metrics}
     * @param metric     the gauge to sum; null or blank for {@link #VLLM_WAITING}
     * @param running    the gauge of requests being served, summed the same way; null for none
     * @param modelName  only the samples of this {@code model_name} label; null for all
     * @param timeout    longest a read may take, connecting included
     * @param maxBytes   most bytes of the page read; a longer page gives an empty reading
     */
    public QueueGauge(Vertx vertx, String metricsUrl, String metric, String running, String modelName, Duration timeout, int maxBytes) {
        URI uri = URI.create(metricsUrl.trim());
        if (uri.getHost() == null || uri.getScheme() == null) {
            throw new IllegalArgumentException("the metrics URL must be an absolute http(s) URL: " + metricsUrl);
        }
        boolean ssl = "https".equalsIgnoreCase(uri.getScheme());
        int port = uri.getPort() > 0 ? uri.getPort() : (ssl ? 443 : 80);
        String path = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        this.metric = metric == null || metric.isBlank() ? VLLM_WAITING : metric.trim();
        this.running = running == null || running.isBlank() ? null : running.trim();
        this.modelName = modelName == null || modelName.isBlank() ? null : modelName;
        this.timeoutMillis = Math.max(1, timeout.toMillis());
        this.maxBytes = Math.max(1, maxBytes);
        this.request = new RequestOptions().setMethod(HttpMethod.GET).setHost(uri.getHost()).setPort(port).setSsl(ssl).setURI(path)
                .setIdleTimeout(timeoutMillis)
                .putHeader("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1").putHeader("User-Agent", "openbatch");
        this.exchange = new Exchange(vertx.getDelegate().createHttpClient(new HttpClientOptions()
                .setKeepAlive(true).setConnectTimeout((int) Math.min(Integer.MAX_VALUE, timeoutMillis)).setDecompressionSupported(true),
                new PoolOptions().setHttp1MaxSize(1)));
    }

    /** The metric read. */
    public String metric() {
        return metric;
    }

    /** Requests waiting (and being served) at the server now; both empty when the page could not be read. Never fails. */
    public Uni<Reading> read() {
        return exchange.send(request, Buffer::buffer, this::body)
                .ifNoItem().after(Duration.ofMillis(timeoutMillis)).fail()
                .map(text -> {
                    OptionalLong waiting = PrometheusText.sum(text, metric, modelName);
                    lastProblem = waiting.isPresent() ? null
                            : "no sample of " + metric + (modelName == null ? "" : " for model_name " + modelName);
                    return new Reading(waiting, running == null ? OptionalLong.empty() : PrometheusText.sum(text, running, modelName));
                })
                .onFailure().recoverWithItem(e -> {
                    lastProblem = e.getClass().getSimpleName() + ": " + e.getMessage();
                    return Reading.NONE;
                });
    }

    /** Why the last read gave nothing, or null when it gave a count. */
    public String lastProblem() {
        return lastProblem;
    }

    private Future<String> body(HttpClientRequest req, HttpClientResponse resp) {
        if (resp.statusCode() != 200) {
            resp.exceptionHandler(e -> {
            });
            req.reset();
            return Future.failedFuture(new IllegalStateException("HTTP " + resp.statusCode()));
        }
        long declared = HttpUpstream.contentLength(resp.getHeader("content-length"));
        if (declared > maxBytes) {
            resp.exceptionHandler(e -> {
            });
            req.reset();
            return Future.failedFuture(new IllegalStateException("metrics page of " + declared + " bytes, over " + maxBytes));
        }
        Promise<String> done = Promise.promise();
        Buffer body = Buffer.buffer(declared > 0 ? (int) declared : 8192);
        resp.handler(chunk -> {
            if (done.future().isComplete()) {
                return;
            }
            if ((long) body.length() + chunk.length() > maxBytes) {
                done.tryFail(new IllegalStateException("metrics page over " + maxBytes + " bytes"));
                req.reset();
                return;
            }
            body.appendBuffer(chunk);
        });
        resp.exceptionHandler(done::tryFail);
        resp.endHandler(v -> done.tryComplete(body.toString(StandardCharsets.UTF_8)));
        return done.future();
    }

    public void close() {
        exchange.close();
    }
}
