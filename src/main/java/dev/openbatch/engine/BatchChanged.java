package dev.openbatch.engine;

/**
 * Fired (synchronously, after commit) when the API creates, cancels or starts a batch, so the
 * engine acts at once instead of at its next tick. {@code started}: the batch went in_progress
 * without a validation (a retry), so its dispatcher can take it on at once.
 */
public record BatchChanged(String batchId, boolean started) {
    public BatchChanged(String batchId) {
        this(batchId, false);
    }
}
