package dev.openbatch.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import dev.openbatch.engine.config.EngineConfig;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * The upstreams and the engine read {@code openbatch.engine.request-timeout} and
 * {@code max-response-bytes} through their own mappings: same keys, same defaults.
 */
class UpstreamLimitsTest {
    @Test
    void sameKeysAndDefaultsAsTheEngine() throws Exception {
        assertEquals(EngineConfig.class.getAnnotation(ConfigMapping.class).prefix(), UpstreamLimits.class.getAnnotation(ConfigMapping.class).prefix());
        for (String key : new String[] { "requestTimeout", "maxResponseBytes" }) {
            assertEquals(EngineConfig.class.getMethod(key).getReturnType(), UpstreamLimits.class.getMethod(key).getReturnType(), key);
            assertEquals(EngineConfig.class.getMethod(key).getAnnotation(WithDefault.class).value(),
                    UpstreamLimits.class.getMethod(key).getAnnotation(WithDefault.class).value(), key);
        }
    }
}
