package dev.openbatch.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Refuses a body whose {@code Content-Length} is over its limit with 413 and the envelope, before
 * a byte of it is stored or parsed: uploads against {@code openbatch.limits.max-upload-bytes}, every
 * other request against {@code openbatch.limits.max-request-bytes}. (A chunked upload is measured
 * after it was spooled, in FileService.) Also refuses a URL with an encoded NUL character, which
 * no id or parameter can hold.
 * <p>
 * What Vert.x and Quarkus answer before this filter runs has no body and cannot be given one: a
 * request line over {@code quarkus.http.limits.max-initial-line-length} (414), headers over
 * {@code quarkus.http.limits.max-header-size} (431), a URL that {@code java.net.URI} rejects (400),
 * a {@code Content-Length} over {@code quarkus.http.limits.max-body-size} (413).
 */
@ApplicationScoped
public class HttpLayer {
    /** Room for the multipart framing and the small form fields around the file part of an upload. */
    static final long MULTIPART_SLACK = 64 * 1024;
    /** Runs before every other filter. */
    private static final int FIRST = 10_000;

    private final LimitsConfig limits;
    private final ObjectMapper json;

    public HttpLayer(LimitsConfig limits, ObjectMapper json) {
        this.limits = limits;
        this.json = json;
    }

    void filters(@Observes Filters filters) {
        filters.register(this::check, FIRST);
    }

    private void check(RoutingContext ctx) {
        if (ctx.request().uri().contains("%00")) {
            // no id or parameter can hold one (PostgreSQL text cannot)
            answer(ctx, 400, ApiError.of("The URL contains a NUL character (%00); no id or parameter can hold one.",
                    "invalid_request_error", null, "invalid_request"));
            return;
        }
        String header = ctx.request().getHeader(HttpHeaders.CONTENT_LENGTH);
        if (header == null) {
            ctx.next();
            return;
        }
        long length;
        try {
            length = Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            ctx.next(); // the codec has already refused a malformed Content-Length
            return;
        }
        String path = ctx.normalizedPath();
        boolean upload = ctx.request().method() == HttpMethod.POST && ("/v1/files".equals(path) || "/v1/files/".equals(path));
        long limit = upload ? limits.maxUploadBytes() + MULTIPART_SLACK : limits.maxRequestBytes();
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
        ctx.request().handler(buffer -> {
        });
        ctx.request().resume();
        ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
        answer(ctx, 413, error);
    }

    private void answer(RoutingContext ctx, int status, ApiError error) {
        if (ctx.response().ended()) {
            return;
        }
        String body;
        try {
            body = json.writeValueAsString(error);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body);
    }
}
