package dev.openbatch.batches;

import java.util.List;

import io.quarkus.hibernate.reactive.panache.PanacheRepositoryBase;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.quarkus.panache.common.Parameters;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

@WithSession
@ApplicationScoped
public class BatchRepository implements PanacheRepositoryBase<BatchEntity, String> {

    public Uni<BatchEntity> findOwned(String project, String id) {
        return find("id = :id and project = :project", Parameters.with("id", id).and("project", project)).firstResult();
    }

    public Uni<BatchEntity> findByIdempotencyKey(String project, String key) {
        return find("project = :project and idempotencyKey = :key", Parameters.with("project", project).and("key", key)).firstResult();
    }

    /** Newest first (creation order breaks ties), after the cursor. */
    public Uni<List<BatchEntity>> page(String project, BatchEntity after, int limit) {
        Parameters p = Parameters.with("project", project);
        String q = "project = :project";
        if (after != null) {
            q += " and (createdUs < :us or (createdUs = :us and id < :id))";
            p.and("us", after.createdUs).and("id", after.id);
        }
        return find(q + " order by createdUs desc, id desc", p).page(0, limit).list();
    }

    /** validating|in_progress -> cancelling; 1 when it moved. */
    public Uni<Integer> markCancelling(String project, String id, long now) {
        return update("status = 'cancelling', cancellingAt = :now where id = :id and project = :project"
                + " and status in ('validating', 'in_progress')",
                Parameters.with("now", now).and("id", id).and("project", project));
    }
}
