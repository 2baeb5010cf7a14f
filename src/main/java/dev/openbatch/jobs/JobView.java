package dev.openbatch.jobs;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.util.Map;

/** The Job object of the API. */
@RegisterForReflection
public record JobView(String id, String object, String name, String model, String completion_window, int priority,
        Integer max_concurrency, Map<String, String> metadata, long created_at) {
}
