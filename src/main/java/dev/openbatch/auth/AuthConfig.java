package dev.openbatch.auth;

import java.time.Duration;
import java.util.Optional;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

@ConfigMapping(prefix = "openbatch.auth")
public interface AuthConfig {
    /**
     * Comma list of {@code key:project}: bootstrap keys, kept in memory, each project's id its
     * configured name. Empty, with no admin key either, means open mode: one project,
     * {@code default}, and any (or no) key is accepted.
     */
    Optional<String> keys();

    /**
     * The admin key in clear (e.g. env {@code OPENBATCH_AUTH_ADMIN_KEY} from a Kubernetes secret):
     * it reaches {@code /v1/organization/…} and reads any project's data. Only its SHA-256 is kept.
     */
    Optional<String> adminKey();

    /** The admin key's SHA-256 in hex, in place of {@link #adminKey()}, so that the configuration never holds the key. */
    Optional<String> adminKeySha256();

    /** How often each process asks the database whether a key was created or revoked, or a project archived. */
    @WithDefault("500ms")
    Duration keyPoll();
}
