package dev.openbatch.webhooks;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import javax.net.ssl.SSLException;

import io.smallrye.mutiny.Uni;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;

import dev.openbatch.outbound.Exchange;

/**
 * One POST to a receiver, which is untrusted: its host is resolved and every address checked
 * ({@link Targets}) at each attempt, and the request goes to the address checked; redirects are
 * not followed; the whole attempt (lookup, connect, answer) has one deadline, after which the
 * request is reset; only the status counts, and at most 64 KiB of the body is read (then the
 * connection is closed). Connections are never reused. The outcome is a status code, or a fixed
 * sentence saying what went wrong (never an exception's text or a host name).
 */
final class WebhookSender {
    /** Most bytes of an answer's body read (and dropped) before the connection is closed. */
    static final int MAX_ANSWER_BYTES = 64 * 1024;

    private final Exchange exchange;
    private final WorkerExecutor lookups;
    private final Targets targets;
    private final long timeoutMillis;

    WebhookSender(Vertx vertx, Targets targets, Duration timeout, int maxConcurrency) {
        this.targets = targets;
        this.timeoutMillis = Math.max(1, timeout.toMillis());
        this.exchange = new Exchange(vertx.createHttpClient(new HttpClientOptions()
                .setKeepAlive(false)
                .setPipelining(false)
                .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, timeoutMillis))
                .setForceSni(true)
                .setMaxRedirects(0)
                .setDecompressionSupported(false),
                new PoolOptions().setHttp1MaxSize(Math.max(1, maxConcurrency))));
        // name lookups block: a pool of their own, so a slow resolver never holds up validation's workers
        this.lookups = vertx.createSharedWorkerExecutor(LOOKUP_POOL, lookupThreads(maxConcurrency));
    }

    /** The pool webhook name lookups run on, for deliveries and URL checks alike. */
    static final String LOOKUP_POOL = "openbatch-webhook-lookups";

    /** Its threads (a shared pool has the size it was first made with: every user asks the same). */
    static int lookupThreads(int maxConcurrency) {
        return Math.max(2, Math.min(16, maxConcurrency));
    }

    /** The status the receiver answered, or why none counts. */
    record Outcome(Integer status, String error) {
        boolean ok() {
            return status != null && status >= 200 && status < 300;
        }
    }

    Uni<Outcome> post(String url, Map<String, String> headers, byte[] body) {
        URI uri;
        try {
            uri = Targets.parse(url);
        } catch (Targets.Refused e) {
            return Uni.createFrom().item(new Outcome(null, e.getMessage()));
        }
        URI target = uri;
        return Uni.createFrom().<InetAddress>emitter(em -> lookups.<InetAddress>executeBlocking(() -> targets.resolve(target), false)
                        .onComplete(ar -> {
                            if (ar.succeeded()) {
                                em.complete(ar.result());
                            } else {
                                em.fail(ar.cause());
                            }
                        }))
                .chain(address -> send(target, address, headers, body))
                .ifNoItem().after(Duration.ofMillis(timeoutMillis)).failWith(TimeoutException::new)
                .onFailure().recoverWithItem(WebhookSender::failure);
    }

    private Uni<Outcome> send(URI uri, InetAddress address, Map<String, String> headers, byte[] body) {
        boolean ssl = "https".equalsIgnoreCase(uri.getScheme());
        int port = Targets.port(uri);
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST)
                .setHost(Targets.host(uri)).setPort(port).setSsl(ssl)
                .setServer(SocketAddress.inetSocketAddress(port, address.getHostAddress()))
                .setURI(uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery())
                .setFollowRedirects(false)
                .setIdleTimeout(timeoutMillis);
        headers.forEach(options::putHeader);
        return exchange.send(options, () -> Buffer.buffer(body), (req, resp) -> {
            drain(req, resp);
            return Future.succeededFuture(new Outcome(resp.statusCode(), null));
        });
    }

    /** Reads and drops the answer's body up to the cap; past it, or past the deadline, the connection is closed. */
    private void drain(HttpClientRequest req, io.vertx.core.http.HttpClientResponse resp) {
        long[] read = { 0 };
        Promise<Void> ended = Promise.promise();
        resp.exceptionHandler(e -> ended.tryComplete());
        resp.endHandler(v -> ended.tryComplete());
        resp.handler(chunk -> {
            read[0] += chunk.length();
            if (read[0] > MAX_ANSWER_BYTES && ended.tryComplete()) {
                req.reset();
            }
        });
    }

    /** A fixed sentence per kind of failure: what the tenant reads in the delivery's {@code last_error}. */
    static Outcome failure(Throwable e) {
        if (e instanceof Targets.Refused r) {
            return new Outcome(null, r.getMessage());
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof TimeoutException || c instanceof io.netty.handler.timeout.TimeoutException
                    || c.getClass().getSimpleName().contains("Timeout")) {
                return new Outcome(null, "The receiver did not answer in time.");
            }
            if (c instanceof ConnectException) {
                return new Outcome(null, "The receiver could not be reached (connection refused or failed).");
            }
            if (c instanceof SSLException) {
                return new Outcome(null, "The TLS handshake with the receiver failed.");
            }
            if (c instanceof HttpClosedException) {
                return new Outcome(null, "The receiver closed the connection before it answered.");
            }
        }
        return new Outcome(null, "The request to the receiver failed.");
    }

    void close() {
        exchange.close();
        lookups.close();
    }
}
