package dev.openbatch.quotas;

import java.util.OptionalLong;
import java.util.function.Function;

/**
 * A quota of a project: its wire name (in the headroom list, the overrides and the refusals), its
 * default in {@link QuotasConfig}, whether it counts per model, and what it counts, for messages.
 */
public enum Quota {
    LIVE_BATCHES("live_batches", QuotasConfig::liveBatches, false, "live batches"),
    ENQUEUED_LINES("enqueued_lines", QuotasConfig::enqueuedLines, true, "enqueued lines"),
    ENQUEUED_INPUT_TOKENS("enqueued_input_tokens", QuotasConfig::enqueuedInputTokens, true, "enqueued input tokens"),
    FILE_BYTES("file_bytes", QuotasConfig::fileBytes, false, "bytes of stored files"),
    UPLOADS_AT_ONCE("uploads_at_once", QuotasConfig::uploadsAtOnce, false, "uploads in progress"),
    DRY_RUNS_AT_ONCE("dry_runs_at_once", QuotasConfig::dryRunsAtOnce, false, "dry runs in progress"),
    WEBHOOK_ENDPOINTS("webhook_endpoints", QuotasConfig::webhookEndpoints, false, "webhook endpoints"),
    RESULTS_READS_PER_SECOND("results_reads_per_second", QuotasConfig::resultsReadsPerSecond, false, "results reads this second");

    private final String wire;
    private final Function<QuotasConfig, OptionalLong> configured;
    private final boolean perModel;
    private final String counts;

    Quota(String wire, Function<QuotasConfig, OptionalLong> configured, boolean perModel, String counts) {
        this.wire = wire;
        this.configured = configured;
        this.perModel = perModel;
        this.counts = counts;
    }

    public String wire() { return wire; }

    public boolean perModel() { return perModel; }

    /** What it counts, plural: "live batches". */
    public String counts() { return counts; }

    /** Its default: null when unlimited. */
    Long configured(QuotasConfig config) {
        OptionalLong v = configured.apply(config);
        return v.isPresent() ? v.getAsLong() : null;
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
}
