package dev.openbatch.upstream;

import java.util.Map;
import java.util.Optional;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithParentName;

/** {@code openbatch.upstreams.<name>.*}: the inference servers lines are sent to. */
@ConfigMapping(prefix = "openbatch.upstreams")
public interface UpstreamsConfig {
    @WithParentName
    Map<String, Server> servers();

    interface Server {
        /** Server root, for example {@code http://127.0.0.1:8000}; the line's {@code url} is appended. */
        String url();

        /** Sent as {@code Authorization: Bearer <api-key>} when set. */
        Optional<String> apiKey();

        /** Comma list of model names this server serves; {@code *} matches any model. */
        @WithDefault("*")
        String models();

        /** Most lines in flight to this server at once. */
        @WithDefault("64")
        int maxConcurrency();
    }
}
