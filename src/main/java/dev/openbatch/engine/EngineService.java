package dev.openbatch.engine;
import dev.openbatch.store.NodeStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.BatchStore;
import dev.openbatch.engine.lifecycle.Lifecycle;
import dev.openbatch.engine.metrics.EngineMetrics;

import java.net.InetAddress;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;

import dev.openbatch.api.Ids;
import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.Time;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.engine.BatchChanged;
import dev.openbatch.db.Migrations;
import dev.openbatch.store.FileStore;
import dev.openbatch.upstream.Upstreams;
import dev.openbatch.webhooks.WebhookDeliverer;
import dev.openbatch.webhooks.WebhookMetrics;
import dev.openbatch.webhooks.WebhooksConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import dev.openbatch.store.Transactions;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Owns this process's {@link Engine}: starts it after the migrations, stops it gracefully on shutdown. */
@ApplicationScoped
public class EngineService {
    private static final Logger LOG = Logger.getLogger(EngineService.class);

    private final Pool pool;
    private final Vertx vertx;
    private final Time time;
    private final EngineConfig config;
    private final EngineMetrics metrics;
    private final LimitsConfig limits;
    private final Upstreams upstreams;
    private final FileStore store;
    private final BatchLog batchLog;
    private final WebhooksConfig webhooks;
    private final WebhookMetrics webhookMetrics;
    private volatile Engine engine;

    public EngineService(Pool pool, Vertx vertx, Time time, EngineConfig config, EngineMetrics metrics, LimitsConfig limits,
            Upstreams upstreams, FileStore store, BatchLog batchLog, WebhooksConfig webhooks, WebhookMetrics webhookMetrics,
            Migrations migrations) {
        this.pool = pool;
        this.vertx = vertx;
        this.time = time;
        this.config = config;
        this.metrics = metrics;
        this.limits = limits;
        this.upstreams = upstreams;
        this.store = store;
        this.batchLog = batchLog;
        this.webhooks = webhooks;
        this.webhookMetrics = webhookMetrics;
    }

    void start(@Observes @Priority(100) StartupEvent ev) {
        if (!config.enabled()) {
            LOG.info("engine disabled (openbatch.engine.enabled=false): this process serves the API only");
            return;
        }
        engine = create(config.nodeId().orElseGet(EngineService::defaultNode));
        engine.start();
    }

    /** A new engine on this process's database and upstreams (tests make several to act as several processes). */
    public Engine create(String node) {
        return create(node, config);
    }

    /** The same, with settings of its own. */
    public Engine create(String node, EngineConfig config) {
        return create(node, config, webhooks);
    }

    /** The same, with engine and webhook settings of its own. */
    public Engine create(String node, EngineConfig config, WebhooksConfig webhooks) {
        return create(node, config, webhooks, new BatchStore(pool), new LineStore(pool));
    }

    /** The same, reading and changing batches through the store given (tests pass one that fails or records). */
    Engine create(String node, EngineConfig config, BatchStore batches) {
        return create(node, config, batches, new LineStore(pool));
    }

    /** The same, with the lines' statements run through the store given (tests pass one that spoils results). */
    Engine create(String node, EngineConfig config, BatchStore batches, LineStore lines) {
        return create(node, config, webhooks, batches, lines);
    }

    private Engine create(String node, EngineConfig config, WebhooksConfig webhooks, BatchStore batches, LineStore lines) {
        return new Engine(node, new Transactions(pool), vertx, time, config, metrics,
                new Lifecycle(new Transactions(pool), time, limits, upstreams, batches, lines, store, metrics),
                lines, batches, new NodeStore(pool, lines, batches), store, upstreams.all(), batchLog,
                new WebhookDeliverer(node, vertx, pool, time, webhooks, webhookMetrics, config.lease().toMillis()));
    }

    /** The running engine, or null when disabled. */
    public Engine engine() {
        return engine;
    }

    void wake(@Observes BatchChanged changed) {
        Engine e = engine;
        if (e != null) {
            if (changed.started()) {
                e.started(changed.batchId());
            }
            e.wake();
        }
    }

    /** Runs before every other shutdown observer: the upstream clients must stay open while lines in flight finish. */
    void stop(@Observes @Priority(1) ShutdownEvent ev) {
        Engine e = engine;
        if (e == null) {
            return;
        }
        LOG.infof("stopping engine %s: %d line(s) in flight, grace %s", e.node(), e.inFlight(), config.shutdownGrace());
        try {
            e.stop(config.shutdownGrace()).toCompletableFuture().get(config.shutdownGrace().toMillis() + 10_000, TimeUnit.MILLISECONDS);
            LOG.infof("engine %s stopped; every claim it held was given back", e.node());
        } catch (Exception ex) {
            LOG.warnf("engine %s did not stop cleanly: %s (its claims return to the queue when their lease runs out)", e.node(), ex.getMessage());
        }
    }

    private static String defaultNode() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "openbatch";
        }
        return host + "-" + Ids.request().substring(4, 12);
    }
}
