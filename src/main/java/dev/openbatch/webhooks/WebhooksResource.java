package dev.openbatch.webhooks;

import org.jboss.resteasy.reactive.RestQuery;

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
 * {@code /v1/webhooks}: a project's webhook endpoints. The same resource answers at
 * {@code /v1/webhook_endpoints} ({@link WebhookEndpointsResource}), the path the official OpenAI
 * SDKs use.
 */
@Path("/v1/webhooks")
@Produces(MediaType.APPLICATION_JSON)
public class WebhooksResource {
    private final WebhookService webhooks;
    private final CurrentProject project;

    public WebhooksResource(WebhookService webhooks, CurrentProject project) {
        this.webhooks = webhooks;
        this.project = project;
    }

    @RegisterForReflection
    public record Deleted(String id, String object, boolean deleted) {
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<WebhookEndpointView> create(WebhookService.EndpointParams body) {
        return webhooks.create(project.id(), body);
    }

    @GET
    public Uni<ListPage<WebhookEndpointView>> list(@RestQuery String limit, @RestQuery String after) {
        return webhooks.list(project.id(), Params.integer("limit", limit), after);
    }

    @GET
    @Path("{id}")
    public Uni<WebhookEndpointView> get(@PathParam("id") String id) {
        return webhooks.get(project.id(), id);
    }

    @POST
    @Path("{id}")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<WebhookEndpointView> update(@PathParam("id") String id, WebhookService.EndpointParams body) {
        return webhooks.update(project.id(), id, body);
    }

    @DELETE
    @Path("{id}")
    public Uni<Deleted> delete(@PathParam("id") String id) {
        return webhooks.delete(project.id(), id).map(v -> new Deleted(id, "webhook_endpoint.deleted", true));
    }

    @POST
    @Path("{id}/rotate_secret")
    public Uni<WebhookEndpointView> rotateSecret(@PathParam("id") String id) {
        return webhooks.rotateSecret(project.id(), id);
    }

    @GET
    @Path("{id}/deliveries")
    public Uni<ListPage<WebhookDeliveryView>> deliveries(@PathParam("id") String id, @RestQuery String limit, @RestQuery String after) {
        return webhooks.deliveries(project.id(), id, Params.integer("limit", limit), after);
    }
}
