package dev.openbatch.files;

import java.util.List;

import io.quarkus.hibernate.reactive.panache.PanacheRepositoryBase;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.quarkus.panache.common.Parameters;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

@WithSession
@ApplicationScoped
public class FileRepository implements PanacheRepositoryBase<FileEntity, String> {

    /** The project's file, or null: another project's file does not exist for the caller. */
    public Uni<FileEntity> findOwned(String project, String id) {
        return find("id = :id and project = :project", Parameters.with("id", id).and("project", project)).firstResult();
    }

    /** Up to {@code limit} files after the cursor, in the requested order. */
    public Uni<List<FileEntity>> page(String project, String purpose, boolean ascending, FileEntity after, int limit) {
        StringBuilder q = new StringBuilder("project = :project");
        Parameters p = Parameters.with("project", project);
        if (purpose != null) {
            q.append(" and purpose = :purpose");
            p.and("purpose", purpose);
        }
        if (after != null) {
            q.append(ascending
                    ? " and (createdUs > :us or (createdUs = :us and id > :id))"
                    : " and (createdUs < :us or (createdUs = :us and id < :id))");
            p.and("us", after.createdUs).and("id", after.id);
        }
        q.append(ascending ? " order by createdUs asc, id asc" : " order by createdUs desc, id desc");
        return find(q.toString(), p).page(0, limit).list();
    }
}
