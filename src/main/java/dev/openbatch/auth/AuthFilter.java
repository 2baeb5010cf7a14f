package dev.openbatch.auth;

import java.util.Set;

import org.jboss.resteasy.reactive.RestResponse;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

import dev.openbatch.api.ApiError;
import dev.openbatch.api.ApiException;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;

/**
 * Every /v1 request carries {@code Authorization: Bearer <key>}; the key names the caller.
 * <ul>
 * <li>A project key reaches its project's data, and of {@code /v1/organization/…} only the reads
 * of what concerns its own project: {@code GET /v1/organization/projects/<its own id>/quotas}, and
 * {@code GET /v1/organization/usage/batches} and {@code /costs} (which answer only its own project's
 * figures, see {@code usage.UsageResource}): anything else there is 403.</li>
 * <li>The admin key reaches {@code /v1/organization/…}, and reads (GET only) a project's data on
 * the other routes when the request names the project in {@code OpenAI-Project}, archived
 * projects included.</li>
 * <li>In open mode every caller is project {@code default}, and the admin API is closed (403).</li>
 * </ul>
 * An answer to a request of a project's data carries that project's id in {@code OpenAI-Project}
 * (the header that names it on the admin key's requests), so that a key's holder, the console
 * among them, learns which project it is.
 */
public class AuthFilter {
    static final String ORGANIZATION = "/v1/organization";
    static final String PROJECT_HEADER = "OpenAI-Project";

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
        var caller = keys.caller(key);
        if (caller.isEmpty()) {
            String message = key == null
                    ? "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."
                    : "Incorrect API key provided.";
            return refuse(ApiException.unauthorized(message));
        }
        String path = ("/" + request.getUriInfo().getPath()).replaceAll("/{2,}", "/");
        boolean organization = path.equals(ORGANIZATION) || path.startsWith(ORGANIZATION + "/");
        String method = request.getMethod();
        boolean read = "GET".equals(method) || "HEAD".equals(method);
        if (caller.get().admin()) {
            if (organization) {
                current.set(null, true);
                return null;
            }
            String project = request.getHeaderString(PROJECT_HEADER);
            if (project == null || project.isBlank()) {
                return refuse(ApiException.invalid("The admin key reaches a project's data only with the header '" + PROJECT_HEADER
                        + ": <project id>'.", PROJECT_HEADER, "missing_project"));
            }
            project = project.trim();
            if (keys.status(project) == null) {
                return refuse(ApiException.notFound("project", project));
            }
            if (!read) {
                return refuse(ApiException.forbidden("The admin key only reads a project's data (GET); use one of the project's keys to change it."));
            }
            current.set(project, true);
            return null;
        }
        String project = caller.get().project();
        if (organization && !(read && ownReads(project).contains(path.replaceAll("/$", "")))) {
            return refuse(ApiException.forbidden(keys.hasAdmin()
                    ? "The organization API needs the admin key; a project's key does not reach it."
                    : "The organization API is closed: no admin key is configured (openbatch.auth.admin-key)."));
        }
        current.set(project, false);
        return null;
    }

    /** The paths under {@code /v1/organization} a project key may read. */
    private static Set<String> ownReads(String project) {
        return Set.of(ORGANIZATION + "/projects/" + project + "/quotas", ORGANIZATION + "/usage/batches", ORGANIZATION + "/costs");
    }

    @ServerResponseFilter
    public void projectHeader(ContainerResponseContext response) {
        String project = current.known();
        if (project != null) {
            response.getHeaders().putSingle(PROJECT_HEADER, project);
        }
    }

    private static RestResponse<ApiError> refuse(ApiException e) {
        return RestResponse.ResponseBuilder.<ApiError>create(e.status()).entity(e.toError()).type(MediaType.APPLICATION_JSON_TYPE).build();
    }
}
