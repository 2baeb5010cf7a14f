package dev.openbatch.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.DuplexChannel;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.impl.HttpUtils;
import io.vertx.core.net.impl.ConnectionBase;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

/**
 * Holds every request body to its limit with 413 and the envelope, whatever its framing: uploads
 * against {@code openbatch.limits.max-upload-bytes} (plus room for the multipart framing), every
 * other request against {@code openbatch.limits.max-request-bytes}. A {@code Content-Length} over
 * the limit is refused before a byte of the body is stored or parsed; a chunked body is counted as
 * it arrives and refused the moment it passes the limit ({@link BodyCounter}). (A file just over its
 * limit inside a body within it is counted as it streams in, by {@code files/Upload}.) Also refuses a URL
 * with an encoded NUL character, which no id or parameter can hold, and any request header HTTP
 * does not allow (a control character other than a tab in its value, a name that is not a token):
 * Vert.x's codec leaves that check to us ({@link dev.openbatch.Main}), so it comes with the
 * envelope, and every response header is checked here before it is written.
 * <p>
 * What Vert.x and Quarkus answer before this filter runs has no body and cannot be given one: a
 * request line over {@code quarkus.http.limits.max-initial-line-length} (414), headers over
 * {@code quarkus.http.limits.max-header-size} (431), a URL that {@code java.net.URI} rejects (400),
 * a {@code Content-Length} that is not a number or is over {@code quarkus.http.limits.max-body-size}
 * (400, 413), and a header whose value begins, right after the colon, with a vertical tab, a form
 * feed or an information separator (0x1C-0x1F): Netty's parser refuses that separator itself (400). A missing or unreadable {@code Host} is refused by the router; that one gets the
 * envelope from the failure handler below.
 */
@ApplicationScoped
public class HttpLayer {
    private static final Logger LOG = Logger.getLogger(HttpLayer.class);
    /**
     * Set on the routing context of a request whose chunked body went over its limit (already
     * answered with 413): an upload is then ended early and {@code files/Upload} rolls back what
     * it had stored of it.
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
            if (ctx.statusCode() == 400 && ctx.request().version() != HttpVersion.HTTP_2 && ctx.request().authority() == null) {
                // the router refuses an HTTP/1.1 request without a readable Host header before any filter runs
                ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
                answer(ctx, 400, ApiError.of("Send a valid Host header; HTTP/1.1 requires one.", "invalid_request_error", "Host",
                        "invalid_header")).onComplete(a -> ctx.request().connection().close());
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
        ApiError badHeader = badHeader(request.headers());
        if (badHeader != null) {
            // the rest of such a request is not trusted to be framed as it says: the connection ends with the answer
            boolean http1 = request.version() != HttpVersion.HTTP_2;
            if (http1) {
                ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
            }
            answer(ctx, 400, badHeader).onComplete(a -> {
                if (http1) {
                    request.connection().close();
                }
            });
            return;
        }
        ctx.addHeadersEndHandler(v -> dropBadResponseHeaders(ctx.response().headers()));
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
        Runnable done = () -> answered.future().onComplete(a -> halfClose(channel));
        pipeline.addBefore(VERTX_HANDLER, BodyCounter.NAME, new BodyCounter(limit, upload, DRAIN_BYTES, over, done));
        ctx.next();
    }

    /** Ends the stream (the client reads what was sent, then its end) and closes the connection {@link #LINGER_MILLIS} later. */
    private static void halfClose(Channel channel) {
        if (channel instanceof DuplexChannel duplex) {
            duplex.shutdownOutput();
        }
        channel.eventLoop().schedule(() -> channel.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
    }

    /**
     * The connection of a request answered before its body has ended (an upload cut for its pace or
     * deadline, or that found no slot) ends with the answer, whoever writes it: {@code Connection:
     * close}, and once the answer is on the wire the stream ends, the connection closing a moment
     * later (what arrives meanwhile is read and dropped by the caller). Over HTTP/2 the connection
     * is shared: there the answer ends the request's stream only.
     */
    public static void closeAfterAnswer(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        if (request.version() == HttpVersion.HTTP_2 || !(request.connection() instanceof ConnectionBase connection)) {
            return;
        }
        ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
        ctx.addEndHandler(ended -> {
            // as Vert.x closes a connection: an empty write after the answer's, flushed, says when the answer is out
            ChannelHandlerContext chctx = connection.channelHandlerContext();
            chctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> halfClose(chctx.channel()));
        });
    }

    /**
     * The error for the first request header that HTTP does not allow (a name that is not a token,
     * a value with a control character other than a tab), or null. Vert.x's codec would refuse it
     * with a bare 400; openbatch turns that check off ({@link dev.openbatch.Main}) and applies the
     * same rules here, so the client gets the envelope, naming the header when its name is valid.
     */
    static ApiError badHeader(MultiMap headers) {
        for (Map.Entry<String, String> header : headers) {
            String name = header.getKey();
            try {
                HttpUtils.validateHeaderName(name);
            } catch (IllegalArgumentException e) {
                return ApiError.of("A request header's name holds a character HTTP does not allow in a header name.",
                        "invalid_request_error", null, "invalid_header");
            }
            String value = header.getValue();
            boolean read = READ_HEADERS.stream().anyMatch(name::equalsIgnoreCase);
            if (read ? hasControlCharacter(value) : !validValue(value)) {
                String canonical = read ? READ_HEADERS.stream().filter(name::equalsIgnoreCase).findFirst().orElse(name) : name;
                return ApiError.of("The " + canonical + " header contains a control character; send printable text only.",
                        "invalid_request_error", canonical, read ? "invalid_value" : "invalid_header");
            }
        }
        return null;
    }

    /**
     * Every response header is checked before it is written, as Vert.x would with its own checks
     * on: one that could end the header block or split the answer (CR, LF, NUL...) is dropped and
     * logged, never sent. No header of ours carries such a character; this keeps it that way.
     */
    static void dropBadResponseHeaders(MultiMap headers) {
        List<String> bad = null;
        for (Map.Entry<String, String> header : headers) {
            boolean ok;
            try {
                HttpUtils.validateHeaderName(header.getKey());
                ok = validValue(header.getValue());
            } catch (IllegalArgumentException e) {
                ok = false;
            }
            if (!ok) {
                bad = bad == null ? new ArrayList<>() : bad;
                bad.add(header.getKey());
            }
        }
        if (bad != null) {
            for (String name : bad) {
                LOG.errorf("response header %s held a character HTTP does not allow; it was not sent", LogText.of(name));
                headers.remove(name);
            }
        }
    }

    /** Vert.x's own rule for a header value (control characters other than a tab, and a bare CR or LF, are refused). */
    static boolean validValue(String value) {
        try {
            HttpUtils.validateHeaderValue(value);
            return !hasControlCharacter(value.replace('\t', ' '));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Warns when Vert.x's codec still checks header characters itself (openbatch started without {@link dev.openbatch.Main}). */
    void warnIfCodecChecks(@Observes StartupEvent ev) {
        if (!io.vertx.core.http.HttpHeaders.DISABLE_HTTP_HEADERS_VALIDATION) {
            LOG.warnf("-D%s=true is not set: a control character in a request header gets a 400 without the error envelope."
                    + " Start openbatch through its main class (java -jar quarkus-run.jar does), or set the property.",
                    dev.openbatch.Main.HEADER_CHECKS_PROPERTY);
        }
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
