package dev.openbatch.organization;

import org.jboss.resteasy.reactive.RestQuery;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.auth.CurrentProject;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/**
 * {@code /v1/organization/projects}: the admin API for projects and their API keys, in OpenAI's
 * shapes. Only the admin key reaches it: {@code auth.AuthFilter} refuses a project key with 403
 * before a route is matched, and every method here checks again.
 */
@Path("/v1/organization/projects")
@Produces(MediaType.APPLICATION_JSON)
public class ProjectsResource {
    private final ProjectService projects;
    private final CurrentProject caller;

    public ProjectsResource(ProjectService projects, CurrentProject caller) {
        this.projects = projects;
        this.caller = caller;
    }

    /** The body of a project's creation or renaming, and of a key's creation. */
    @RegisterForReflection
    public record Named(String name) {
    }

    @GET
    public Uni<ListPage<ProjectView>> list(@RestQuery String limit, @RestQuery String after, @RestQuery("include_archived") String includeArchived) {
        admin();
        return projects.list(Params.integer("limit", limit), after, bool("include_archived", includeArchived));
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<ProjectView> create(Named body) {
        admin();
        return projects.create(body == null ? null : body.name());
    }

    @GET
    @Path("{project_id}")
    public Uni<ProjectView> get(@PathParam("project_id") String id) {
        admin();
        return projects.get(id);
    }

    @POST
    @Path("{project_id}")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<ProjectView> rename(@PathParam("project_id") String id, Named body) {
        admin();
        return projects.rename(id, body == null ? null : body.name());
    }

    @POST
    @Path("{project_id}/archive")
    public Uni<ProjectView> archive(@PathParam("project_id") String id) {
        admin();
        return projects.archive(id);
    }

    @GET
    @Path("{project_id}/api_keys")
    public Uni<ListPage<ApiKeyView>> keys(@PathParam("project_id") String id, @RestQuery String limit, @RestQuery String after) {
        admin();
        return projects.keys(id, Params.integer("limit", limit), after);
    }

    @POST
    @Path("{project_id}/api_keys")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<ApiKeyView.Created> createKey(@PathParam("project_id") String id, Named body) {
        admin();
        return projects.createKey(id, body == null ? null : body.name());
    }

    @GET
    @Path("{project_id}/api_keys/{key_id}")
    public Uni<ApiKeyView> key(@PathParam("project_id") String id, @PathParam("key_id") String keyId) {
        admin();
        return projects.key(id, keyId);
    }

    @DELETE
    @Path("{project_id}/api_keys/{key_id}")
    public Uni<ApiKeyView.Deleted> revoke(@PathParam("project_id") String id, @PathParam("key_id") String keyId) {
        admin();
        return projects.revoke(id, keyId);
    }

    private void admin() {
        caller.requireAdmin("The organization API needs the admin key; a project's key does not reach it.");
    }

    private static boolean bool(String name, String value) {
        if (value == null || value.isEmpty() || "false".equalsIgnoreCase(value)) {
            return false;
        }
        if ("true".equalsIgnoreCase(value)) {
            return true;
        }
        throw ApiException.invalid("Invalid '" + name + "': expected true or false.", name, "invalid_type");
    }
}
