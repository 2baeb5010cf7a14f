package dev.openbatch.quotas;

import java.math.BigDecimal;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Function;

/**
 * A quota of a project: its wire name (in the headroom list, the overrides and the refusals), its
 * default in {@link QuotasConfig}, whether it counts per model, and what it counts, for messages.
 * The spend caps ({@link #spend()}) count what a project spent in a period (a UTC day or month),
 * in tokens or in US dollars; they pause the project's batches rather than refuse anything.
 */
public enum Quota {
    LIVE_BATCHES("live_batches", count(QuotasConfig::liveBatches), false, "live batches"),
    ENQUEUED_LINES("enqueued_lines", count(QuotasConfig::enqueuedLines), true, "enqueued lines"),
    ENQUEUED_INPUT_TOKENS("enqueued_input_tokens", count(QuotasConfig::enqueuedInputTokens), true, "enqueued input tokens"),
    FILE_BYTES("file_bytes", count(QuotasConfig::fileBytes), false, "bytes of stored files"),
    UPLOADS_AT_ONCE("uploads_at_once", count(QuotasConfig::uploadsAtOnce), false, "uploads in progress"),
    DRY_RUNS_AT_ONCE("dry_runs_at_once", count(QuotasConfig::dryRunsAtOnce), false, "dry runs in progress"),
    WEBHOOK_ENDPOINTS("webhook_endpoints", count(QuotasConfig::webhookEndpoints), false, "webhook endpoints"),
    RESULTS_READS_PER_SECOND("results_reads_per_second", count(QuotasConfig::resultsReadsPerSecond), false, "results reads this second"),
    SPEND_TOKENS_PER_DAY("spend_tokens_per_day", count(QuotasConfig::spendTokensPerDay), Unit.TOKENS, Spend.Period.DAY),
    SPEND_TOKENS_PER_MONTH("spend_tokens_per_month", count(QuotasConfig::spendTokensPerMonth), Unit.TOKENS, Spend.Period.MONTH),
    SPEND_USD_PER_DAY("spend_usd_per_day", usd(QuotasConfig::spendUsdPerDay), Unit.USD, Spend.Period.DAY),
    SPEND_USD_PER_MONTH("spend_usd_per_month", usd(QuotasConfig::spendUsdPerMonth), Unit.USD, Spend.Period.MONTH);

    /**
     * What a quota's limit is in. {@link #USD} limits are kept in millionths of a dollar (the
     * overrides' column is a bigint) and shown in dollars.
     */
    public enum Unit {
        /** Things counted: a whole number. */
        COUNT,
        /** Input plus output tokens: a whole number. */
        TOKENS,
        /** US dollars, to a millionth. */
        USD;

        static final BigDecimal MICROS = BigDecimal.valueOf(1_000_000);

        /** A limit as given on the wire, as kept; {@link ArithmeticException} when it is not one (a fraction of a count, of a millionth of a dollar). */
        public long stored(BigDecimal wire) {
            return this == USD ? wire.multiply(MICROS).longValueExact() : wire.longValueExact();
        }

        /** A kept limit as shown on the wire: dollars for {@link #USD} ({@code 2.5}, never {@code 2.500000}), else the number. */
        public Number wire(long stored) {
            if (this != USD) {
                return stored;
            }
            return Spend.plain(BigDecimal.valueOf(stored).divide(MICROS));
        }
    }

    private final String wire;
    private final Function<QuotasConfig, Long> configured;
    private final boolean perModel;
    private final String counts;
    private final Unit unit;
    private final Spend.Period period;

    Quota(String wire, Function<QuotasConfig, Long> configured, boolean perModel, String counts) {
        this.wire = wire;
        this.configured = configured;
        this.perModel = perModel;
        this.counts = counts;
        this.unit = Unit.COUNT;
        this.period = null;
    }

    Quota(String wire, Function<QuotasConfig, Long> configured, Unit unit, Spend.Period period) {
        this.wire = wire;
        this.configured = configured;
        this.perModel = false;
        this.counts = unit == Unit.USD ? "US dollars spent " + period.text() : "tokens spent " + period.text();
        this.unit = unit;
        this.period = period;
    }

    public String wire() { return wire; }

    public boolean perModel() { return perModel; }

    /** What it counts, plural: "live batches". */
    public String counts() { return counts; }

    public Unit unit() { return unit; }

    /** Whether it is a spend cap: what the project spent in a {@link #period()}. */
    public boolean spend() { return period != null; }

    /** A spend cap's period; null for the other quotas. */
    public Spend.Period period() { return period; }

    /** Its default, as kept ({@link Unit#stored}): null when unlimited. */
    Long configured(QuotasConfig config) {
        return configured.apply(config);
    }

    /** The quota of this wire name, or null. */
    public static Quota of(String wire) {
        for (Quota q : values()) {
            if (q.wire.equals(wire)) {
                return q;
            }
        }
        return null;
    }

    private static Function<QuotasConfig, Long> count(Function<QuotasConfig, OptionalLong> key) {
        return c -> {
            OptionalLong v = key.apply(c);
            return v.isPresent() ? v.getAsLong() : null;
        };
    }

    private static Function<QuotasConfig, Long> usd(Function<QuotasConfig, Optional<BigDecimal>> key) {
        return c -> key.apply(c).map(Unit.USD::stored).orElse(null);
    }
}
