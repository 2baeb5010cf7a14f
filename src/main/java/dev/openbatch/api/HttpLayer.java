package dev.openbatch.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.DuplexChannel;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.impl.ConnectionBase;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Holds every request body to its limit with 413 and the envelope, whatever its framing: uploads
 * against {@code openbatch.limits.max-upload-bytes} (plus room for the multipart framing), every
 * other request against {@code openbatch.limits.max-request-bytes}. A {@code Content-Length} over
 * the limit is refused before a byte of the body is stored or parsed; a chunked body is counted as
 * it arrives and refused the moment it passes the limit ({@link BodyCounter}). (A file just over its
 * limit inside a body within it is measured after spooling, in FileService.) Also refuses a URL
 * with an encoded NUL character, which no id or parameter can hold, and a control character in a
 * header we read ({@code Authorization}, {@code Idempotency-Key}).
 * <p>
 * What Vert.x and Quarkus answer before this filter runs has no body and cannot be given one: a
 * request line over {@code quarkus.http.limits.max-initial-line-length} (414), headers over
 * {@code quarkus.http.limits.max-header-size} (431), a URL that {@code java.net.URI} rejects (400),
 * a {@code Content-Length} over {@code quarkus.http.limits.max-body-size} (413), and a header value
 * with a control character other than a tab (400: Vert.x validates every header as it decodes it).
 */
@ApplicationScoped
public class HttpLayer {
    /**
     * Set on the routing context of a request whose chunked body went over its limit (already
     * answered with 413): an upload is then ended early so its spool file is deleted, and
     * {@code FilesResource} stores nothing from it.
     */
    public static final String BODY_REFUSED = "openbatch.body-refused";
    /** Room for the multipart framing and the small form fields around the file part of an upload. */
    static final long MULTIPART_SLACK = 64 * 1024;
    /** Runs before every other filter. */
    private static final int FIRST = 10_000;
    /** The headers whose values we read (and store or compare). */
    private static final List<String> READ_HEADERS = List.of("Authorization", "Idempotency-Key");
    /** Name of Vert.x's own handler in an HTTP/1.x connection's pipeline. */
    private static final String VERTX_HANDLER = "handler";
    /** How much of a refused chunked body is read and dropped, so a client that writes before it reads gets the 413. */
    static final long DRAIN_BYTES = 4 * 1024 * 1024;
    /** How long a refused chunked body may keep its connection at most. */
    private static final long DRAIN_MILLIS = 5_000;
    /** How long the connection stays half-closed (reading nothing) after the answer, so it arrives before the close. */
    private static final long LINGER_MILLIS = 500;

    private final LimitsConfig limits;
    private final ObjectMapper json;

    public HttpLayer(LimitsConfig limits, ObjectMapper json) {
        this.limits = limits;
        this.json = json;
    }

    void filters(@Observes Filters filters) {
        filters.register(this::check, FIRST);
    }

    /**
     * A request refused for its chunked body has its 413; when the reader it was cut from fails
     * later (the connection is gone) or the resource refuses it, there is nothing left to answer
     * and nothing to log.
     */
    void routes(@Observes Router router) {
        router.route().order(Integer.MIN_VALUE).failureHandler(ctx -> {
            if (ctx.get(BODY_REFUSED) != null && ctx.response().ended()) {
                return;
            }
            ctx.next();
        });
    }

