package dev.openbatch.webhooks;

import java.util.Locale;

/**
 * What became of one delivery attempt, as the metric {@code openbatch_webhook_deliveries_total}
 * labels it ({@code outcome}: each constant's name in lower case): delivered with a 2xx, to be
 * tried again, or given up. Not the delivery's state: a retried attempt leaves it pending.
 */
public enum DeliveryOutcome {
    SUCCEEDED, RETRIED, FAILED;

    private final String label = name().toLowerCase(Locale.ROOT);

    /** The metric's label value. */
    public String label() {
        return label;
    }
}
