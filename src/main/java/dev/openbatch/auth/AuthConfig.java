package dev.openbatch.auth;

import java.util.Optional;

import io.smallrye.config.ConfigMapping;

@ConfigMapping(prefix = "openbatch.auth")
public interface AuthConfig {
    /**
     * Comma list of {@code key:project}. Empty means open mode: one project, {@code default},
     * and any (or no) key is accepted.
     */
    Optional<String> keys();
}
