package dev.openbatch.quotas;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.openbatch.api.ApiException;
import dev.openbatch.auth.CurrentProject;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/**
 * {@code /v1/organization/projects/{id}/quotas}: a project's headroom (limit, used and remaining of
 * each quota), for the admin or the project's own key; and the admin's overrides.
 */
@Path("/v1/organization/projects/{id}/quotas")
public class QuotasResource {
    private final Quotas quotas;
    private final SpendCaps caps;
    private final CurrentProject current;

    public QuotasResource(Quotas quotas, SpendCaps caps, CurrentProject current) {
        this.quotas = quotas;
        this.caps = caps;
        this.current = current;
    }

    /** The list a client sizes its next batch with. */
    public record HeadroomList(String object, String project, List<Quotas.Headroom> data) {
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<HeadroomList> headroom(@PathParam("id") String id) {
        if (!current.admin() && !id.equals(current.id())) {
            throw ApiException.forbidden("A project key may read its own project's quotas only.");
        }
        return all(id);
    }

    /**
     * Sets overrides, {@code {"quota": value}} ({@code null} removes one), and answers the headroom
     * after. Admin only. A change of a spend cap pauses or resumes the project at once.
     */
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<HeadroomList> override(@PathParam("id") String id, Map<String, BigDecimal> body) {
        current.requireAdmin("Only the admin key may set a project's quotas.");
        return quotas.override(id, body).chain(() -> caps.check(id)).chain(() -> all(id));
    }

    /** Every quota's headroom: the spend caps after the others. */
    private Uni<HeadroomList> all(String id) {
        return quotas.headroom(id).chain(list -> caps.headroom(id).map(spend -> {
            List<Quotas.Headroom> all = new ArrayList<>(list);
            all.addAll(spend);
            return new HeadroomList("list", id, all);
        }));
    }
}
