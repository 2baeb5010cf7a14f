package dev.openbatch.batches;
import dev.openbatch.status.BatchStatus;

import java.util.List;

import dev.openbatch.api.Cursor;
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
        String q = Cursor.after("project = :project", p, false, after == null ? null : after.createdUs, after == null ? null : after.id);
        return find(q, p).page(0, limit).list();
    }

    /** The project's live batches (validating, in_progress, finalizing, cancelling). */
    public Uni<Long> countLive(String project) {
        return count("project = :project and status in (:live)", Parameters.with("project", project)
                .and("live", BatchStatus.LIVE.stream().map(BatchStatus::wire).toList()));
    }

    /** validating|in_progress -> cancelling; 1 when it moved. */
    public Uni<Integer> markCancelling(String project, String id, long now) {
        return update("status = :newStatus, cancellingAt = :now where id = :id and project = :project and status in (:from)",
                Parameters.with("now", now).and("id", id).and("project", project).and("newStatus", BatchStatus.CANCELLING.wire())
                        .and("from", List.of(BatchStatus.VALIDATING.wire(), BatchStatus.IN_PROGRESS.wire())));
    }
}
