package dev.openbatch.testing;

import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/** Starts the {@link FakeUpstream} before the application and points upstream {@code fake} at it. */
public class FakeUpstreamResource implements QuarkusTestResourceLifecycleManager {
    public static final FakeUpstream FAKE = new FakeUpstream();
    private static int port;

    @Override
    public synchronized Map<String, String> start() {
        if (port == 0) {
            try {
                port = FAKE.start();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return Map.of("openbatch.upstreams.fake.url", "http://127.0.0.1:" + port,
                "openbatch.upstreams.fake.models", "fake-model,fake-model-2",
                "openbatch.upstreams.fake.api-key", "sk-upstream-secret",
                "openbatch.upstreams.fake.max-concurrency", "16",
                // a fixed limit: the tests count on 16 lines in flight (the adaptive default has tests of its own)
                "openbatch.upstreams.fake.adaptive", "false",
                // nothing listens on port 1: every attempt is refused at once
                "openbatch.upstreams.dead.url", "http://127.0.0.1:1",
                "openbatch.upstreams.dead.models", "dead-model",
                "openbatch.upstreams.dead.max-concurrency", "4",
                "openbatch.upstreams.dead.adaptive", "false");
    }

    @Override
    public void stop() {
        // shared by every test class; the JVM's end stops it
    }
}
