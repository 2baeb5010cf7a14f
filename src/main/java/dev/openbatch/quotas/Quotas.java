package dev.openbatch.quotas;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.Time;
import dev.openbatch.store.QuotaStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The quotas of each project: its limits (the configured defaults, with the project's overrides),
 * the checks that refuse a creation over one, and the headroom a client reads.
 * <p>
 * Exact across replicas and concurrent creates: each check counts inside the transaction that
 * creates the thing counted, after locking the project's row of {@code quota_locks}, so a
 * project's counted creations run one after the other and none counts before the previous one
 * committed. A quota without a limit costs no lock and no count.
 */
@ApplicationScoped
public class Quotas {
    private final QuotaStore store;
    private final Transactions transactions;
    private final QuotasConfig config;
    private final QuotaLockRepository locks;
    private final Time time;

    public Quotas(QuotaStore store, Transactions transactions, QuotasConfig config, QuotaLockRepository locks, Time time) {
        this.store = store;
        this.transactions = transactions;
        this.config = config;
        this.locks = locks;
        this.time = time;
    }

    // ---- limits ----

    /** Every quota's limit for the project (null: unlimited). */
    public Uni<Map<Quota, Long>> limits(Tx tx, String project) {
        return store.overrides(tx, project).map(overrides -> {
            Map<Quota, Long> out = new EnumMap<>(Quota.class);
            for (Quota q : Quota.values()) {
                out.put(q, overrides.containsKey(q.wire()) ? overrides.get(q.wire()) : q.configured(config));
            }
            return out;
        });
    }

    /** The limit of one quota for the project (null: unlimited). */
    public Uni<Long> limit(Tx tx, String project, Quota quota) {
        return limits(tx, project).map(l -> l.get(quota));
    }

    /**
     * Sets the project's overrides, {@code quota -> value}; a null value removes one (the default
     * applies again). 400 for an unknown quota, a negative value, a fraction of a count (or of a
     * millionth of a dollar); nothing is set then.
     */
    public Uni<Void> override(String project, Map<String, ? extends Number> values) {
        if (values == null || values.isEmpty()) {
            throw ApiException.invalid("The body must be a JSON object of quota names to limits (null removes an override).", null,
                    "invalid_value");
        }
        Map<String, Long> stored = new LinkedHashMap<>();
        for (Map.Entry<String, ? extends Number> e : values.entrySet()) {
            Quota q = Quota.of(e.getKey());
            if (q == null) {
                throw ApiException.invalid("Unknown quota '" + ApiException.clip(e.getKey()) + "'.", e.getKey(), "invalid_value");
            }
            stored.put(e.getKey(), e.getValue() == null ? null : stored(q, e.getValue()));
        }
        return transactions.run(tx -> {
            Uni<Void> chain = Uni.createFrom().voidItem();
            for (Map.Entry<String, Long> e : stored.entrySet()) {
                chain = chain.chain(() -> store.override(tx, project, e.getKey(), e.getValue()));
            }
            return chain;
        });
    }

    /** A limit as given, as kept: 400 unless it is 0 or more and a whole count (or dollars to a millionth). */
    private static long stored(Quota q, Number value) {
        BigDecimal v = value instanceof BigDecimal d ? d : new BigDecimal(value.toString());
        if (v.signum() < 0) {
            throw ApiException.invalid("A quota's limit must be 0 or more.", q.wire(), "invalid_value");
        }
        try {
            return q.unit().stored(v);
        } catch (ArithmeticException e) {
            throw ApiException.invalid(q.unit() == Quota.Unit.USD ? "A quota in US dollars is given to a millionth of a dollar at most."
                    : "A quota's limit must be a whole number.", q.wire(), "invalid_value");
        }
    }

    // ---- creations through Hibernate (batches, webhook endpoints) ----

    /**
     * Before the Hibernate transaction that creates one thing {@code quota} counts: its limit for
     * the project, and, when it has one, the project's lock row made sure of. Pass it to {@link #admit}.
     */
    public Uni<Long> prepare(String project, Quota quota) {
        return limit(transactions.autoCommit(), project, quota)
                .call(limit -> limit == null ? Uni.createFrom().voidItem() : store.ensureLockRow(project));
    }

    /**
     * Inside the Hibernate transaction that creates one more thing {@code quota} counts: locks the
     * project's row, counts with {@code count} (a query of that transaction), and refuses when the
     * project already has {@code limit}. Nothing when {@code limit} is null (unlimited).
     */
    public Uni<Void> admit(String project, Quota quota, Long limit, Supplier<Uni<Long>> count) {
        if (limit == null) {
            return Uni.createFrom().voidItem();
        }
        return locks.lock(project).chain(() -> count.get()).invoke(used -> refuseAtLimit(project, quota, limit, used)).replaceWithVoid();
    }

    // ---- creations through the stores ----

    /** In {@code tx}, which creates a live batch of the project: refuses one over {@link Quota#LIVE_BATCHES}. */
    public Uni<Void> admitLiveBatch(Tx tx, String project) {
        return limit(tx, project, Quota.LIVE_BATCHES).chain(limit -> limit == null ? Uni.createFrom().voidItem()
                : store.lock(tx, project).chain(() -> store.liveBatches(tx, project))
                        .invoke(used -> refuseAtLimit(project, Quota.LIVE_BATCHES, limit, used)).replaceWithVoid());
    }

    /**
     * In {@code tx}, which stores a file of {@code bytes} bytes for the project (its row already
     * written in {@code tx}): 413 when the project's files would be over {@link Quota#FILE_BYTES}.
     */
    public Uni<Void> admitFileBytes(Tx tx, String project, long bytes) {
        return limit(tx, project, Quota.FILE_BYTES).chain(limit -> limit == null ? Uni.createFrom().voidItem()
                : store.lock(tx, project).chain(() -> store.fileBytes(tx, project)).invoke(total -> {
                    if (total > limit) {
                        long before = total - bytes;
                        throw new QuotaExceeded(Quota.FILE_BYTES, limit, before, "Project " + project + " stores " + before
                                + " bytes of files and this upload has " + bytes + "; its quota is " + limit + " (quota: file_bytes).");
                    }
                }).replaceWithVoid());
    }

    /**
     * In {@code tx}, where the validation of batch {@code batchId} of the project inserted its
     * {@code lines} lines of {@code model}: records the bytes of their bodies, and refuses the batch
     * when the project's enqueued lines or estimated input tokens of the model, with this batch's,
     * would be over {@link Quota#ENQUEUED_LINES} or {@link Quota#ENQUEUED_INPUT_TOKENS}.
     */
    public Uni<Void> admitLines(Tx tx, String project, String batchId, String model, int lines) {
        return store.measureInput(tx, batchId).chain(bytes -> limits(tx, project).chain(limits -> {
            Long maxLines = limits.get(Quota.ENQUEUED_LINES);
            Long maxTokens = limits.get(Quota.ENQUEUED_INPUT_TOKENS);
            if (maxLines == null && maxTokens == null || model == null) {
                return Uni.createFrom().voidItem();
            }
            long tokens = tokens(bytes);
            return store.lock(tx, project).chain(() -> store.enqueuedBesides(tx, project, model, batchId)).invoke(others -> {
                if (maxLines != null && others.lines() + lines > maxLines) {
                    throw enqueued(project, model, Quota.ENQUEUED_LINES, maxLines, others.lines(), lines, "");
                }
                if (maxTokens != null && others.tokens() + tokens > maxTokens) {
                    throw enqueued(project, model, Quota.ENQUEUED_INPUT_TOKENS, maxTokens, others.tokens(), tokens,
                            " (estimated as the bytes of the request bodies / " + QuotaStore.BYTES_PER_TOKEN + ")");
                }
            }).replaceWithVoid();
        }));
    }

    /** Estimated input tokens of {@code bytes} bytes of request bodies. */
    public static long tokens(long bytes) {
        return (bytes + QuotaStore.BYTES_PER_TOKEN - 1) / QuotaStore.BYTES_PER_TOKEN;
    }

    private static QuotaExceeded enqueued(String project, String model, Quota quota, long limit, long used, long adding, String how) {
        return new QuotaExceeded(quota, limit, used, "Enqueued limit reached for model " + model + " in project " + project + ": it has "
                + used + " " + quota.counts() + how + " and this batch has " + adding + "; its quota is " + limit + " (quota: "
                + quota.wire() + "). Try again once some of its batches have finished.");
    }

    // ---- slots: uploads and dry runs in progress ----

    /** A slot of an upload or dry run in progress; {@link #NONE} when its quota is unlimited. */
    public record Slot(String id) {
        public static final Slot NONE = new Slot(null);
    }

    /**
     * A slot of {@code quota} ({@link Quota#UPLOADS_AT_ONCE} or {@link Quota#DRY_RUNS_AT_ONCE})
     * for the project, held until {@link #release}d (or, if its process dies, until it lapses);
     * 429 when the project holds its limit already, on whichever replicas.
     */
    public Uni<Slot> acquire(String project, Quota quota) {
        return limit(transactions.autoCommit(), project, quota).chain(limit -> {
            if (limit == null) {
                return Uni.createFrom().item(Slot.NONE);
            }
            String id = Ids.lease();
            long now = time.millis();
            return transactions.run(tx -> store.lock(tx, project)
                    .chain(() -> store.leases(tx, project, quota.wire(), now))
                    .invoke(used -> refuseAtLimit(project, quota, limit, used))
                    .chain(() -> store.addLease(tx, id, project, quota.wire(), now + config.leaseTime().toMillis())))
                    .replaceWith(new Slot(id));
        });
    }

    // ---- rates ----

    /** One read of a batch's results by the project: 429 when it made its {@link Quota#RESULTS_READS_PER_SECOND} this second already. */
    public Uni<Void> admitResultsRead(String project) {
        Quota q = Quota.RESULTS_READS_PER_SECOND;
        return limit(transactions.autoCommit(), project, q).chain(limit -> limit == null ? Uni.createFrom().voidItem()
                : store.take(project, q.wire(), time.seconds(), limit).invoke(taken -> {
                    if (!taken) {
                        throw new QuotaExceeded(q, limit, limit, "Project " + project + " has made " + limit + " " + q.counts()
                                + "; its quota is " + limit + " (quota: " + q.wire() + "). Try again in a second.");
                    }
                }).replaceWithVoid());
    }

    public Uni<Void> release(Slot slot) {
        return slot.id() == null ? Uni.createFrom().voidItem() : store.removeLease(slot.id());
    }

    private static void refuseAtLimit(String project, Quota quota, long limit, long used) {
        if (used >= limit) {
            throw new QuotaExceeded(quota, limit, used, "Project " + project + " has " + used + " " + quota.counts() + "; its quota is "
                    + limit + " (quota: " + quota.wire() + ").");
        }
    }

    // ---- headroom ----

    /**
     * One quota's headroom: its limit (null: unlimited), what is used, and what remains (null:
     * unlimited); per model for the enqueued ones. Whole numbers, but dollars (exact) for the spend
     * caps in US dollars.
     */
    public record Headroom(String quota, String model, Number limit, Number used, Number remaining) {
        static Headroom of(Quota q, String model, Long limit, long used) {
            return new Headroom(q.wire(), model, limit, used, limit == null ? null : Math.max(0, limit - used));
        }

        /** A spend cap's: its limit (as kept) and what the project spent in the cap's current period. */
        static Headroom spend(Quota q, Long limit, Spend.Spent spent) {
            Number used = spent.wire(q);
            if (limit == null) {
                return new Headroom(q.wire(), null, null, used, null);
            }
            if (q.unit() != Quota.Unit.USD) {
                return of(q, null, limit, used.longValue());
            }
            BigDecimal max = (BigDecimal) q.unit().wire(limit);
            BigDecimal left = max.subtract((BigDecimal) used);
            return new Headroom(q.wire(), null, max, used, left.signum() <= 0 ? BigDecimal.ZERO : Spend.plain(left));
        }
    }

    /**
     * Every quota of the project with its limit, use and remainder, but the spend caps (see
     * {@link SpendCaps#headroom}); the enqueued quotas once per model the project has live batches
     * of (once, with model null and nothing used, when it has none).
     */
    public Uni<List<Headroom>> headroom(String project) {
        long now = time.millis();
        return transactions.run(tx -> limits(tx, project).chain(limits -> store.liveBatches(tx, project)
                .chain(live -> store.enqueued(tx, project).chain(enqueued -> store.fileBytes(tx, project)
                        .chain(bytes -> store.leases(tx, project, Quota.UPLOADS_AT_ONCE.wire(), now)
                                .chain(uploads -> store.leases(tx, project, Quota.DRY_RUNS_AT_ONCE.wire(), now)
                                        .chain(dryRuns -> store.webhookEndpoints(tx, project).chain(endpoints -> store.taken(tx, project,
                                                Quota.RESULTS_READS_PER_SECOND.wire(), now / 1000).map(reads -> {
                                            List<Headroom> out = new ArrayList<>();
                                            out.add(Headroom.of(Quota.LIVE_BATCHES, null, limits.get(Quota.LIVE_BATCHES), live));
                                            perModel(out, Quota.ENQUEUED_LINES, limits, enqueued, true);
                                            perModel(out, Quota.ENQUEUED_INPUT_TOKENS, limits, enqueued, false);
                                            out.add(Headroom.of(Quota.FILE_BYTES, null, limits.get(Quota.FILE_BYTES), bytes));
                                            out.add(Headroom.of(Quota.UPLOADS_AT_ONCE, null, limits.get(Quota.UPLOADS_AT_ONCE), uploads));
                                            out.add(Headroom.of(Quota.DRY_RUNS_AT_ONCE, null, limits.get(Quota.DRY_RUNS_AT_ONCE), dryRuns));
                                            out.add(Headroom.of(Quota.WEBHOOK_ENDPOINTS, null, limits.get(Quota.WEBHOOK_ENDPOINTS), endpoints));
                                            out.add(Headroom.of(Quota.RESULTS_READS_PER_SECOND, null, limits.get(Quota.RESULTS_READS_PER_SECOND), reads));
                                            return out;
                                        })))))))));
    }

    private static void perModel(List<Headroom> out, Quota q, Map<Quota, Long> limits, List<QuotaStore.Enqueued> enqueued, boolean lines) {
        if (enqueued.isEmpty()) {
            out.add(Headroom.of(q, null, limits.get(q), 0));
        }
        for (QuotaStore.Enqueued e : enqueued) {
            out.add(Headroom.of(q, e.model(), limits.get(q), lines ? e.lines() : e.tokens()));
        }
    }
}
