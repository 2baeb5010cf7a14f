package dev.openbatch.organization;

import java.util.List;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.api.Time;
import dev.openbatch.auth.Keys;
import dev.openbatch.status.ProjectStatus;
import dev.openbatch.store.ProjectStore;
import dev.openbatch.store.Transactions;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Projects and their API keys, for the admin API. A key's secret is made here, shown once in the
 * answer to its creation, and stored only as its SHA-256; every change that makes a key start or
 * stop working is followed by a {@link Keys#refresh} here (the other processes see it at their
 * next poll of the key epoch).
 */
@ApplicationScoped
public class ProjectService {
    static final int MAX_NAME = 256;
    private static final int DEFAULT_LIMIT = 20;
    private static final int MAX_LIMIT = 100;

    private final ProjectStore store;
    private final Keys keys;
    private final Time time;

    public ProjectService(Transactions transactions, Keys keys, Time time) {
        this.store = new ProjectStore(transactions);
        this.keys = keys;
        this.time = time;
    }

    public Uni<ProjectView> create(String name) {
        String n = name("name", name);
        return store.createProject(Ids.project(), n, time.seconds(), time.orderingMicros())
                .call(keys::refresh)
                .map(ProjectView::of);
    }

    public Uni<ListPage<ProjectView>> list(Integer limit, String after, boolean includeArchived) {
        int l = limit(limit);
        return store.projects(l + 1, Params.text("after", after), includeArchived)
                .map(rows -> ListPage.of(rows.stream().map(ProjectView::of).toList(), l, ProjectView::id));
    }

    public Uni<ProjectView> get(String id) {
        return project(id).map(ProjectView::of);
    }

    public Uni<ProjectView> rename(String id, String name) {
        String n = name("name", name);
        return store.rename(Params.text("project_id", id), n).map(p -> found(p, id)).map(ProjectView::of);
    }

    /** Archives the project: its keys stop at once here, within a poll elsewhere; its data stays. Archiving it again changes nothing. */
    public Uni<ProjectView> archive(String id) {
        return store.archive(Params.text("project_id", id), time.seconds()).map(p -> found(p, id))
                .call(keys::refresh)
                .map(ProjectView::of);
    }

    public Uni<ApiKeyView.Created> createKey(String projectId, String name) {
        String n = name("name", name);
        String secret = Ids.projectKeySecret();
        String redacted = secret.substring(0, "sk-proj-".length()) + "..." + secret.substring(secret.length() - 4);
        return project(projectId).chain(p -> {
            if (p.status() != ProjectStatus.ACTIVE) {
                throw archived(projectId);
            }
            return store.createKey(Ids.projectKey(), p.id(), n, Keys.sha256(secret), redacted, time.seconds(), time.orderingMicros());
        }).map(k -> {
            if (k == null) {
                throw archived(projectId); // archived between the read and the insert
            }
            return k;
        }).call(keys::refresh).map(k -> ApiKeyView.Created.of(k, secret));
    }

    public Uni<ListPage<ApiKeyView>> keys(String projectId, Integer limit, String after) {
        int l = limit(limit);
        return project(projectId).chain(p -> store.keys(p.id(), l + 1, Params.text("after", after)))
                .map(rows -> ListPage.of(rows.stream().map(ApiKeyView::of).toList(), l, ApiKeyView::id));
    }

    public Uni<ApiKeyView> key(String projectId, String keyId) {
        return project(projectId).chain(p -> store.key(p.id(), Params.text("key_id", keyId)))
                .map(k -> {
                    if (k == null) {
                        throw ApiException.notFound("API key", keyId);
                    }
                    return ApiKeyView.of(k);
                });
    }

    /** Revokes the key: it stops at once here, within a poll of the key epoch on every other process. */
    public Uni<ApiKeyView.Deleted> revoke(String projectId, String keyId) {
        return project(projectId).chain(p -> store.revoke(p.id(), Params.text("key_id", keyId), time.seconds()))
                .map(revoked -> {
                    if (!revoked) {
                        throw ApiException.notFound("API key", keyId);
                    }
                    return new ApiKeyView.Deleted("organization.project.api_key.deleted", keyId, true);
                })
                .call(keys::refresh);
    }

    private Uni<ProjectStore.Project> project(String id) {
        return store.project(Params.text("project_id", id)).map(p -> found(p, id));
    }

    private static ProjectStore.Project found(ProjectStore.Project p, String id) {
        if (p == null) {
            throw ApiException.notFound("project", id);
        }
        return p;
    }

    private static ApiException archived(String id) {
        return ApiException.conflict("Project '" + ApiException.clip(id) + "' is archived: it takes no new keys.", "project_archived");
    }

    private static int limit(Integer limit) {
        if (limit == null) {
            return DEFAULT_LIMIT;
        }
        if (limit < 1 || limit > MAX_LIMIT) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and " + MAX_LIMIT + ".", "limit", "invalid_value");
        }
        return limit;
    }

    private static String name(String param, String value) {
        Params.text(param, value);
        if (value == null || value.isBlank()) {
            throw ApiException.invalid("Missing required parameter: '" + param + "'.", param, "missing_required_parameter");
        }
        String v = value.strip();
        if (v.length() > MAX_NAME) {
            throw ApiException.invalid("Invalid '" + param + "': at most " + MAX_NAME + " characters.", param, "invalid_value");
        }
        return v;
    }
}
