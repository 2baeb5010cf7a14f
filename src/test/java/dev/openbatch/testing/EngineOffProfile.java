package dev.openbatch.testing;

import java.util.Map;

import io.quarkus.test.junit.QuarkusTestProfile;

/** The application without its own engine: tests start engines by hand, as separate processes would be. */
public class EngineOffProfile implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("openbatch.engine.enabled", "false");
    }
}
