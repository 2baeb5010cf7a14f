package dev.openbatch.engine;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.quotas.QuotasConfig;
import dev.openbatch.quotas.SpendCaps;
import dev.openbatch.engine.config.EngineConfig;

import java.net.InetAddress;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;

import dev.openbatch.api.Ids;
import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.db.Migrations;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.upstream.Upstreams;
import dev.openbatch.webhooks.WebhookMetrics;
import dev.openbatch.webhooks.WebhooksConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.core.Vertx;
import dev.openbatch.store.DeliveryStore;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Owns this process's {@link Engine}: builds and starts it after the migrations, stops it gracefully on shutdown. */
@ApplicationScoped
public class EngineService {
    private static final Logger LOG = Logger.getLogger(EngineService.class);

    private final DeliveryStore deliveries;
    private final Transactions transactions;
    private final Vertx vertx;
    private final Time time;
    private final EngineConfig config;
    private final EngineMetrics metrics;
    private final LimitsConfig limits;
    private final Upstreams upstreams;
    private final BatchStore batches;
    private final LineStore lines;
    private final FileStore files;
    private final BatchLog batchLog;
    private final WebhooksConfig webhooks;
    private final WebhookMetrics webhookMetrics;
    private final Quotas quotas;
    private final SpendCaps spendCaps;
    private final QuotasConfig quotasConfig;
    private final RetentionConfig retention;
    private volatile Engine engine;

    public EngineService(DeliveryStore deliveries, Transactions transactions, Vertx vertx, Time time, EngineConfig config, EngineMetrics metrics,
            LimitsConfig limits, Upstreams upstreams, BatchStore batches, LineStore lines, FileStore files, BatchLog batchLog,
            WebhooksConfig webhooks, WebhookMetrics webhookMetrics, Quotas quotas, SpendCaps spendCaps, QuotasConfig quotasConfig,
            RetentionConfig retention, Migrations migrations) {
        this.quotas = quotas;
        this.spendCaps = spendCaps;
        this.quotasConfig = quotasConfig;
        this.retention = retention;
        this.deliveries = deliveries;
        this.transactions = transactions;
        this.vertx = vertx;
        this.time = time;
        this.config = config;
        this.metrics = metrics;
        this.limits = limits;
        this.upstreams = upstreams;
        this.batches = batches;
        this.lines = lines;
        this.files = files;
        this.batchLog = batchLog;
        this.webhooks = webhooks;
        this.webhookMetrics = webhookMetrics;
    }

    void start(@Observes @Priority(100) StartupEvent ev) {
        if (!config.enabled()) {
            LOG.info("engine disabled (openbatch.engine.enabled=false): this process serves the API only");
            return;
        }
        engine = builder(config.nodeId().orElseGet(EngineService::defaultNode)).build();
        engine.start();
    }

    /** An engine named {@code node} with this process's parts, database and upstreams, to build (tests build several, as several processes). */
    EngineBuilder builder(String node) {
        return new EngineBuilder(node, deliveries, transactions, vertx, time, config, metrics, limits, upstreams, batches, lines, files, batchLog,
                webhooks, webhookMetrics, quotas, spendCaps, quotasConfig, retention);
    }

    /** The running engine, or null when disabled. */
    Engine engine() {
        return engine;
    }

    void wake(@Observes BatchChanged changed) {
        Engine e = engine;
        if (e != null) {
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
            LOG.infof("engine %s stopped; its lines were given back (a batch step still running keeps its claim until its lease runs out)", e.node());
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
