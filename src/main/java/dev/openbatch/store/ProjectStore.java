package dev.openbatch.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.status.ProjectStatus;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The {@code projects}, {@code project_keys} and {@code key_epoch} tables (V8). Every change that
 * makes a key start or stop working (a key created or revoked, a project archived) bumps the
 * epoch in the same transaction, so that a process that polls the epoch ({@link #epoch}) knows
 * when to read the live keys again ({@link #liveKeys}).
 */
public class ProjectStore {
    private static final String PROJECT_COLUMNS = "id, name, status, created_at, archived_at, created_us";
    private static final String KEY_COLUMNS = "id, project_id, name, redacted, created_at, last_used_at, created_us";

    static final String BUMP = "update key_epoch set epoch = epoch + 1 where id = 1";
    static final String EPOCH = "select epoch from key_epoch where id = 1";
    static final String BOOTSTRAP = "insert into projects (id, name, status, created_at, created_us)"
            + " select p, p, " + ProjectStatus.ACTIVE.sql() + ", $2, $3 from unnest($1::text[]) as p on conflict (id) do nothing";
    static final String INSERT_PROJECT = "insert into projects (id, name, status, created_at, created_us) values ($1, $2, "
            + ProjectStatus.ACTIVE.sql() + ", $3, $4) returning " + PROJECT_COLUMNS;
    static final String PROJECT = "select " + PROJECT_COLUMNS + " from projects where id = $1";
    static final String PROJECTS = "select " + PROJECT_COLUMNS + " from projects"
            + " where ($2::text is null or (created_us, id) > (select created_us, id from projects where id = $2))"
            + " and ($3 or status = " + ProjectStatus.ACTIVE.sql() + ")"
            + " order by created_us, id limit $1";
    static final String RENAME = "update projects set name = $2 where id = $1 returning " + PROJECT_COLUMNS;
    static final String ARCHIVE = "update projects set status = " + ProjectStatus.ARCHIVED.sql() + ", archived_at = coalesce(archived_at, $2)"
            + " where id = $1 returning " + PROJECT_COLUMNS;
    static final String INSERT_KEY = "insert into project_keys (id, project_id, name, sha256, redacted, created_at, created_us)"
            + " select $1, p.id, $3, $4, $5, $6, $7 from projects p where p.id = $2 and p.status = " + ProjectStatus.ACTIVE.sql()
            + " returning " + KEY_COLUMNS;
    static final String KEY = "select " + KEY_COLUMNS + " from project_keys where project_id = $1 and id = $2 and revoked_at is null";
    static final String KEYS = "select " + KEY_COLUMNS + " from project_keys where project_id = $1 and revoked_at is null"
            + " and ($3::text is null or (created_us, id) > (select created_us, id from project_keys where project_id = $1 and id = $3))"
            + " order by created_us, id limit $2";
    static final String REVOKE = "update project_keys set revoked_at = $3 where project_id = $1 and id = $2 and revoked_at is null";
    static final String LIVE_KEYS = "select k.sha256, k.project_id, k.id from project_keys k join projects p on p.id = k.project_id"
            + " where k.revoked_at is null and p.status = " + ProjectStatus.ACTIVE.sql();
    static final String STATUSES = "select id, status from projects";
    static final String USED = "update project_keys k set last_used_at = greatest(coalesce(k.last_used_at, 0), u.at)"
            + " from unnest($1::text[], $2::bigint[]) as u(id, at) where k.id = u.id";

    /** A project's row. */
    public record Project(String id, String name, ProjectStatus status, long createdAt, Long archivedAt, long createdUs) {
    }

    /** A key's row, without its digest. */
    public record Key(String id, String projectId, String name, String redacted, long createdAt, Long lastUsedAt, long createdUs) {
    }

    /** A key that works: the SHA-256 of its secret, its project and its id. */
    public record LiveKey(byte[] sha256, String projectId, String id) {
    }

    /** What a process needs to check keys: the epoch it read first, the live keys, every project's status. */
    public record KeyTable(long epoch, List<LiveKey> keys, Map<String, ProjectStatus> projects) {
    }

    private final Transactions transactions;

    public ProjectStore(Transactions transactions) {
        this.transactions = transactions;
    }

    /** Inserts a row for each project named in the configuration (id = name), leaving existing rows as they are. */
    public Uni<Void> bootstrap(Collection<String> ids, long now, long createdUs) {
        if (ids.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return transactions.autoCommit().client().preparedQuery(BOOTSTRAP)
                .execute(Tuple.of(ids.toArray(String[]::new), now, createdUs)).replaceWithVoid();
    }

    /** Inserts a project and bumps the epoch (so every process knows of it), in one transaction. */
    public Uni<Project> createProject(String id, String name, long now, long createdUs) {
        return transactions.run(tx -> tx.client().preparedQuery(INSERT_PROJECT).execute(Tuple.of(id, name, now, createdUs))
                .call(() -> bump(tx))
                .map(ProjectStore::oneProject));
    }

    /** The project, or null. */
    public Uni<Project> project(String id) {
        return transactions.autoCommit().client().preparedQuery(PROJECT).execute(Tuple.of(id)).map(ProjectStore::oneProject);
    }

    /** Up to {@code limit} projects in creation order after {@code after} (null: from the first); archived ones only if asked. */
    public Uni<List<Project>> projects(int limit, String after, boolean includeArchived) {
        return transactions.autoCommit().client().preparedQuery(PROJECTS).execute(Tuple.of(limit, after, includeArchived))
                .map(rows -> {
                    List<Project> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(project(r));
                    }
                    return out;
                });
    }

    /** The renamed project, or null when there is none. */
    public Uni<Project> rename(String id, String name) {
        return transactions.autoCommit().client().preparedQuery(RENAME).execute(Tuple.of(id, name)).map(ProjectStore::oneProject);
    }

    /** Archives the project (again: no change) and bumps the epoch, in one transaction; null when there is none. */
    public Uni<Project> archive(String id, long now) {
        return transactions.run(tx -> tx.client().preparedQuery(ARCHIVE).execute(Tuple.of(id, now))
                .call(rows -> rows.rowCount() == 0 ? Uni.createFrom().voidItem() : bump(tx))
                .map(ProjectStore::oneProject));
    }

    /** Stores a new key of an active project and bumps the epoch; null (nothing written) when the project is not active. */
    public Uni<Key> createKey(String id, String projectId, String name, byte[] sha256, String redacted, long now, long createdUs) {
        return transactions.run(tx -> tx.client().preparedQuery(INSERT_KEY)
                .execute(Tuple.tuple().addString(id).addString(projectId).addString(name).addBuffer(Buffer.buffer(sha256)).addString(redacted)
                        .addLong(now).addLong(createdUs))
                .call(rows -> rows.rowCount() == 0 ? Uni.createFrom().voidItem() : bump(tx))
                .map(rows -> rows.rowCount() == 0 ? null : key(rows.iterator().next())));
    }

    /** The project's key (not revoked), or null. */
    public Uni<Key> key(String projectId, String id) {
        return transactions.autoCommit().client().preparedQuery(KEY).execute(Tuple.of(projectId, id))
                .map(rows -> rows.rowCount() == 0 ? null : key(rows.iterator().next()));
    }

    /** Up to {@code limit} of the project's keys that are not revoked, in creation order after {@code after}. */
    public Uni<List<Key>> keys(String projectId, int limit, String after) {
        return transactions.autoCommit().client().preparedQuery(KEYS).execute(Tuple.of(projectId, limit, after))
                .map(rows -> {
                    List<Key> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(key(r));
                    }
                    return out;
                });
    }

    /** Revokes the key and bumps the epoch, in one transaction; false when there was no such key (or it was revoked already). */
    public Uni<Boolean> revoke(String projectId, String id, long now) {
        return transactions.run(tx -> tx.client().preparedQuery(REVOKE).execute(Tuple.of(projectId, id, now))
                .call(rows -> rows.rowCount() == 0 ? Uni.createFrom().voidItem() : bump(tx))
                .map(rows -> rows.rowCount() == 1));
    }

    /** The epoch: it moves whenever a key starts or stops working. */
    public Uni<Long> epoch() {
        return transactions.autoCommit().client().preparedQuery(EPOCH).execute().map(rows -> rows.iterator().next().getLong(0));
    }

    /**
     * The epoch, then the live keys and the projects' statuses. The epoch is read first: a change
     * that commits after that read bumps the epoch past the one returned (whether or not the keys
     * read show it), so the reader loads again at its next poll and never keeps a stale table.
     */
    public Uni<KeyTable> keyTable() {
        return transactions.run(tx -> tx.client().preparedQuery(EPOCH).execute()
                .chain(e -> tx.client().preparedQuery(LIVE_KEYS).execute()
                        .chain(k -> tx.client().preparedQuery(STATUSES).execute()
                                .map(s -> {
                                    List<LiveKey> keys = new ArrayList<>();
                                    for (Row r : k) {
                                        keys.add(new LiveKey(r.getBuffer(0).getBytes(), r.getString(1), r.getString(2)));
                                    }
                                    Map<String, ProjectStatus> projects = new HashMap<>();
                                    for (Row r : s) {
                                        projects.put(r.getString(0), ProjectStatus.of(r.getString(1)));
                                    }
                                    return new KeyTable(e.iterator().next().getLong(0), keys, projects);
                                }))));
    }

    /** Records when keys were last used (each only moves forward). */
    public Uni<Void> used(Map<String, Long> lastUsed) {
        if (lastUsed.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        String[] ids = lastUsed.keySet().toArray(String[]::new);
        Long[] at = new Long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            at[i] = lastUsed.get(ids[i]);
        }
        return transactions.autoCommit().client().preparedQuery(USED).execute(Tuple.of(ids, at)).replaceWithVoid();
    }

    private static Uni<RowSet<Row>> bump(Tx tx) {
        return tx.client().query(BUMP).execute();
    }

    private static Project oneProject(RowSet<Row> rows) {
        return rows.rowCount() == 0 ? null : project(rows.iterator().next());
    }

    private static Project project(Row r) {
        return new Project(r.getString(0), r.getString(1), ProjectStatus.of(r.getString(2)), r.getLong(3), r.getLong(4), r.getLong(5));
    }

    private static Key key(Row r) {
        return new Key(r.getString(0), r.getString(1), r.getString(2), r.getString(3), r.getLong(4), r.getLong(5), r.getLong(6));
    }
}