    private void check(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        if (request.uri().contains("%00")) {
            // no id or parameter can hold one (PostgreSQL text cannot)
            answer(ctx, 400, ApiError.of("The URL contains a NUL character (%00); no id or parameter can hold one.",
                    "invalid_request_error", null, "invalid_request"));
            return;
        }
        for (String name : READ_HEADERS) {
            for (String value : request.headers().getAll(name)) {
                if (hasControlCharacter(value)) {
                    answer(ctx, 400, ApiError.of("The " + name + " header contains a control character; send printable text only.",
                            "invalid_request_error", name, "invalid_value"));
                    return;
                }
            }
        }
        String path = ctx.normalizedPath();
        boolean upload = request.method() == HttpMethod.POST && ("/v1/files".equals(path) || "/v1/files/".equals(path));
        long limit = upload ? limits.maxUploadBytes() + MULTIPART_SLACK : limits.maxRequestBytes();
        String header = request.getHeader(HttpHeaders.CONTENT_LENGTH);
        if (header == null) {
            if (request.isEnded()) {
                ctx.next(); // no body at all
            } else {
                countBody(ctx, upload, limit);
            }
            return;
        }
        long length;
        try {
            length = Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            ctx.next(); // the codec has already refused a malformed Content-Length
            return;
        }
        if (length <= limit) {
            ctx.next();
            return;
        }
        ApiError error = upload
                ? ApiError.of("The upload is " + length + " bytes; files may be at most " + limits.maxUploadBytes()
                        + " bytes (openbatch.limits.max-upload-bytes).", "invalid_request_error", "file", "file_too_large")
                : ApiError.of("The request body is " + length + " bytes; at most " + limits.maxRequestBytes()
                        + " bytes are accepted (openbatch.limits.max-request-bytes).", "invalid_request_error", null, "request_too_large");
        // The body is read and dropped, so that a client which sends it all before reading the answer still gets it.
        request.handler(buffer -> {
        });
        request.resume();
        ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
        answer(ctx, 413, error);
    }

    /**
     * A body of unknown length (HTTP/1.1 chunked) is counted as it arrives, ahead of every reader;
     * the moment it passes the limit the client gets 413, nothing more of it is stored, and the
     * connection is closed once the body ended or {@link #DRAIN_BYTES} more were dropped.
     * HTTP/2 has no hook in front of a stream's readers, so there a body must declare its length.
     */
    private void countBody(RoutingContext ctx, boolean upload, long limit) {
        HttpServerRequest request = ctx.request();
        if (request.version() == HttpVersion.HTTP_2 || !(request.connection() instanceof ConnectionBase connection)) {
            answer(ctx, 411, ApiError.of("Send a Content-Length header with a request body over HTTP/2 (or use HTTP/1.1).",
                    "invalid_request_error", null, "length_required"));
            return;
        }
        Channel channel = connection.channel();
        ChannelPipeline pipeline = channel.pipeline();
        if (pipeline.get(BodyCounter.NAME) != null) {
            pipeline.remove(BodyCounter.NAME);
        }
        Promise<Void> answered = Promise.promise();
        Runnable over = () -> {
            ApiError error = upload
                    ? ApiError.of("The upload is larger than allowed; files may be at most " + limits.maxUploadBytes()
                            + " bytes (openbatch.limits.max-upload-bytes).", "invalid_request_error", "file", "file_too_large")
                    : ApiError.of("The request body is larger than allowed; at most " + limits.maxRequestBytes()
                            + " bytes are accepted (openbatch.limits.max-request-bytes).", "invalid_request_error", null, "request_too_large");
            ctx.put(BODY_REFUSED, error);
            ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
            answer(ctx, 413, error).onComplete(answered);
            // a client that stops sending does not keep the connection
            channel.eventLoop().schedule(() -> channel.close(), DRAIN_MILLIS, TimeUnit.MILLISECONDS);
        };
        // the answer goes out, then the end of the stream; the client reads both before the connection goes
        Runnable done = () -> answered.future().onComplete(a -> {
            if (channel instanceof DuplexChannel duplex) {
                duplex.shutdownOutput();
            }
            channel.eventLoop().schedule(() -> channel.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
        });
        pipeline.addBefore(VERTX_HANDLER, BodyCounter.NAME, new BodyCounter(limit, upload, DRAIN_BYTES, over, done));
        ctx.next();
    }

    /** A control character (C0 or DEL) in a header value: none belongs in a key or an idempotency key. */
    static boolean hasControlCharacter(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return true;
            }
        }
        return false;
    }

    private Future<Void> answer(RoutingContext ctx, int status, ApiError error) {
        if (ctx.response().ended()) {
            return Future.succeededFuture();
        }
        String body;
        try {
            body = json.writeValueAsString(error);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body);
    }
}
