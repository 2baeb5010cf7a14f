package dev.openbatch.api;

import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonMappingException;

/** Turns Jackson's location of a bad value into the dotted `param` of the envelope. */
final class JsonErrors {
    private JsonErrors() {
    }

    static String path(JsonMappingException e) {
        if (e.getPath() == null || e.getPath().isEmpty()) {
            return null;
        }
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."));
    }
}
