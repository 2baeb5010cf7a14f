package dev.openbatch.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import io.smallrye.mutiny.Uni;

/** Which upstreams serve a model: every one naming it exactly, or if none does, every {@code *} one. */
class UpstreamRoutingTest {
    private record Fake(String name, Set<String> models) implements Upstream {
        Fake(String name, String... models) {
            this(name, new LinkedHashSet<>(List.of(models)));
        }

        @Override
        public int maxConcurrency() { return 1; }

        @Override
        public Uni<UpstreamResponse> send(String path, String body) { return Uni.createFrom().nullItem(); }
    }

    private static final Upstream VLLM_A = new Fake("vllm-a", "llama");
    private static final Upstream VLLM_B = new Fake("vllm-b", "llama", "qwen");
    private static final Upstream HOSTED = new Fake("hosted", "*");
    private static final Upstream CATCH_ALL = new Fake("catch-all", "*", "mistral");
    private static final List<Upstream> ALL = List.of(VLLM_A, VLLM_B, HOSTED, CATCH_ALL);

    private static List<String> names(String model) {
        return Upstreams.serving(ALL, model).stream().map(Upstream::name).toList();
    }

    @Test
    void exactNamesBeatStarAndEveryExactOneServes() {
        assertEquals(List.of("vllm-a", "vllm-b"), names("llama"), "in configured order; the * ones stay out");
        assertEquals(List.of("vllm-b"), names("qwen"));
        assertEquals(List.of("catch-all"), names("mistral"));
        assertEquals(List.of("hosted", "catch-all"), names("gpt-4o"), "no exact name: every * one");
        assertEquals(List.of(), Upstreams.serving(List.of(VLLM_A), "gpt-4o"));
    }

    @Test
    void whatEachDispatcherTakesAgreesWithTheRule() {
        for (String model : List.of("llama", "qwen", "mistral", "gpt-4o", "other")) {
            for (Upstream u : ALL) {
                assertEquals(names(model).contains(u.name()), Upstreams.Takes.of(u, ALL).model(model), u.name() + " for " + model);
            }
        }
        Upstreams.Takes hosted = Upstreams.Takes.of(HOSTED, ALL);
        assertTrue(hosted.any());
        assertEquals(List.of("llama", "mistral", "qwen"), hosted.named(), "what a * upstream leaves to those that name it");
        assertFalse(Upstreams.Takes.of(VLLM_A, ALL).model(null));
    }
}
