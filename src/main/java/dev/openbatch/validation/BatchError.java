package dev.openbatch.validation;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * One thing wrong with a batch's input file, as validation finds it: what is wrong, at which
 * 1-based line (null: the file as a whole), in which field. A failed batch shows these in its
 * {@code errors} ({@link BatchErrors}), and a dry run says the same.
 */
@RegisterForReflection
public record BatchError(String code, String message, String param, Integer line) {
}
