package dev.openbatch.engine;
import dev.openbatch.engine.config.EngineConfig;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Startup;

import jakarta.enterprise.context.ApplicationScoped;

/** Started once the schema is migrated and the engine runs (or is switched off on purpose). */
@Startup
@ApplicationScoped
public class EngineStartedCheck implements HealthCheck {
    private final EngineService engines;
    private final EngineConfig config;

    public EngineStartedCheck(EngineService engines, EngineConfig config) {
        this.engines = engines;
        this.config = config;
    }

    @Override
    public HealthCheckResponse call() {
        Engine e = engines.engine();
        boolean up = e != null || !config.enabled();
        return HealthCheckResponse.named("openbatch engine").status(up)
                .withData("node", e == null ? "none (engine disabled)" : e.node())
                .build();
    }
}
