package dev.openbatch.batches;

/** Fired (synchronously, after commit) when the API creates or cancels a batch, so the engine acts at once instead of at its next tick. */
public record BatchChanged(String batchId) {
}
