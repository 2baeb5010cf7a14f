package dev.openbatch.upstream;

import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.stream.Collectors;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.mutiny.core.Vertx;

/** An OpenAI-compatible server over HTTP (vLLM, SGLang, Ollama, OpenAI itself...). */
public class HttpUpstream implements Upstream {
    private final String name;
    private final Set<String> models;
    private final int maxConcurrency;
    private final String basePath;
    private final String host;
    private final int port;
    private final boolean ssl;
    private final String authorization;
    private final HttpClient client;
    private final long timeoutMillis;

    public HttpUpstream(Vertx vertx, String name, UpstreamsConfig.Server config, Duration timeout) {
        this.name = name;
        this.models = Arrays.stream(config.models().split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(LinkedHashSet::new));
        this.maxConcurrency = Math.max(1, config.maxConcurrency());
        URI uri = URI.create(config.url().trim());
        if (uri.getHost() == null || uri.getScheme() == null) {
            throw new IllegalArgumentException("openbatch.upstreams." + name + ".url must be an absolute http(s) URL");
        }
        this.ssl = "https".equalsIgnoreCase(uri.getScheme());
        this.host = uri.getHost();
        this.port = uri.getPort() > 0 ? uri.getPort() : (ssl ? 443 : 80);
        String p = uri.getRawPath() == null ? "" : uri.getRawPath();
        this.basePath = p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
        this.authorization = config.apiKey().filter(k -> !k.isBlank()).map(k -> "Bearer " + k.trim()).orElse(null);
        this.timeoutMillis = timeout.toMillis();
        this.client = vertx.getDelegate().createHttpClient(new HttpClientOptions()
                .setKeepAlive(true)
                .setPipelining(false)
                .setTcpNoDelay(true)
                .setConnectTimeout(10_000)
                .setDecompressionSupported(true),
                new PoolOptions().setHttp1MaxSize(maxConcurrency).setHttp2MaxSize(maxConcurrency));
    }

    @Override
    public String name() { return name; }

    @Override
    public Set<String> models() { return models; }

    @Override
    public int maxConcurrency() { return maxConcurrency; }

    /**
     * One request on Vert.x's core HTTP client, so that cancelling the returned Uni really aborts
     * it (the stream is reset): a cancelled or expired batch frees the upstream's slot at once.
     */
    @Override
    public Uni<UpstreamResponse> send(String path, String body) {
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(host).setPort(port).setSsl(ssl)
                .setURI(basePath + path).setIdleTimeout(timeoutMillis)
                .putHeader("Content-Type", "application/json").putHeader("Accept", "application/json")
                .putHeader("User-Agent", "openbatch");
        if (authorization != null) {
            options.putHeader("Authorization", authorization);
        }
        return Uni.createFrom().emitter(em -> {
            AtomicBoolean over = new AtomicBoolean();
            AtomicReference<HttpClientRequest> sent = new AtomicReference<>();
            em.onTermination(() -> {
                HttpClientRequest r = sent.get();
                if (over.compareAndSet(false, true) && r != null) {
                    r.reset(); // cancelled while in flight: abort the request
                }
            });
            client.request(options)
                    .compose(req -> {
                        sent.set(req);
                        if (over.get()) { // cancelled while waiting for a connection: never send it
                            req.reset();
                            return io.vertx.core.Future.failedFuture("cancelled");
                        }
                        return req.send(Buffer.buffer(body));
                    })
                    .compose(resp -> resp.body().map(b -> toResponse(resp, b)))
                    .onComplete(ar -> {
                        if (!over.compareAndSet(false, true)) {
                            return;
                        }
                        if (ar.succeeded()) {
                            em.complete(ar.result());
                        } else {
                            em.fail(ar.cause());
                        }
                    });
        });
    }

    private static UpstreamResponse toResponse(HttpClientResponse r, Buffer b) {
        return new UpstreamResponse(r.statusCode(), b == null ? "" : b.toString(), r.getHeader("x-request-id"),
                r.getHeader("retry-after"));
    }

    public void close() {
        client.close();
    }
}
