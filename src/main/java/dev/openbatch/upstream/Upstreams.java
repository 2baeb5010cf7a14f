package dev.openbatch.upstream;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.jboss.logging.Logger;

import io.quarkus.runtime.ShutdownEvent;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.Instance;

/**
 * Every upstream this process can send lines to: the configured HTTP servers, plus any
 * {@link Upstream} bean (the built-in engine when it is on the classpath and enabled).
 */
@ApplicationScoped
public class Upstreams {
    private static final Logger LOG = Logger.getLogger(Upstreams.class);
    private final Map<String, Upstream> byName = new LinkedHashMap<>();

    public Upstreams(UpstreamsConfig config, UpstreamLimits limits, Vertx vertx, @Any Instance<Upstream> builtIn) {
        for (var e : config.servers().entrySet()) {
            byName.put(e.getKey(), new HttpUpstream(vertx, e.getKey(), e.getValue(), limits.requestTimeout(),
                    limits.maxResponseBytes()));
        }
        for (Upstream u : builtIn) {
            if (u instanceof Toggle t && !t.enabled()) {
                continue;
            }
            byName.putIfAbsent(u.name(), u);
        }
        LOG.infof("upstreams: %s", byName.isEmpty() ? "none configured"
                : String.join(", ", byName.values().stream().map(u -> u.name() + " " + u.models() + " x" + u.maxConcurrency()).toList()));
    }

    /** A built-in upstream that can be switched off by configuration. */
    public interface Toggle {
        boolean enabled();
    }

    public Optional<Upstream> get(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    public List<Upstream> all() {
        return Collections.unmodifiableList(new ArrayList<>(byName.values()));
    }

    /**
     * The upstream a model is shown with (the batch's {@code upstream}, the models list, the dry
     * run): the first configured of {@link #serving(Collection, String) those that serve it}.
     */
    public Optional<Upstream> forModel(String model) {
        return serving(byName.values(), model).stream().findFirst();
    }

    /** Every upstream that serves a model, in configured order: see {@link #serving(Collection, String)}. */
    public List<Upstream> allForModel(String model) {
        return serving(byName.values(), model);
    }

    /**
     * The upstreams of {@code all} that serve {@code model}: every one that names it exactly, or
     * when none does, every one with {@code *}. Its lines are spread over them.
     */
    public static List<Upstream> serving(Collection<Upstream> all, String model) {
        List<Upstream> exact = all.stream().filter(u -> u.models().contains(model)).toList();
        return exact.isEmpty() ? all.stream().filter(u -> u.models().contains("*")).toList() : exact;
    }

    /**
     * The models {@code u} takes lines of, among {@code all}, as {@link #serving(Collection, String)} decides:
     * those it names, and with {@code *} any model no upstream names.
     *
     * @param exact  the models it names
     * @param any    whether it has {@code *}
     * @param named  every model some upstream of {@code all} names (a {@code *} upstream leaves these to them)
     */
    public record Takes(List<String> exact, boolean any, List<String> named) {
        public static Takes of(Upstream u, Collection<Upstream> all) {
            List<String> named = all.stream().flatMap(x -> x.models().stream()).filter(m -> !m.equals("*")).distinct().sorted().toList();
            return new Takes(u.models().stream().filter(m -> !m.equals("*")).toList(), u.models().contains("*"), named);
        }

        public boolean model(String model) {
            return model != null && (exact.contains(model) || any && !named.contains(model));
        }
    }

    /** Every model some upstream names (without {@code *}), sorted. */
    public List<String> models() {
        return byName.values().stream().flatMap(u -> u.models().stream()).filter(m -> !m.equals("*")).distinct()
                .sorted(Comparator.naturalOrder()).toList();
    }

    /** The upstream that serves a model, as the models list reports it. */
    public Map<String, String> ownerByModel() {
        Map<String, String> out = new LinkedHashMap<>();
        for (String m : models()) {
            forModel(m).ifPresent(u -> out.put(m, u.name()));
        }
        return out;
    }

    void close(@Observes ShutdownEvent ev) {
        byName.values().forEach(u -> {
            if (u instanceof HttpUpstream h) {
                h.close();
            }
        });
    }
}
