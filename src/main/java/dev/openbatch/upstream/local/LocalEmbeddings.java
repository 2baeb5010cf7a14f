package dev.openbatch.upstream.local;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.UpstreamResponse;
import dev.openbatch.upstream.Upstreams;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

/**
 * The built-in upstream {@code local}: answers {@code /v1/embeddings} lines for {@code all-minilm-l6-v2}
 * inside this process, so a batch runs with no inference server at all.
 *
 * <p>To the engine it is one more {@link Upstream}: it gets lines up to {@code max-concurrency} and
 * answers each with an HTTP-like status and body (200 with the OpenAI list, 400 for a body the model
 * cannot answer, 404 for another path, 500 when the model itself fails, which the engine retries).
 *
 * <p>How the work runs: {@link #send} only queues the line and returns; nothing here touches the
 * event loop. A pool of {@code threads} workers of its own ({@link ModelWorkers}, not Mutiny's default
 * pool) parses queued lines, and each worker takes up to {@code group-size} texts, from as many lines
 * as needed, into one model call. A line completes when all its texts are embedded, on the worker
 * thread; the engine moves the answer back to its own context. The model loads on first use, on a
 * worker.
 *
 * <p>Each model call (and the model's load) passes a {@link NativeGate}, which a stop signal closes
 * before the JVM's shutdown frees the model's runtime: the lines it keeps out get a retryable 503,
 * which the engine gives back.
 */
@ApplicationScoped
public class LocalEmbeddings implements Upstream, Upstreams.Toggle {
    private static final Logger LOG = Logger.getLogger(LocalEmbeddings.class);

    /** The one model served, as lines name it. */
    public static final String MODEL = "all-minilm-l6-v2";
    /** Floats per embedding. */
    public static final int DIMENSIONS = 384;
    static final String PATH = "/v1/embeddings";

