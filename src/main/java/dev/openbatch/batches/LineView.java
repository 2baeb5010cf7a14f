package dev.openbatch.batches;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * One line of a batch as {@code GET /v1/batches/{id}/requests} lists it ({@code object:
 * "batch.request"}): where it stands now, how often it was tried, and its last answer.
 *
 * @param id              the line's id, the same as its line's {@code id} in the output or error file
 * @param line            its 1-based line number in the input file
 * @param state           {@code queued}, {@code running}, {@code succeeded}, {@code failed}, {@code expired} or {@code cancelled}
 * @param attempts        how many times it was sent upstream
 * @param status_code     the last upstream answer's HTTP status (null before any)
 * @param error           the last error of openbatch's own ({@code code}, {@code message}), or null
 * @param next_attempt_at for a queued line waiting to be tried again, the Unix second it is due (it waits for a free slot
 *                        after that); null when it goes as soon as a slot is free, or is not queued
 */
@RegisterForReflection(targets = { LineView.class, LineView.LineError.class })
public record LineView(String id, String object, int line, String custom_id, String state, int attempts, Integer status_code,
        LineError error, Long next_attempt_at) {

    /** An error of openbatch's own: the same code and message as in the error file. */
    public record LineError(String code, String message) {
    }
}
