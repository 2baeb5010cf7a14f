package dev.openbatch.validation;

import java.util.List;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * What {@code POST /v1/batches/validate} answers ({@code object: "batch.validation"}): what the
 * validation of a batch created with the same body would find, without creating anything.
 *
 * @param valid         true when the batch would start (its {@code errors} would be null)
 * @param lines         the request lines read (blank lines are not counted): the batch's {@code request_counts.total}
 *                      when valid; when reading stopped early (too many errors, too many lines), the lines read until then
 * @param model         the model the lines ask for (the first line's), null when no line names one
 * @param upstream      the name of the upstream that would serve the batch, null when none would
 * @param models        every model the lines ask for, with its line count and upstream, in the order first seen
 * @param errors        null, or the same {@code {"object":"list","data":[…]}} a failed batch would show
 */
@RegisterForReflection(targets = { ValidationReport.class, ValidationReport.ModelLines.class })
public record ValidationReport(String object, boolean valid, String endpoint, String input_file_id, int lines, String model,
        String upstream, List<ModelLines> models, BatchErrors errors) {

    /** A model the lines ask for, how many lines ask for it, and the upstream that serves it (null: none). */
    public record ModelLines(String model, int lines, String upstream) {
    }
}
