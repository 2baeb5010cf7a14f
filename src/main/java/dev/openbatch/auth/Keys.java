package dev.openbatch.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

import org.jboss.logging.Logger;

import dev.openbatch.api.Time;
import dev.openbatch.db.Migrations;
import dev.openbatch.status.ProjectStatus;
import dev.openbatch.store.ProjectStore;
import dev.openbatch.store.Transactions;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

/**
 * Bearer keys to callers: the admin key, the bootstrap keys of {@code openbatch.auth.keys}, and
 * the keys made through the admin API (rows of {@code project_keys}, stored as SHA-256 digests).
 * A presented key is hashed once and compared with every known digest in constant time
 * ({@link MessageDigest#isEqual}, no early exit), so how long the answer takes says nothing about
 * how close a guess was, and no request waits on the database.
 *
 * <p>The table of database keys is reloaded whenever the database's key epoch moves: every
 * {@code openbatch.auth.key-poll} each process reads the epoch (one primary-key read) and, when a
 * key was created or revoked or a project archived, reads the live keys again. So a revoked key
 * stops on every replica within a poll; on the replica that revoked it, at once ({@link #refresh}).
 * A bootstrap key whose project was archived stops as well.
 */
@ApplicationScoped
public class Keys {
    public static final String OPEN_PROJECT = "default";
    private static final Logger LOG = Logger.getLogger(Keys.class);

    /** Who a key belongs to: a project (by id), or the admin (project null). */
    public record Caller(String project, boolean admin) {
    }

    private record Entry(byte[] digest, String project, String keyId) {
    }

    private record Table(long epoch, List<Entry> entries, Map<String, ProjectStatus> projects) {
    }

    private final List<Entry> bootstrap = new ArrayList<>();
    private final byte[] admin;
    private final ProjectStore store;
    private final LongSupplier seconds;
    private final long pollMillis;
    private final Map<String, Long> used = new ConcurrentHashMap<>();
    private final AtomicBoolean polling = new AtomicBoolean();
    private volatile Table table = new Table(-1, List.of(), Map.of());
    private volatile Vertx timerOwner;
    private volatile long timer = -1;

    @Inject
    public Keys(AuthConfig config, Transactions transactions, Time time, Migrations migrations) {
        this(config, new ProjectStore(transactions), time::seconds);
    }

    /**
     * Keys read from {@code config} and, when {@code store} is not null, from the database
     * ({@link #refresh}, {@link #start}); a second instance on the same database is how tests
     * play a second replica.
     */
    public Keys(AuthConfig config, ProjectStore store, LongSupplier seconds) {
        this.store = store;
        this.seconds = seconds;
        this.pollMillis = Math.max(1, config.keyPoll().toMillis());
        config.keys().ifPresent(list -> {
            for (String pair : list.split(",")) {
                String p = pair.trim();
                if (p.isEmpty()) {
                    continue;
                }
                int colon = p.lastIndexOf(':');
                if (colon <= 0 || colon == p.length() - 1) {
                    throw new IllegalArgumentException("openbatch.auth.keys: expected key:project, got an entry without both parts");
                }
                bootstrap.add(new Entry(sha256(p.substring(0, colon).trim()), p.substring(colon + 1).trim(), null));
            }
        });
        byte[] a = config.adminKey().filter(k -> !k.isBlank()).map(k -> sha256(k.trim())).orElse(null);
        if (a == null) {
            a = config.adminKeySha256().filter(h -> !h.isBlank()).map(Keys::hex).orElse(null);
        }
        this.admin = a;
    }

    private static byte[] hex(String h) {
        String t = h.trim();
        if (!t.matches("[0-9a-fA-F]{64}")) {
            throw new IllegalArgumentException("openbatch.auth.admin-key-sha256: expected 64 hex digits (a SHA-256)");
        }
        return HexFormat.of().parseHex(t);
    }

    void start(@Observes StartupEvent ev, Vertx vertx) {
        if (isOpen()) {
            LOG.warn("**********************************************************************");
            LOG.warn("openbatch.auth.keys and openbatch.auth.admin-key are empty: OPEN MODE.");
            LOG.warn("Every request is accepted, with any key or none, as project 'default',");
            LOG.warn("and the admin API is closed. Set openbatch.auth.admin-key (and/or");
            LOG.warn("openbatch.auth.keys=key:project) before exposing this service.");
            LOG.warn("**********************************************************************");
            return;
        }
        try {
            store.bootstrap(bootstrapProjects(), seconds.getAsLong(), System.currentTimeMillis() * 1000)
                    .chain(this::refresh).subscribeAsCompletionStage().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("could not read the API keys from the database", e);
        }
        start(vertx);
    }

