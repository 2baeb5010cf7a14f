package dev.openbatch.api;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The metadata map of batches and jobs: at most 16 pairs, keys up to 64 and values up to 512 characters. */
public final class Metadata {
    public static final int MAX_PAIRS = 16;
    public static final int MAX_KEY = 64;
    public static final int MAX_VALUE = 512;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<LinkedHashMap<String, String>> TYPE = new TypeReference<>() {
    };

    private Metadata() {
    }

    /** Checks a client's metadata and returns it as strings; null stays null. */
    public static Map<String, String> check(Map<String, Object> metadata) {
        if (metadata == null) {
            return null;
        }
        if (metadata.size() > MAX_PAIRS) {
            throw ApiException.invalid("Invalid 'metadata': at most " + MAX_PAIRS + " key-value pairs, got " + metadata.size() + ".",
                    "metadata", "invalid_value");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (var e : metadata.entrySet()) {
            if (e.getKey().length() > MAX_KEY) {
                throw ApiException.invalid("Invalid 'metadata': key '" + ApiException.clip(e.getKey()) + "' is longer than "
                        + MAX_KEY + " characters.", "metadata", "invalid_value");
            }
            if (!(e.getValue() instanceof String v)) {
                throw ApiException.invalid("Invalid 'metadata': the value of '" + ApiException.clip(e.getKey()) + "' must be a string.",
                        "metadata." + e.getKey(), "invalid_type");
            }
            if (v.length() > MAX_VALUE) {
                throw ApiException.invalid("Invalid 'metadata': the value of '" + ApiException.clip(e.getKey()) + "' is longer than "
                        + MAX_VALUE + " characters.", "metadata." + e.getKey(), "invalid_value");
            }
            out.put(e.getKey(), v);
        }
        return out;
    }

    public static String toJson(Map<String, String> metadata) {
        if (metadata == null) {
            return null;
        }
        try {
            return JSON.writeValueAsString(metadata);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Map<String, String> fromJson(String json) {
        if (json == null) {
            return null;
        }
        try {
            return JSON.readValue(json, TYPE);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored metadata is not JSON", e);
        }
    }
}
