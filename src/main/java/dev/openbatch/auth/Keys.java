package dev.openbatch.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.jboss.logging.Logger;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Bearer keys to projects, read once from {@code openbatch.auth.keys}. A presented key is compared
 * with every configured one in constant time (SHA-256 digests, {@link MessageDigest#isEqual}, no
 * early exit), so how long the answer takes says nothing about how close a guess was.
 */
@ApplicationScoped
public class Keys {
    public static final String OPEN_PROJECT = "default";
    private static final Logger LOG = Logger.getLogger(Keys.class);

    private record Entry(byte[] digest, String project) {
    }

    private final List<Entry> entries = new ArrayList<>();

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
                entries.add(new Entry(digest(p.substring(0, colon).trim()), p.substring(colon + 1).trim()));
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

    public boolean isOpen() { return entries.isEmpty(); }

    /** The project a bearer key belongs to; in open mode every caller is {@value #OPEN_PROJECT}. */
    public Optional<String> project(String key) {
        if (isOpen()) {
            return Optional.of(OPEN_PROJECT);
        }
        if (key == null) {
            return Optional.empty();
        }
        byte[] presented = digest(key);
        String project = null;
        for (Entry e : entries) { // every entry, whatever matched: the time does not depend on where or whether
            if (MessageDigest.isEqual(presented, e.digest())) {
                project = e.project();
            }
        }
        return Optional.ofNullable(project);
    }

    private static byte[] digest(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