    /** Polls the key epoch every {@code key-poll} on {@code vertx}'s timers until {@link #stop}. */
    public void start(Vertx vertx) {
        timerOwner = vertx;
        timer = vertx.setPeriodic(pollMillis, id -> poll());
    }

    public void stop() {
        Vertx v = timerOwner;
        if (v != null && timer >= 0) {
            v.cancelTimer(timer);
            timer = -1;
        }
    }

    void stop(@Observes ShutdownEvent ev) {
        stop();
    }

    private void poll() {
        if (!polling.compareAndSet(false, true)) {
            return; // the last poll is still waiting on the database
        }
        flushUsed().chain(this::refresh).subscribe().with(v -> polling.set(false), e -> {
            polling.set(false);
            LOG.warnf("could not read the API keys' epoch: %s (the last table read stays in use)", e.getMessage());
        });
    }

    /** Reads the key epoch, and the live keys when it moved since the last read. */
    public Uni<Void> refresh() {
        if (store == null) {
            return Uni.createFrom().voidItem();
        }
        return store.epoch().chain(epoch -> epoch == table.epoch() ? Uni.createFrom().voidItem()
                : store.keyTable().invoke(t -> {
                    List<Entry> entries = new ArrayList<>(t.keys().size());
                    for (ProjectStore.LiveKey k : t.keys()) {
                        entries.add(new Entry(k.sha256(), k.projectId(), k.id()));
                    }
                    table = new Table(t.epoch(), List.copyOf(entries), Map.copyOf(t.projects()));
                }).replaceWithVoid());
    }

    private Uni<Void> flushUsed() {
        if (used.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        Map<String, Long> batch = new HashMap<>();
        for (String id : Set.copyOf(used.keySet())) {
            Long at = used.remove(id);
            if (at != null) {
                batch.put(id, at);
            }
        }
        return store.used(batch);
    }

    /** Open mode: no key configured, not even the admin's. */
    public boolean isOpen() { return bootstrap.isEmpty() && admin == null; }

    /** Whether an admin key is configured (the admin API answers only then). */
    public boolean hasAdmin() { return admin != null; }

    /** The projects named in {@code openbatch.auth.keys}, in their order. */
    public Set<String> bootstrapProjects() {
        Set<String> out = new LinkedHashSet<>();
        for (Entry e : bootstrap) {
            out.add(e.project());
        }
        return out;
    }

    /** Whether a project of this id is known (bootstrap or database) and not archived: null when unknown. */
    public ProjectStatus status(String project) {
        ProjectStatus s = table.projects().get(project);
        if (s == null && bootstrapProjects().contains(project)) {
            return ProjectStatus.ACTIVE;
        }
        return s;
    }

    /** Who a bearer key belongs to; in open mode every caller is project {@value #OPEN_PROJECT}. */
    public Optional<Caller> caller(String key) {
        if (isOpen()) {
            return Optional.of(new Caller(OPEN_PROJECT, false));
        }
        if (key == null) {
            return Optional.empty();
        }
        byte[] presented = sha256(key);
        Table t = table;
        Entry found = null;
        for (Entry e : bootstrap) { // every entry, whatever matched: the time does not depend on where or whether
            if (MessageDigest.isEqual(presented, e.digest())) {
                found = e;
            }
        }
        for (Entry e : t.entries()) {
            if (MessageDigest.isEqual(presented, e.digest())) {
                found = e;
            }
        }
        boolean isAdmin = admin != null && MessageDigest.isEqual(presented, admin);
        if (isAdmin) {
            return Optional.of(new Caller(null, true));
        }
        if (found == null || t.projects().get(found.project()) == ProjectStatus.ARCHIVED) {
            return Optional.empty();
        }
        if (found.keyId() != null) {
            used.merge(found.keyId(), seconds.getAsLong(), Math::max);
        }
        return Optional.of(new Caller(found.project(), false));
    }

    /** The project a bearer key belongs to (not the admin's); in open mode every caller is {@value #OPEN_PROJECT}. */
    public Optional<String> project(String key) {
        return caller(key).map(Caller::project);
    }

    /** SHA-256 of a key's UTF-8 bytes: what is stored and compared, never the key. */
    public static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
