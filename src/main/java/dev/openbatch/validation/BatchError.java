package dev.openbatch.validation;

/** One validation error: what is wrong, at which 1-based line, in which field. */
public record BatchError(String code, String message, String param, Integer line) {
}
