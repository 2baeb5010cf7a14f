package dev.openbatch.jobs;

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

/** {@code /v1/jobs}: create, list and get a project's jobs (each batch runs in one: its model, window, priority and cap). */
@Path("/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
public class JobsResource {
    private final JobService jobs;
    private final CurrentProject project;

    public JobsResource(JobService jobs, CurrentProject project) {
        this.jobs = jobs;
        this.project = project;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<JobView> create(JobService.CreateJob body) {
        return jobs.create(project.id(), body);
    }

    @GET
    public Uni<ListPage<JobView>> list(@RestQuery String limit, @RestQuery String after) {
        return jobs.list(project.id(), Params.integer("limit", limit), after);
    }

    @GET
    @Path("{id}")
    public Uni<JobView> get(@PathParam("id") String id) {
        return jobs.get(project.id(), id);
    }
}
