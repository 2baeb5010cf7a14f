package dev.openbatch.api;

import java.io.IOException;

import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.RestResponse;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;
import org.jboss.resteasy.reactive.server.core.multipart.MultipartParser;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;

import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotAcceptableException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;

/**
 * The one place where failures become HTTP answers: every non-2xx carries the OpenAI envelope,
 * with a message a person can act on and never a class name or a stack trace.
 */
public class ErrorMappers {
    private static final Logger LOG = Logger.getLogger(ErrorMappers.class);

    static RestResponse<ApiError> respond(int status, ApiError error) {
        return RestResponse.ResponseBuilder.<ApiError>create(status).entity(error).type(MediaType.APPLICATION_JSON_TYPE).build();
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> api(ApiException e) {
        return respond(e.status(), e.toError());
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> notFound(NotFoundException e) {
        return respond(404, ApiError.of("Unknown request URL. Check the path and the method; the API lives under /v1.",
                "invalid_request_error", null, "unknown_url"));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> notAllowed(NotAllowedException e, HttpServerRequest request) {
        var allowed = e.getResponse().getAllowedMethods();
        return respond(405, ApiError.of("Method " + request.method().name() + " is not allowed for this URL"
                + (allowed.isEmpty() ? "." : "; allowed: " + String.join(", ", allowed) + "."),
                "invalid_request_error", null, "method_not_allowed"));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> unsupported(NotSupportedException e) {
        return respond(415, ApiError.of("Unsupported Content-Type. Send application/json (multipart/form-data for file uploads).",
                "invalid_request_error", null, "unsupported_media_type"));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> notAcceptable(NotAcceptableException e) {
        return respond(406, ApiError.of("This endpoint answers application/json; the Accept header asks for something else.",
                "invalid_request_error", null, "not_acceptable"));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> unrecognized(UnrecognizedPropertyException e) {
        return respond(400, ApiError.of("Unrecognized request argument supplied: " + e.getPropertyName(),
                "invalid_request_error", e.getPropertyName(), "unknown_parameter"));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> mismatched(MismatchedInputException e) {
        String param = JsonErrors.path(e);
        return respond(400, ApiError.of(param == null
                ? "The request body is not valid JSON of the expected shape."
                : "Invalid type for '" + param + "'.", "invalid_request_error", param, "invalid_type"));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> json(JsonProcessingException e) {
        String param = e instanceof JsonMappingException m ? JsonErrors.path(m) : null;
        if (param != null) {
            // well-formed JSON with a value that does not fit its field (a number out of range, for one)
            String why = e.getCause() instanceof JsonProcessingException c ? ": " + ApiException.clip(c.getOriginalMessage()) : "";
            return respond(400, ApiError.of("Invalid value for '" + ApiException.clip(param) + "'" + why + ".",
                    "invalid_request_error", param, "invalid_value"));
        }
        return respond(400, ApiError.of("We could not parse the JSON body of your request. "
                + "(Make sure the body is valid JSON and the Content-Type is application/json.)",
                "invalid_request_error", null, "invalid_json"));
    }

    /** A body that ended early or is not the multipart it claims to be (the parsers say so with these). */
    @ServerExceptionMapper({ IOException.class, MultipartParser.MalformedMessageException.class })
    public RestResponse<ApiError> unreadable(Exception e) {
        if (databaseUnreachable(e)) { // java.net.ConnectException is an IOException too: not the client's fault
            return unavailable(e);
        }
        return respond(400, ApiError.of("The request body could not be read: it ended early or is not well-formed. "
                + "(Uploads are multipart/form-data with a 'file' part and a 'purpose' field.)",
                "invalid_request_error", null, "invalid_body"));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> web(WebApplicationException e) {
        int status = e.getResponse() == null ? 500 : e.getResponse().getStatus();
        Throwable cause = e.getCause();
        if (cause instanceof ApiException api) {
            return api(api);
        }
        if (cause instanceof JsonProcessingException jpe) {
            return json(jpe);
        }
        if (status >= 500) {
            LOG.error("request failed", e);
            return internal();
        }
        String message = switch (status) {
            case 400 -> "The request is malformed.";
            case 401 -> "Missing or invalid API key.";
            case 413 -> "The request body is too large.";
            case 414 -> "The request URL is too long.";
            case 431 -> "The request headers are too large.";
            default -> "The request could not be served (HTTP " + status + ").";
        };
        return respond(status, ApiError.of(message, "invalid_request_error", null, null));
    }

    @ServerExceptionMapper
    public RestResponse<ApiError> any(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            if (root.getCause() instanceof ApiException api) {
                return api(api);
            }
            root = root.getCause();
        }
        if (clientGone(e)) {
            // the client's own connection closed while its request was read: nobody is left to answer
            LOG.debugf("request abandoned, the client closed its connection: %s", LogText.of(String.valueOf(root.getMessage())));
            return respond(400, ApiError.of("The connection closed before the request was read.", "invalid_request_error", null, null));
        }
        if (databaseUnreachable(e)) {
            return unavailable(root);
        }
        LOG.error("request failed", e);
        return internal();
    }

    private static RestResponse<ApiError> unavailable(Throwable e) {
        LOG.warnf("request failed, the database is unreachable: %s", LogText.of(e.getMessage()));
        return respond(503, ApiError.of("The service cannot reach its database right now. Retry in a few seconds.",
                "server_error", null, "service_unavailable"));
    }

    /** Whether the failure is the HTTP connection of the request itself closing (not the database's). */
    private static boolean clientGone(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof io.vertx.core.http.HttpClosedException) {
                return true;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return false;
    }

    private static boolean databaseUnreachable(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            String m = c.getMessage() == null ? "" : c.getMessage();
            if (c instanceof java.net.ConnectException || c instanceof io.vertx.core.VertxException && m.contains("closed")
                    || m.contains("Connection refused") || m.contains("the database system is")) {
                return true;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return false;
    }

    private static RestResponse<ApiError> internal() {
        return respond(500, ApiError.of("The server had an error while processing your request. Retry it; "
                + "if it keeps failing, the operator's log has the details.", "server_error", null, "internal_error"));
    }
}
