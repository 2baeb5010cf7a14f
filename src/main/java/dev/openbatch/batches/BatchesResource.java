package dev.openbatch.batches;

import org.jboss.resteasy.reactive.RestHeader;
import org.jboss.resteasy.reactive.RestQuery;

import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.auth.CurrentProject;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

@Path("/v1/batches")
@Produces(MediaType.APPLICATION_JSON)
public class BatchesResource {
    private final BatchService batches;
    private final CurrentProject project;

    public BatchesResource(BatchService batches, CurrentProject project) {
        this.batches = batches;
        this.project = project;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<BatchView> create(BatchService.CreateBatch body, @RestHeader("Idempotency-Key") String idempotencyKey) {
        return batches.create(project.id(), body, idempotencyKey);
    }

    @GET
    public Uni<ListPage<BatchView>> list(@RestQuery String limit, @RestQuery String after) {
        return batches.list(project.id(), Params.integer("limit", limit), after);
    }

    @GET
    @Path("{id}")
    public Uni<BatchView> get(@PathParam("id") String id) {
        return batches.get(project.id(), id);
    }

    @POST
    @Path("{id}/cancel")
    public Uni<BatchView> cancel(@PathParam("id") String id) {
        return batches.cancel(project.id(), id);
    }
}