    private final LocalConfig config;
    private final Supplier<? extends Encoder> loader;
    /** Writes floats with Jackson's Schubfach writer: on Java 17, Float.toString is most of the JSON's cost. */
    private final ObjectMapper json = new ObjectMapper(JsonFactory.builder().enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER).build());
    private final int groupSize;
    private final ModelWorkers workers;
    /** Passed by every model call and the model's load; closed by a stop signal. */
    private final NativeGate gate;

    private final Object lock = new Object();
    /** Lines not parsed yet. Guarded by {@link #lock}. */
    private final ArrayDeque<Line> incoming = new ArrayDeque<>();
    /** Texts of parsed lines waiting for a model call. Guarded by {@link #lock}. */
    private final ArrayDeque<Piece> pending = new ArrayDeque<>();
    /** Workers running {@link #drain}. Guarded by {@link #lock}. */
    private int active;

    private volatile Encoder encoder;
    private volatile boolean loadFailed;
    /** Set by {@link #close}; see {@link #closing}. */
    private volatile boolean closed;

    @Inject
    public LocalEmbeddings(LocalConfig config) {
        this(config, MiniLm::load);
    }

    /** With another model loader: tests count model calls or make the model fail. */
    LocalEmbeddings(LocalConfig config, Supplier<? extends Encoder> loader) {
        this(config, loader, new NativeGate());
    }

    /** With the caller's gate: tests stop the model's native work as a stop signal does. */
    LocalEmbeddings(LocalConfig config, Supplier<? extends Encoder> loader, NativeGate gate) {
        this.config = config;
        this.loader = loader;
        this.workers = new ModelWorkers(config.threads() > 0 ? config.threads() : Runtime.getRuntime().availableProcessors());
        this.groupSize = Math.max(1, config.groupSize());
        this.gate = gate;
    }

    @Override
    public String name() {
        return "local";
    }

    @Override
    public Set<String> models() {
        return Set.of(MODEL);
    }

    @Override
    public int maxConcurrency() {
        return Math.max(1, config.maxConcurrency());
    }

    /** The model runs in this process: its max-concurrency is this process's own, not shared with the other replicas. */
    @Override
    public boolean shared() {
        return false;
    }

    @Override
    public boolean enabled() {
        return config.enabled();
    }

    @Override
    public Uni<UpstreamResponse> send(String path, String body) {
        return Uni.createFrom().emitter(emitter -> {
            Line line = new Line(path, body, emitter);
            emitter.onTermination(() -> line.done.set(true));
            boolean start;
            synchronized (lock) {
                incoming.add(line);
                start = active < workers.threads();
                if (start) {
                    active++;
                }
            }
            if (start) {
                try {
                    workers.execute(this::drain);
                } catch (RuntimeException e) { // shut down
                    synchronized (lock) {
                        active--;
                    }
                    line.fail(serverError("The built-in model is shutting down."));
                }
            }
        });
    }

    /** One line in flight: its texts, and where their vectors go. */
    private final class Line {
        final String path;
        final String body;
        final UniEmitter<? super UpstreamResponse> emitter;
        final AtomicBoolean done = new AtomicBoolean();
        EmbeddingsRequest request;
        float[][] vectors;
        int[] tokens;
        AtomicInteger remaining;

        Line(String path, String body, UniEmitter<? super UpstreamResponse> emitter) {
            this.path = path;
            this.body = body;
            this.emitter = emitter;
        }

        void fail(UpstreamResponse r) {
            if (done.compareAndSet(false, true)) {
                emitter.complete(r);
            }
        }

        /** Records one text's result; the last one completes the line. */
        void put(int index, float[] vector, int tokenCount) {
            vectors[index] = vector;
            tokens[index] = tokenCount;
            if (remaining.decrementAndGet() == 0 && !done.get()) {
                long sum = 0;
                for (int t : tokens) {
                    sum += t;
                }
                UpstreamResponse r;
                try {
                    r = new UpstreamResponse(200, EmbeddingsJson.list(json, vectors, request.base64(), sum), null, null);
                } catch (RuntimeException e) {
                    LOG.warnf(e, "writing an embeddings answer failed");
                    r = serverError("The built-in model could not write its answer.");
                }
                if (done.compareAndSet(false, true)) {
                    emitter.complete(r);
                }
            }
        }
    }

    /** One text of a line. */
    private record Piece(Line line, int index, String text) {
    }

    /** A worker: takes groups of texts and embeds them until nothing is left, then leaves. */
    private void drain() {
        List<Piece> group;
        while ((group = nextGroup()) != null) {
            if (!gate.tryEnter()) {
                // the process is stopping: the engine gives these lines back (or retries them after a restart)
                UpstreamResponse r = EmbeddingsJson.error(json, 503, "The built-in model is shutting down; try again.", "server_error",
                        null, null);
                group.forEach(p -> p.line.fail(r));
                continue;
            }
            try {
                embed(group);
            } catch (Throwable t) { // embed already answers model failures; this is the last resort
                if (closing()) {
                    LOG.debugf(t, "the built-in model's worker stopped with the process (%d texts unanswered)", group.size());
                } else {
                    LOG.errorf(t, "the built-in model's worker failed on a group of %d texts", group.size());
                }
                UpstreamResponse r = serverError("The built-in model failed.");
                group.forEach(p -> p.line.fail(r));
            } finally {
                gate.leave();
            }
        }
    }

    /**
     * A SIGTERM, SIGINT or SIGHUP first stops the model's native work ({@link NativeGate#stop}), then
     * goes on as the JVM would have: its shutdown, with Quarkus's graceful stop of the engine (lines
     * of the built-in model not yet in a model call are given back like any other). Installed once
     * ({@link NativeGate#installStopSignals}), by the application's instance, when the built-in model
     * is enabled.
     */
    void installStopSignals(@Observes StartupEvent ev) {
        if (config.enabled()) {
            gate.installStopSignals();
        }
    }

    /**
     * Up to {@code group-size} texts of live lines, parsing queued lines as needed to fill the group;
     * null (and this worker counted out) when there is nothing left to do.
     */
    private List<Piece> nextGroup() {
        List<Line> toParse = new ArrayList<>();
        while (true) {
            synchronized (lock) {
                if (pending.size() >= groupSize || (!pending.isEmpty() && incoming.isEmpty())) {
                    List<Piece> group = new ArrayList<>(Math.min(groupSize, pending.size()));
                    while (group.size() < groupSize && !pending.isEmpty()) {
                        Piece p = pending.poll();
                        if (!p.line.done.get()) {
                            group.add(p);
                        }
                    }
                    if (!group.isEmpty()) {
                        return group;
                    }
                    continue;
                }
                if (incoming.isEmpty()) {
                    active--;
                    return null;
                }
                // enough lines to fill a group even if each holds one text
                for (int room = groupSize - pending.size(); room > 0 && !incoming.isEmpty(); room--) {
                    toParse.add(incoming.poll());
                }
            }
            List<Piece> parsed = new ArrayList<>();
            for (Line line : toParse) {
                parse(line, parsed);
            }
            toParse.clear();
            if (!parsed.isEmpty()) {
                synchronized (lock) {
                    pending.addAll(parsed);
                }
            }
        }
    }

    /** Checks a line; a bad one is answered at once, a good one adds its texts to {@code out}. */
    private void parse(Line line, List<Piece> out) {
        if (line.done.get()) {
            return;
        }
        if (!PATH.equals(line.path)) {
            line.fail(EmbeddingsJson.error(json, 404, "Unknown request URL: POST " + shorten(line.path)
                    + ". The built-in model serves only POST " + PATH + ".", "invalid_request_error", null, "unknown_url"));
            return;
        }
        try {
            line.request = EmbeddingsRequest.parse(json, line.body);
        } catch (EmbeddingsRequest.Invalid e) {
            line.fail(EmbeddingsJson.error(json, 400, e.getMessage(), "invalid_request_error", e.param, e.code));
            return;
        } catch (RuntimeException e) {
            line.fail(EmbeddingsJson.error(json, 400, "We could not parse the JSON body of your request.", "invalid_request_error", null, null));
            return;
        }
        List<String> texts = line.request.texts();
        line.vectors = new float[texts.size()][];
        line.tokens = new int[texts.size()];
        line.remaining = new AtomicInteger(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            out.add(new Piece(line, i, texts.get(i)));
        }
    }

    /** One model call for the whole group; if it fails, one call per text, so one bad text fails only its own line. */
    private void embed(List<Piece> group) {
        Encoder model;
        try {
            model = encoder();
        } catch (Throwable t) {
            if (closing()) {
                // the runtime refuses work once the JVM is shutting down: not a broken model, and the lines are given back
                LOG.debugf(t, "loading the built-in model %s was cut short by the stop", MODEL);
            } else if (!loadFailed) {
                loadFailed = true;
                LOG.errorf(t, "the built-in model %s could not be loaded", MODEL);
            }
            UpstreamResponse r = serverError("The built-in model could not be loaded.");
            group.forEach(p -> p.line.fail(r));
            return;
        }
        List<Piece> live = new ArrayList<>(group.size());
        int[] counts = new int[group.size()];
        for (Piece p : group) {
            if (p.line.done.get()) {
                continue;
            }
            int n;
            try {
                n = model.countTokens(p.text);
            } catch (RuntimeException e) {
                LOG.warnf(e, "the built-in model's tokenizer failed");
                p.line.fail(serverError("The built-in model's tokenizer failed."));
                continue;
            }
            if (n == 0) {
                p.line.fail(EmbeddingsJson.error(json, 400, "'input'" + (p.line.request.texts().size() > 1 ? " item " + p.index : "")
                        + " has no tokens to embed.", "invalid_request_error", "input", null));
                continue;
            }
            counts[live.size()] = n;
            live.add(p);
        }
        if (live.isEmpty()) {
            return;
        }
        List<float[]> vectors;
        try {
            vectors = model.embedAll(live.stream().map(Piece::text).toList());
            if (vectors.size() != live.size()) {
                throw new IllegalStateException("the model returned " + vectors.size() + " vectors for " + live.size() + " texts");
            }
        } catch (Throwable t) {
            // the message only: a broken model fails every line, and one stack trace per line helps no one
            LOG.warnf("the built-in model failed on %d text(s)%s: %s", live.size(), live.size() > 1 ? ", trying them one by one" : "", t);
            LOG.debug("the model's failure", t);
            if (live.size() == 1) {
                live.get(0).line.fail(serverError("The built-in model failed on this input."));
                return;
            }
            for (Piece p : live) {
                embed(List.of(p));
            }
            return;
        }
        for (int i = 0; i < live.size(); i++) {
            Piece p = live.get(i);
            p.line.put(p.index, vectors.get(i), counts[i]);
        }
    }

    /** The model, loaded on first use (once, whichever worker gets there first). */
    private Encoder encoder() {
        Encoder e = encoder;
        if (e == null) {
            synchronized (this) {
                e = encoder;
                if (e == null) {
                    long t0 = System.nanoTime();
                    e = loader.get();
                    encoder = e;
                    LOG.infof("built-in model %s loaded in %d ms (%d worker threads, groups of up to %d texts)",
                            MODEL, (System.nanoTime() - t0) / 1_000_000, workers.threads(), groupSize);
                }
            }
        }
        return e;
    }

    /** Whether the process stops: a model call or load that fails now fails because of the stop, not by itself. */
    private boolean closing() {
        return closed || gate.stopped();
    }

    private UpstreamResponse serverError(String message) {
        return EmbeddingsJson.error(json, 500, message, "server_error", null, null);
    }

    private static String shorten(String s) {
        if (s == null) {
            return "(none)";
        }
        return s.length() > 100 ? s.substring(0, 100) + "…" : s;
    }

    /**
     * The stop begins: the model's runtime may refuse work from now on (its own shutdown hook runs
     * beside Quarkus's while the engine's lines get their grace), which is no fault of the model.
     */
    void stopping(@Observes ShutdownEvent ev) {
        gate.beginStop();
    }

    @PreDestroy
    void close() {
        closed = true;
        workers.shutdown();
    }
}
