package dev.openbatch.usage;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import dev.openbatch.store.UsageStore;
import dev.openbatch.store.UsageStore.Sums;
import dev.openbatch.usage.UsageViews.Amount;
import dev.openbatch.usage.UsageViews.BatchUsage;
import dev.openbatch.usage.UsageViews.Bucket;
import dev.openbatch.usage.UsageViews.Cost;
import dev.openbatch.usage.UsageViews.Page;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Usage and costs across projects, from {@code usage_hourly}: what the lines that settled
 * counted, in the same transactions as their results, so the sums equal the batches' own counters
 * whatever crashed on the way. Costs price each model's tokens with {@link Prices}.
 */
@ApplicationScoped
public class UsageService {
    /** The {@code group_by} values of the usage route. */
    public static final List<String> USAGE_GROUPS = List.of("project_id", "model");
    /** The {@code group_by} values of the costs route (a line item is a model). */
    public static final List<String> COST_GROUPS = List.of("project_id", "line_item");
    static final String CURRENCY = "usd";

    private final UsageStore store;
    private final Prices prices;

    public UsageService(UsageStore store, Prices prices) {
        this.store = store;
        this.prices = prices;
    }

    /** Lines settled and their tokens in each bucket of the query's page. */
    public Uni<Page<BatchUsage>> usage(UsageQuery q) {
        return store.buckets(q.from(), q.to(), q.width(), q.byProject(), q.byModel(), q.projects(), q.models())
                .map(rows -> page(q, rows, bucket -> {
                    List<BatchUsage> out = new ArrayList<>(bucket.size());
                    for (Sums s : bucket) {
                        out.add(new BatchUsage(BatchUsage.OBJECT, s.project(), s.model(), s.requests(), s.succeeded(), s.failed(),
                                s.inputTokens(), s.outputTokens()));
                    }
                    return out;
                }));
    }

    /** What the tokens of each bucket of the query's page cost, priced per model. */
    public Uni<Page<Cost>> costs(UsageQuery q) {
        // every model is read on its own (it has its price), then summed as the query groups
        return store.buckets(q.from(), q.to(), q.width(), q.byProject(), true, q.projects(), q.models())
                .map(rows -> page(q, rows, bucket -> {
                    Map<List<String>, BigDecimal> sums = new LinkedHashMap<>();
                    for (Sums s : bucket) {
                        BigDecimal c = prices.of(s.model()).cost(s.inputTokens(), s.outputTokens());
                        sums.merge(Arrays.asList(s.project(), q.byModel() ? s.model() : null), c, BigDecimal::add);
                    }
                    List<Cost> out = new ArrayList<>(sums.size());
                    sums.forEach((k, v) -> out.add(new Cost(Cost.OBJECT, new Amount(plain(v), CURRENCY), k.get(1), k.get(0))));
                    return out;
                }));
    }

    /** The amount without trailing zeros, and never in exponent form ({@code 10}, not {@code 1E+1}). */
    static BigDecimal plain(BigDecimal v) {
        BigDecimal s = v.stripTrailingZeros();
        return s.scale() < 0 ? s.setScale(0) : s;
    }

    /** Every bucket of the page, with the rows that fall in it made into results. */
    private static <T> Page<T> page(UsageQuery q, List<Sums> rows, Function<List<Sums>, List<T>> results) {
        Map<Long, List<Sums>> byBucket = new LinkedHashMap<>();
        for (Sums s : rows) {
            byBucket.computeIfAbsent(s.bucket(), b -> new ArrayList<>()).add(s);
        }
        List<Bucket<T>> data = new ArrayList<>(q.buckets());
        for (long start : q.bucketStarts()) {
            data.add(Bucket.of(start, start + q.width(), results.apply(byBucket.getOrDefault(start, List.of()))));
        }
        return Page.of(data, q.nextPage());
    }
}
