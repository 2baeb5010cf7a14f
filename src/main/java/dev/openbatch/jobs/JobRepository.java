package dev.openbatch.jobs;

import java.util.List;

import dev.openbatch.api.Cursor;
import io.quarkus.hibernate.reactive.panache.PanacheRepositoryBase;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.quarkus.panache.common.Parameters;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/** Jobs through Hibernate: one of a project's jobs, its default job, and a page of them in creation order. */
@WithSession
@ApplicationScoped
public class JobRepository implements PanacheRepositoryBase<JobEntity, String> {

    public Uni<JobEntity> findOwned(String project, String id) {
        return find("id = :id and project = :project", Parameters.with("id", id).and("project", project)).firstResult();
    }

    public Uni<JobEntity> findDefault(String project) {
        return find("project = :project and isDefault = true", Parameters.with("project", project)).firstResult();
    }

    /** Newest first, after the cursor. */
    public Uni<List<JobEntity>> page(String project, JobEntity after, int limit) {
        Parameters p = Parameters.with("project", project);
        String q = Cursor.after("project = :project", p, false, after == null ? null : after.createdUs, after == null ? null : after.id);
        return find(q, p).page(0, limit).list();
    }
}
