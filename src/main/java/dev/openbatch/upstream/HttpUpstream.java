package dev.openbatch.upstream;

import java.net.URI;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.stream.Collectors;

import io.smallrye.mutiny.Uni;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.ext.web.client.HttpResponse;
import io.vertx.mutiny.ext.web.client.WebClient;

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
    private final WebClient client;
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
        this.client = WebClient.create(vertx, new WebClientOptions()
                .setMaxPoolSize(maxConcurrency)
                .setHttp2MaxPoolSize(maxConcurrency)
                .setPipelining(false)
                .setKeepAlive(true)
                .setTcpNoDelay(true)
                .setConnectTimeout(10_000)
                .setTrustAll(false)
                .setDecompressionSupported(true)
                .setUserAgent("openbatch"));
    }

    @Override
    public String name() { return name; }

    @Override
    public Set<String> models() { return models; }

    @Override
    public int maxConcurrency() { return maxConcurrency; }

    @Override
    public Uni<UpstreamResponse> send(String path, String body) {
        var request = client.request(HttpMethod.POST, port, host, basePath + path)
                .ssl(ssl)
                .timeout(timeoutMillis)
                .putHeader("Content-Type", "application/json")
                .putHeader("Accept", "application/json");
        if (authorization != null) {
            request.putHeader("Authorization", authorization);
        }
        return request.sendBuffer(Buffer.buffer(body)).map(HttpUpstream::toResponse);
    }

    private static UpstreamResponse toResponse(HttpResponse<Buffer> r) {
        Buffer b = r.body();
        String requestId = r.getHeader("x-request-id");
        return new UpstreamResponse(r.statusCode(), b == null ? "" : b.toString(), requestId, retryAfter(r.getHeader("retry-after")));
    }

    /** {@code Retry-After} as seconds or an HTTP date; {@code retry-after-ms} is not standard and not read. */
    static Long retryAfter(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        String h = header.trim();
        try {
            return Math.max(0, (long) (Double.parseDouble(h) * 1000));
        } catch (NumberFormatException e) {
            try {
                long at = ZonedDateTime.parse(h, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
                return Math.max(0, at - System.currentTimeMillis());
            } catch (RuntimeException ignored) {
                return null;
            }
        }
    }

    public void close() {
        client.close();
    }
}
