package dev.openbatch.quotas;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import dev.openbatch.usage.Prices;

/**
 * What a project spent, and whether it reached a spend cap: plain arithmetic on the tokens its
 * settled lines counted into {@code usage_hourly}, per model, since the start of the UTC day and of
 * the UTC month, priced with the operator's {@link Prices}. A cap is reached when the spend of its
 * period is at it or over it (so a cap of 0 pauses at once); the spend of a period counts the lines
 * settled in it, whenever they were sent.
 */
public final class Spend {
    private Spend() {
    }

    /** The period of a spend cap, in UTC. */
    public enum Period {
        DAY("this UTC day", "the day ends"),
        MONTH("this UTC month", "the month ends");

        private final String text;
        private final String ends;

        Period(String text, String ends) {
            this.text = text;
            this.ends = ends;
        }

        /** "this UTC day". */
        public String text() { return text; }

        /** The start of the period holding {@code nowSeconds} (unix seconds): a multiple of an hour, as {@code usage_hourly}'s hours are. */
        public long start(long nowSeconds) {
            LocalDate d = day(nowSeconds);
            return (this == DAY ? d : d.withDayOfMonth(1)).atStartOfDay(ZoneOffset.UTC).toEpochSecond();
        }

        /** The end of the period holding {@code nowSeconds} (exclusive): when the next one starts. */
        public long end(long nowSeconds) {
            LocalDate d = day(nowSeconds);
            return (this == DAY ? d.plusDays(1) : d.withDayOfMonth(1).plusMonths(1)).atStartOfDay(ZoneOffset.UTC).toEpochSecond();
        }

        private static LocalDate day(long nowSeconds) {
            return LocalDate.ofInstant(Instant.ofEpochSecond(nowSeconds), ZoneOffset.UTC);
        }
    }

    /** One model's input and output tokens settled in the current UTC day and in the current UTC month (the day's included). */
    public record ModelSums(String model, long dayInput, long dayOutput, long monthInput, long monthOutput) {
    }

    /** What a project spent in its current day and month: tokens (input + output) and US dollars. */
    public record Spent(long dayTokens, BigDecimal dayUsd, long monthTokens, BigDecimal monthUsd) {
        public static final Spent NONE = new Spent(0, BigDecimal.ZERO, 0, BigDecimal.ZERO);

        /** The sums of every model, each model's tokens priced at its price (free when it has none). */
        public static Spent of(List<ModelSums> models, Prices prices) {
            long dayTokens = 0;
            long monthTokens = 0;
            BigDecimal dayUsd = BigDecimal.ZERO;
            BigDecimal monthUsd = BigDecimal.ZERO;
            for (ModelSums m : models) {
                Prices.Price p = prices.of(m.model());
                dayTokens += m.dayInput() + m.dayOutput();
                monthTokens += m.monthInput() + m.monthOutput();
                dayUsd = dayUsd.add(p.cost(m.dayInput(), m.dayOutput()));
                monthUsd = monthUsd.add(p.cost(m.monthInput(), m.monthOutput()));
            }
            return new Spent(dayTokens, dayUsd, monthTokens, monthUsd);
        }

        /** What a spend cap counts, as its limits are kept: tokens, or millionths of a dollar (rounded up, so that a fraction over a cap is over it). */
        public long stored(Quota cap) {
            return switch (cap.unit()) {
                case TOKENS -> cap.period() == Period.DAY ? dayTokens : monthTokens;
                case USD -> usd(cap).multiply(Quota.Unit.MICROS).setScale(0, RoundingMode.CEILING).longValueExact();
                case COUNT -> throw new IllegalArgumentException(cap.wire() + " is not a spend cap");
            };
        }

        /** What a spend cap counts, as the headroom shows it: tokens, or dollars (exact). */
        public Number wire(Quota cap) {
            return cap.unit() == Quota.Unit.USD ? plain(usd(cap)) : stored(cap);
        }

        private BigDecimal usd(Quota cap) {
            return cap.period() == Period.DAY ? dayUsd : monthUsd;
        }
    }

    /**
     * A cap the project has reached: which, its limit as kept, and when its period ends (then the
     * project resumes by itself, unless another cap holds it), with the sentence its batches show.
     */
    public record Reached(Quota quota, long limit, long resumesAt, String message) {
    }

    /**
     * The cap that holds the project's batches, or null when its spend is under each of its caps
     * ({@code limits}: every quota's limit as kept, null when unlimited). Of several caps reached,
     * the one whose period ends last (a month's over a day's when both end together): the project
     * resumes by itself only when that one rolls over.
     */
    public static Reached reached(String project, Map<Quota, Long> limits, Spent spent, long nowSeconds) {
        Quota holding = null;
        for (Quota q : Quota.values()) {
            Long limit = limits.get(q);
            if (!q.spend() || limit == null || spent.stored(q) < limit) {
                continue;
            }
            long end = q.period().end(nowSeconds);
            long holdingEnd = holding == null ? Long.MIN_VALUE : holding.period().end(nowSeconds);
            // on the last day of a month both end together: the month's is named, the wider one
            if (end > holdingEnd || end == holdingEnd && q.period() == Period.MONTH && holding.period() == Period.DAY) {
                holding = q;
            }
        }
        if (holding == null) {
            return null;
        }
        long limit = limits.get(holding);
        long end = holding.period().end(nowSeconds);
        String amount = holding.unit() == Quota.Unit.USD ? "$" + holding.unit().wire(limit) : limit + " tokens";
        String message = "Project " + project + " reached its spend cap of " + amount + " " + holding.period().text() + " (quota: "
                + holding.wire() + "). Its batches are paused: their lines stay queued, and they resume when the cap is raised or "
                + holding.period().ends + " (" + Instant.ofEpochSecond(end) + ").";
        return new Reached(holding, limit, end, message);
    }

    /** An amount without trailing zeros, and never in exponent form ({@code 10}, not {@code 1E+1}). */
    static BigDecimal plain(BigDecimal v) {
        BigDecimal s = v.stripTrailingZeros();
        return s.scale() < 0 ? s.setScale(0) : s;
    }
}
