package dev.openbatch.auth;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import org.jboss.logging.Logger;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Bearer keys to projects, read once from {@code openbatch.auth.keys}. */
@ApplicationScoped
public class Keys {
    public static final String OPEN_PROJECT = "default";
    private static final Logger LOG = Logger.getLogger(Keys.class);

    private final Map<String, String> projects = new HashMap<>();

    public Keys(AuthConfig config) {
        config.keys().ifPresent(list -> {
            for (String pair : list.split(",")) {
                String p = pair.trim();
                if (p.isEmpty()) {
                    continue;
                }
                int colon = p.lastIndexOf(':');
                if (colon <= 0 || colon == p.length() - 1) {
                    throw new IllegalArgumentException("openbatch.auth.keys: expected key:project, got an entry without both parts");
                }
                projects.put(p.substring(0, colon).trim(), p.substring(colon + 1).trim());
            }
        });
    }

    void warnIfOpen(@Observes StartupEvent ev) {
        if (isOpen()) {
            LOG.warn("**********************************************************************");
            LOG.warn("openbatch.auth.keys is empty: OPEN MODE. Every request is accepted, with");
            LOG.warn("any key or none, as project 'default'. Set openbatch.auth.keys=key:project");
            LOG.warn("before exposing this service.");
            LOG.warn("**********************************************************************");
        }
    }

    public boolean isOpen() { return projects.isEmpty(); }

    /** The project a bearer key belongs to; in open mode every caller is {@value #OPEN_PROJECT}. */
    public Optional<String> project(String key) {
        if (isOpen()) {
            return Optional.of(OPEN_PROJECT);
        }
        return key == null ? Optional.empty() : Optional.ofNullable(projects.get(key));
    }
}
