package dev.openbatch.quotas;

import io.quarkus.hibernate.reactive.panache.PanacheRepositoryBase;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.LockModeType;

/** Locks a project's {@link QuotaLock} row in the current Hibernate transaction (the row must exist). */
@WithSession
@ApplicationScoped
public class QuotaLockRepository implements PanacheRepositoryBase<QuotaLock, String> {
    Uni<Void> lock(String project) {
        return findById(project, LockModeType.PESSIMISTIC_WRITE).invoke(row -> {
            if (row == null) {
                throw new IllegalStateException("no quota lock row for project " + project);
            }
        }).replaceWithVoid();
    }
}
