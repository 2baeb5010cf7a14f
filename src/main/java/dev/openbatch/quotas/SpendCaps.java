package dev.openbatch.quotas;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.jboss.logging.Logger;

import dev.openbatch.api.Time;
import dev.openbatch.store.SpendStore;
import dev.openbatch.store.SpendStore.Pause;
import dev.openbatch.store.Transactions;
import dev.openbatch.usage.Prices;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The spend caps: a project whose settled lines of the UTC day (or month) used as many tokens, or
 * cost as many dollars, as one of its caps ({@link Quota#spend()}) is paused, and resumes once its
 * spend of each period is under each cap again (the cap was raised or removed, or the period rolled
 * over). A pause is a row of {@code spend_pauses}: the engines of every replica read them (each
 * second, {@link #check}) and send no line of a paused project; its lines stay queued, nothing
 * fails, lines already in flight finish (and count), and the batches' deadlines run as always.
 * <p>
 * The check judges only the projects that have running batches or are paused, and sums the spend
 * only of those with a cap; it runs on every engine, and its writes are the same whichever runs
 * them (a pause keeps the second it began).
 */
@ApplicationScoped
public class SpendCaps {
    private static final Logger LOG = Logger.getLogger(SpendCaps.class);
    /** The spend caps, in the order the headroom lists them. */
    static final List<Quota> CAPS = Arrays.stream(Quota.values()).filter(Quota::spend).toList();
    private static final List<String> CAP_NAMES = CAPS.stream().map(Quota::wire).toList();

    private final SpendStore store;
    private final Quotas quotas;
    private final Transactions transactions;
    private final Prices prices;
    private final Time time;
    /** The configured caps, as kept (a cap that is not configured is absent). */
    private final Map<Quota, Long> defaults = new EnumMap<>(Quota.class);

    public SpendCaps(SpendStore store, Quotas quotas, Transactions transactions, QuotasConfig config, Prices prices, Time time) {
        this.store = store;
        this.quotas = quotas;
        this.transactions = transactions;
        this.prices = prices;
        this.time = time;
        for (Quota q : CAPS) {
            Long v;
            try {
                v = q.configured(config);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("openbatch.quotas." + q.wire().replace('_', '-') + " must be in US dollars to a millionth at most");
            }
            if (v != null && v < 0) {
                throw new IllegalArgumentException("openbatch.quotas." + q.wire().replace('_', '-') + " must be 0 or more");
            }
            if (v != null) {
                defaults.put(q, v);
            }
        }
    }

    /**
     * Judges every project with running batches and every paused one: pauses those at a cap,
     * resumes the others. Answers the pauses after (every paused project's, whoever judged it).
     */
    public Uni<List<Pause>> check() {
        return store.judged().chain(this::judge).chain(store::pauses);
    }

    /** Judges one project now (its caps were just changed): pauses or resumes it at once, whether it has batches running or not. */
    public Uni<Void> check(String project) {
        return judge(List.of(project));
    }

    /** The project's pause, or null when its batches run. */
    public Uni<Pause> pause(String project) {
        return store.pause(project);
    }

    private Uni<Void> judge(List<String> projects) {
        if (projects.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        long now = time.seconds();
        return store.overrides(projects, CAP_NAMES).chain(overrides -> {
            Map<String, Map<Quota, Long>> capped = new HashMap<>();
            for (String p : projects) {
                Map<Quota, Long> limits = limits(overrides.getOrDefault(p, Map.of()));
                if (!limits.isEmpty()) {
                    capped.put(p, limits);
                }
            }
            Uni<Map<String, Spend.Spent>> spent = capped.isEmpty() ? Uni.createFrom().item(Map.of()) : spent(capped.keySet().stream().toList(), now);
            return spent.chain(byProject -> store.pauses().chain(pauses -> {
                Map<String, Pause> current = new HashMap<>();
                pauses.forEach(x -> current.put(x.project(), x));
                Uni<Void> chain = Uni.createFrom().voidItem();
                for (String p : projects) {
                    Map<Quota, Long> limits = capped.get(p);
                    Spend.Reached r = limits == null ? null : Spend.reached(p, limits, byProject.getOrDefault(p, Spend.Spent.NONE), now);
                    Pause was = current.get(p);
                    if (r != null && (was == null || !was.quota().equals(r.quota().wire()) || !was.message().equals(r.message())
                            || was.resumesAt() != r.resumesAt())) {
                        chain = chain.chain(() -> store.pause(p, r.quota().wire(), r.message(), now, r.resumesAt()).invoke(what -> {
                            if (what == SpendStore.Paused.NEW) {
                                LOG.infof("project %s paused at its spend cap (quota: %s): its lines stay queued until the cap is raised or %s",
                                        p, r.quota().wire(), java.time.Instant.ofEpochSecond(r.resumesAt()));
                            }
                        }).replaceWithVoid());
                    } else if (r == null && was != null) {
                        chain = chain.chain(() -> store.resume(p).invoke(resumed -> {
                            if (resumed) {
                                LOG.infof("project %s resumed: its spend is under its caps again", p);
                            }
                        }).replaceWithVoid());
                    }
                }
                return chain;
            }));
        });
    }

    /** A project's caps, as kept: the configured ones with its overrides over them; empty when it has none. */
    private Map<Quota, Long> limits(Map<String, Long> overrides) {
        Map<Quota, Long> out = new EnumMap<>(defaults);
        overrides.forEach((name, v) -> out.put(Quota.of(name), v));
        return out;
    }

    /** What each project spent in its current day and month. */
    private Uni<Map<String, Spend.Spent>> spent(List<String> projects, long now) {
        return store.spent(transactions.autoCommit(), projects, Spend.Period.DAY.start(now), Spend.Period.MONTH.start(now)).map(rows -> {
            Map<String, List<Spend.ModelSums>> byProject = new HashMap<>();
            for (SpendStore.Spent s : rows) {
                byProject.computeIfAbsent(s.project(), p -> new ArrayList<>())
                        .add(new Spend.ModelSums(s.model(), s.dayInput(), s.dayOutput(), s.monthInput(), s.monthOutput()));
            }
            Map<String, Spend.Spent> out = new HashMap<>();
            byProject.forEach((p, models) -> out.put(p, Spend.Spent.of(models, prices)));
            return out;
        });
    }

    /** The spend caps' headroom of the project: limit, spent and remaining in the current period, in tokens or dollars. */
    public Uni<List<Quotas.Headroom>> headroom(String project) {
        long now = time.seconds();
        return transactions.run(tx -> quotas.limits(tx, project).chain(limits -> store.spent(tx, List.of(project), Spend.Period.DAY.start(now),
                Spend.Period.MONTH.start(now)).map(rows -> {
                    List<Spend.ModelSums> models = rows.stream()
                            .map(s -> new Spend.ModelSums(s.model(), s.dayInput(), s.dayOutput(), s.monthInput(), s.monthOutput())).toList();
                    Spend.Spent spent = Spend.Spent.of(models, prices);
                    List<Quotas.Headroom> out = new ArrayList<>(CAPS.size());
                    for (Quota q : CAPS) {
                        out.add(Quotas.Headroom.spend(q, limits.get(q), spent));
                    }
                    return out;
                })));
    }
}
