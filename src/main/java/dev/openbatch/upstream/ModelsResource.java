package dev.openbatch.upstream;

import java.util.List;

import dev.openbatch.api.ApiException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/** GET /v1/models: every model the upstreams (and the built-in engine) serve, in the OpenAI list shape. */
@Path("/v1/models")
@Produces(MediaType.APPLICATION_JSON)
public class ModelsResource {
    private final Upstreams upstreams;
    private final long started = System.currentTimeMillis() / 1000;

    public ModelsResource(Upstreams upstreams) {
        this.upstreams = upstreams;
    }

    public record Model(String id, String object, long created, String owned_by) {
    }

    public record ModelList(String object, List<Model> data) {
    }

    @GET
    public ModelList list() {
        return new ModelList("list", upstreams.ownerByModel().entrySet().stream()
                .map(e -> new Model(e.getKey(), "model", started, e.getValue())).toList());
    }

    @GET
    @Path("{model}")
    public Model get(@PathParam("model") String model) {
        String owner = upstreams.ownerByModel().get(model);
        if (owner == null) {
            throw ApiException.notFound("model", model);
        }
        return new Model(model, "model", started, owner);
    }
}
