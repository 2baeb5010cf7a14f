package dev.openbatch.engine;

/**
 * Fired (synchronously, after commit) when the API creates, retries or cancels a batch, so the
 * engine acts at once instead of at its next tick.
 */
public record BatchChanged(String batchId) {
}
