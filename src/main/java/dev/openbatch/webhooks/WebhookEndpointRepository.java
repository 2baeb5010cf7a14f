package dev.openbatch.webhooks;

import java.util.List;

import dev.openbatch.api.Cursor;
import io.quarkus.hibernate.reactive.panache.PanacheRepositoryBase;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.quarkus.panache.common.Parameters;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/** Webhook endpoints through Hibernate: one of a project's endpoints, how many it has, and a page of them. */
@WithSession
@ApplicationScoped
public class WebhookEndpointRepository implements PanacheRepositoryBase<WebhookEndpointEntity, String> {

    /** The project's endpoint, or null: another project's endpoint does not exist for the caller. */
    public Uni<WebhookEndpointEntity> findOwned(String project, String id) {
        return find("id = :id and project = :project", Parameters.with("id", id).and("project", project)).firstResult();
    }

    public Uni<Long> countOwned(String project) {
        return count("project = :project", Parameters.with("project", project));
    }

    /** Newest first, after the cursor. */
    public Uni<List<WebhookEndpointEntity>> page(String project, WebhookEndpointEntity after, int limit) {
        Parameters p = Parameters.with("project", project);
        String q = Cursor.after("project = :project", p, false, after == null ? null : after.createdUs, after == null ? null : after.id);
        return find(q, p).page(0, limit).list();
    }
}
