package dev.openbatch.files;

import java.util.List;

import dev.openbatch.api.Cursor;
import io.quarkus.hibernate.reactive.panache.PanacheRepositoryBase;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.quarkus.panache.common.Parameters;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.LockModeType;

/**
 * Files' metadata rows through Hibernate: one of a project's files, and a page of them in creation
 * order. An upload in progress is not a file yet: neither finds it.
 */
@WithSession
@ApplicationScoped
public class FileRepository implements PanacheRepositoryBase<FileEntity, String> {

    /**
     * {@link #findOwned}, its row read {@code for share} until the transaction ends: a batch being
     * made from the file keeps a DELETE of it waiting until the batch is there to be seen.
     */
    public Uni<FileEntity> findOwnedForShare(String project, String id) {
        return find("id = :id and project = :project and uploadUntil is null", Parameters.with("id", id).and("project", project))
                .withLock(LockModeType.PESSIMISTIC_READ).firstResult();
    }

    /** The project's file, or null: another project's file does not exist for the caller. */
    public Uni<FileEntity> findOwned(String project, String id) {
        return find("id = :id and project = :project and uploadUntil is null", Parameters.with("id", id).and("project", project)).firstResult();
    }

    /** Up to {@code limit} files after the cursor, in the requested order. */
    public Uni<List<FileEntity>> page(String project, String purpose, boolean ascending, FileEntity after, int limit) {
        Parameters p = Parameters.with("project", project);
        String where = "project = :project and uploadUntil is null";
        if (purpose != null) {
            where += " and purpose = :purpose";
            p.and("purpose", purpose);
        }
        String q = Cursor.after(where, p, ascending, after == null ? null : after.createdUs, after == null ? null : after.id);
        return find(q, p).page(0, limit).list();
    }
}
