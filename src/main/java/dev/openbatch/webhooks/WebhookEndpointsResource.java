package dev.openbatch.webhooks;

import dev.openbatch.auth.CurrentProject;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/** {@code /v1/webhook_endpoints}: {@link WebhooksResource} at the path the official OpenAI SDKs call. */
@Path("/v1/webhook_endpoints")
@Produces(MediaType.APPLICATION_JSON)
public class WebhookEndpointsResource extends WebhooksResource {
    public WebhookEndpointsResource(WebhookService webhooks, CurrentProject project) {
        super(webhooks, project);
    }
}
