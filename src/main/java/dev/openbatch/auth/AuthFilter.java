package dev.openbatch.auth;

import org.jboss.resteasy.reactive.RestResponse;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import dev.openbatch.api.ApiError;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;

/** Every /v1 request carries {@code Authorization: Bearer <key>}; the key names the project. */
public class AuthFilter {
    private final Keys keys;
    private final CurrentProject current;

    public AuthFilter(Keys keys, CurrentProject current) {
        this.keys = keys;
        this.current = current;
    }

    @ServerRequestFilter(preMatching = true)
    public RestResponse<ApiError> authenticate(ContainerRequestContext request) {
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        String key = null;
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            key = header.substring(7).trim();
        }
        var project = keys.project(key);
        if (project.isEmpty()) {
            String message = key == null
                    ? "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."
                    : "Incorrect API key provided.";
            return RestResponse.ResponseBuilder.<ApiError>create(401).entity(ApiError.of(message, "invalid_request_error", null, "invalid_api_key"))
                    .type(MediaType.APPLICATION_JSON_TYPE).build();
        }
        current.set(project.get());
        return null;
    }
}
