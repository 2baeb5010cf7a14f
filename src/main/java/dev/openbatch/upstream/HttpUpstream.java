package dev.openbatch.upstream;

import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import io.smallrye.mutiny.Uni;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.impl.HttpUtils;
import io.vertx.mutiny.core.Vertx;

import dev.openbatch.outbound.Exchange;

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
    private final Exchange exchange;
    private final long timeoutMillis;
    private final int maxResponseBytes;
    private final FlowControl flowControl;
    /** {@code "priority":N,} put at the start of each JSON object body, or null. */
    private final String priorityField;
    private final boolean overflow;
    /** Where {@link #probe()} asks: the {@code health-url} (2xx means up), or the server's root (any answer means up). */
    private final URI probeUri;
    private final boolean checksHealth;
    /** The probes' own client: a busy server's connections (max-concurrency of them, all in use) never keep a probe waiting. */
    private final Exchange probes;

    /**
     * @param timeout          longest wait for one answer (idle time on the connection)
     * @param maxResponseBytes largest answer body read; a larger one fails with {@link ResponseTooLargeException}
     */
    public HttpUpstream(Vertx vertx, String name, UpstreamsConfig.Server config, Duration timeout, int maxResponseBytes) {
        this.name = name;
        this.models = Arrays.stream(config.models().split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(LinkedHashSet::new));
        this.maxConcurrency = Math.max(1, config.maxConcurrency());
        this.flowControl = new FlowControl(config.adaptive(), config.metricsUrl().map(String::trim).filter(u -> !u.isEmpty()),
                config.queueMetric(), config.queueMetricModel().filter(m -> !m.isBlank()), config.runningMetric(),
                config.metricsInterval().isNegative() || config.metricsInterval().isZero() ? Duration.ofMillis(100) : config.metricsInterval(),
                Math.max(1, config.adaptiveInitial()), Math.max(0, config.freeSlots()));
        flowControl.metricsUrl().map(URI::create).filter(u -> u.getHost() == null || u.getScheme() == null).ifPresent(u -> {
            throw new IllegalArgumentException("openbatch.upstreams." + name + ".metrics-url must be an absolute http(s) URL");
        });
        this.priorityField = config.requestPriority().map(n -> "\"priority\":" + n).orElse(null);
        URI uri = URI.create(config.url().trim());
        if (uri.getHost() == null || uri.getScheme() == null) {
            throw new IllegalArgumentException("openbatch.upstreams." + name + ".url must be an absolute http(s) URL");
        }
        this.ssl = "https".equalsIgnoreCase(uri.getScheme());
        this.host = uri.getHost();
        this.port = uri.getPort() > 0 ? uri.getPort() : (ssl ? 443 : 80);
        String p = uri.getRawPath() == null ? "" : uri.getRawPath();
        this.basePath = p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
        this.overflow = config.overflow();
        this.checksHealth = config.healthUrl().filter(u -> !u.isBlank()).isPresent();
        this.probeUri = config.healthUrl().filter(u -> !u.isBlank()).map(u -> URI.create(u.trim())).orElse(uri);
        if (probeUri.getHost() == null || probeUri.getScheme() == null) {
            throw new IllegalArgumentException("openbatch.upstreams." + name + ".health-url must be an absolute http(s) URL");
        }
        this.authorization = config.apiKey().filter(k -> !k.isBlank()).map(k -> "Bearer " + k.trim()).orElse(null);
        this.timeoutMillis = timeout.toMillis();
        this.maxResponseBytes = Math.max(0, maxResponseBytes);
        this.exchange = new Exchange(vertx.getDelegate().createHttpClient(new HttpClientOptions()
                .setKeepAlive(true)
                .setPipelining(false)
                .setTcpNoDelay(true)
                .setConnectTimeout(10_000)
                .setDecompressionSupported(true),
                new PoolOptions().setHttp1MaxSize(maxConcurrency).setHttp2MaxSize(maxConcurrency)));
        this.probes = new Exchange(vertx.getDelegate().createHttpClient(new HttpClientOptions().setKeepAlive(false).setConnectTimeout(5000),
                new PoolOptions().setHttp1MaxSize(1).setHttp2MaxSize(1)));
    }

    @Override
    public String name() { return name; }

    @Override
    public Set<String> models() { return models; }

    @Override
    public int maxConcurrency() { return maxConcurrency; }

    @Override
    public FlowControl flowControl() { return flowControl; }

    @Override
    public boolean overflow() { return overflow; }

    @Override
    public boolean checksHealth() { return checksHealth; }

    /**
     * {@code GET} on the {@code health-url} (up when it answers 2xx) or, without one, on the
     * configured {@code url} (up when anything answers over HTTP: a 404 is a live server). Only the
     * status is read; the connection is then closed. Five seconds at most.
     */
    @Override
    public Uni<Boolean> probe() {
        boolean tls = "https".equalsIgnoreCase(probeUri.getScheme());
        int p = probeUri.getPort() > 0 ? probeUri.getPort() : (tls ? 443 : 80);
        String path = probeUri.getRawPath() == null || probeUri.getRawPath().isEmpty() ? "/" : probeUri.getRawPath();
        if (probeUri.getRawQuery() != null) {
            path += "?" + probeUri.getRawQuery();
        }
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setHost(probeUri.getHost()).setPort(p).setSsl(tls)
                .setURI(path).setIdleTimeout(5000).setConnectTimeout(5000).putHeader("User-Agent", "openbatch");
        if (authorization != null && !checksHealth) {
            options.putHeader("Authorization", authorization);
        }
        return probes.<Integer>send(options, Buffer::buffer, (req, resp) -> {
            resp.exceptionHandler(e -> {
            });
            req.reset(); // the status is all a probe reads
            return Future.succeededFuture(resp.statusCode());
        }).map(status -> checksHealth ? status >= 200 && status < 300 : true)
                .ifNoItem().after(Duration.ofSeconds(6)).fail()
                .onFailure().recoverWithItem(false);
    }

    /**
     * One request as an {@link Exchange}, so that cancelling the returned Uni really aborts it (the
     * stream is reset): a cancelled or expired batch frees the upstream's slot at once.
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
        String sent = withPriority(body, priorityField);
        return exchange.send(options, () -> Buffer.buffer(sent), this::read);
    }

    /**
     * {@code body} with {@code field} as the first member of its top-level object: a later member of
     * the same name (the line's own) wins with every JSON parser that keeps the last, as Python's and
     * Jackson's do. A body that is not an object, or no field, leaves it as written.
     */
    static String withPriority(String body, String field) {
        if (field == null) {
            return body;
        }
        int open = 0;
        while (open < body.length() && Character.isWhitespace(body.charAt(open))) {
            open++;
        }
        if (open >= body.length() || body.charAt(open) != '{') {
            return body;
        }
        int next = open + 1;
        while (next < body.length() && Character.isWhitespace(body.charAt(next))) {
            next++;
        }
        boolean empty = next < body.length() && body.charAt(next) == '}';
        return body.substring(0, open + 1) + field + (empty ? "" : ",") + body.substring(open + 1);
    }

    /**
     * Reads the body up to {@code max-response-bytes}: an answer whose {@code Content-Length} is over
     * it is refused before a byte is read, and a chunked (or compressed) one is cut off the moment it
     * passes it. Either way the request is reset (the connection closed), so the rest is never read.
     */
    private Future<UpstreamResponse> read(HttpClientRequest req, HttpClientResponse resp) {
        String badHeader = badHeader(resp.headers());
        if (badHeader != null) {
            resp.exceptionHandler(e -> {
            });
            req.reset();
            return Future.failedFuture(new InvalidAnswerException(resp.statusCode(), badHeader));
        }
        long declared = contentLength(resp.getHeader("content-length"));
        if (declared > maxResponseBytes) {
            resp.exceptionHandler(e -> {
            }); // the reset below ends the response with an error we already know of
            req.reset();
            return Future.failedFuture(new ResponseTooLargeException(resp.statusCode(), maxResponseBytes, declared));
        }
        Promise<UpstreamResponse> done = Promise.promise();
        Buffer body = Buffer.buffer(declared > 0 ? (int) declared : 1024);
        resp.handler(chunk -> {
            if (done.future().isComplete()) {
                return;
            }
            if ((long) body.length() + chunk.length() > maxResponseBytes) {
                done.tryFail(new ResponseTooLargeException(resp.statusCode(), maxResponseBytes, -1));
                req.reset();
                return;
            }
            body.appendBuffer(chunk);
        });
        resp.exceptionHandler(done::tryFail);
        resp.endHandler(v -> done.tryComplete(new UpstreamResponse(resp.statusCode(), body.toString(), resp.getHeader("x-request-id"),
                resp.getHeader("retry-after"))));
        return done.future();
    }

    /**
     * The name of the first header of an answer that HTTP does not allow, or null. Vert.x's codec
     * leaves this to openbatch ({@link dev.openbatch.Main}); its own rules are applied here.
     */
    static String badHeader(MultiMap headers) {
        for (Map.Entry<String, String> header : headers) {
            try {
                HttpUtils.validateHeader(header.getKey(), header.getValue());
            } catch (IllegalArgumentException e) {
                return header.getKey();
            }
            String value = header.getValue();
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                    return header.getKey();
                }
            }
        }
        return null;
    }

    /** The Content-Length header's value, or -1 when it is absent or unreadable (the body is measured as it comes). */
    static long contentLength(String header) {
        if (header == null) {
            return -1;
        }
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    public void close() {
        exchange.close();
        probes.close();
    }
}
