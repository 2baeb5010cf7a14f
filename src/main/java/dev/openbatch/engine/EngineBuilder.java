package dev.openbatch.engine;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.quotas.QuotasConfig;
import dev.openbatch.quotas.SpendCaps;
import dev.openbatch.engine.config.EngineConfig;

import java.util.List;
import java.util.function.BooleanSupplier;

import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.engine.dispatch.Dispatcher;
import dev.openbatch.engine.housekeeping.BatchDataRetention;
import dev.openbatch.engine.housekeeping.FileRetention;
import dev.openbatch.engine.housekeeping.Gauges;
import dev.openbatch.engine.housekeeping.Heartbeat;
import dev.openbatch.engine.housekeeping.Housekeeping;
import dev.openbatch.engine.housekeeping.IndexUpkeep;
import dev.openbatch.engine.housekeeping.LeaseSweep;
import dev.openbatch.engine.housekeeping.OrphanSweep;
import dev.openbatch.engine.housekeeping.OutputAppender;
import dev.openbatch.engine.housekeeping.RequestTimeouts;
import dev.openbatch.engine.housekeeping.SpendCheck;
import dev.openbatch.engine.housekeeping.UploadSweep;
import dev.openbatch.engine.housekeeping.UpstreamShares;
import dev.openbatch.engine.housekeeping.WebhookBacklog;
import dev.openbatch.engine.housekeeping.WebhookDeliveries;
import dev.openbatch.engine.housekeeping.WebhookRetention;
import dev.openbatch.engine.housekeeping.WebhookSecretSealing;
import dev.openbatch.engine.lifecycle.BatchLog;
import dev.openbatch.engine.lifecycle.Lifecycle;
import dev.openbatch.engine.lifecycle.OutputFiles;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.IndexStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.NodeStore;
import dev.openbatch.store.ShareStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;
import dev.openbatch.webhooks.SecretBox;
import dev.openbatch.webhooks.WebhookDeliverer;
import dev.openbatch.webhooks.WebhookMetrics;
import dev.openbatch.webhooks.WebhooksConfig;
import io.vertx.mutiny.core.Context;
import io.vertx.mutiny.core.Vertx;
import dev.openbatch.store.DeliveryStore;

/**
 * How an engine is put together: its stores, its {@link Lifecycle}, its webhook deliverer, a
 * dispatcher per upstream, and its housekeeping jobs with their periods. {@link EngineService}
 * builds this process's engine with it; tests build more (as more processes on one database) the
 * same way, with a part of their own in place of one (settings, a store that fails, upstreams
 * that count what they are sent). The {@link Engine}'s constructor takes each part from here once.
 */
final class EngineBuilder {
    private final DeliveryStore deliveries;
    private final Transactions transactions;
    private final Vertx vertx;
    private final Time time;
    private final EngineMetrics metrics;
    private final LimitsConfig limits;
    private final Upstreams upstreamsByName;
    private final FileStore files;
    private final BatchLog batchLog;
    private final WebhookMetrics webhookMetrics;
    private final String node;
    private final SpendCaps spendCaps;
    private final QuotasConfig quotasConfig;
    private Quotas quotas;
    private EngineConfig config;
    private WebhooksConfig webhooks;
    private BatchStore batches;
    private LineStore lines;
    private List<Upstream> upstreams;
    private RetentionConfig retention;

    /** An engine named {@code node}, with every part as this process's engine has it. */
    EngineBuilder(String node, DeliveryStore deliveries, Transactions transactions, Vertx vertx, Time time, EngineConfig config, EngineMetrics metrics,
            LimitsConfig limits, Upstreams upstreams, BatchStore batches, LineStore lines, FileStore files, BatchLog batchLog,
            WebhooksConfig webhooks, WebhookMetrics webhookMetrics, Quotas quotas, SpendCaps spendCaps, QuotasConfig quotasConfig,
            RetentionConfig retention) {
        this.node = node;
        this.spendCaps = spendCaps;
        this.quotasConfig = quotasConfig;
        this.retention = retention;
        this.quotas = quotas;
        this.deliveries = deliveries;
        this.transactions = transactions;
        this.vertx = vertx;
        this.time = time;
        this.config = config;
        this.metrics = metrics;
        this.limits = limits;
        this.upstreamsByName = upstreams;
        this.upstreams = upstreams.all();
        this.batches = batches;
        this.lines = lines;
        this.files = files;
        this.batchLog = batchLog;
        this.webhooks = webhooks;
        this.webhookMetrics = webhookMetrics;
    }

    EngineBuilder config(EngineConfig config) {
        this.config = config;
        return this;
    }

    EngineBuilder webhooks(WebhooksConfig webhooks) {
        this.webhooks = webhooks;
        return this;
    }

    /** How long it keeps what batches, files and webhooks leave behind (its retention jobs, its batches' data expiry). */
    EngineBuilder retention(RetentionConfig retention) {
        this.retention = retention;
        return this;
    }

    EngineBuilder batches(BatchStore batches) {
        this.batches = batches;
        return this;
    }

    /** The project quotas its validations count (as this process's, over another store in a test). */
    EngineBuilder quotas(Quotas quotas) {
        this.quotas = quotas;
        return this;
    }

    EngineBuilder lines(LineStore lines) {
        this.lines = lines;
        return this;
    }

    /** The upstreams it sends lines to (by default every configured one). */
    EngineBuilder upstreams(List<Upstream> upstreams) {
        this.upstreams = List.copyOf(upstreams);
        return this;
    }

    List<Upstream> upstreams() { return upstreams; }

    Engine build() {
        return new Engine(this);
    }

    // ---- the parts, as the engine's constructor takes them ----

    String node() { return node; }

    Vertx vertx() { return vertx; }

    Time time() { return time; }

    EngineConfig config() { return config; }

    BatchStore batches() { return batches; }

    BatchLog batchLog() { return batchLog; }

    NodeStore nodeStore() {
        return new NodeStore(transactions, lines, batches);
    }

    Lifecycle lifecycle(BooleanSupplier running) {
        return new Lifecycle(transactions, time, limits, upstreamsByName, batches, lines, files, metrics, quotas, retention, running);
    }

    WebhookDeliverer webhookDeliverer() {
        return new WebhookDeliverer(node, vertx, deliveries, time, webhooks, webhookMetrics, config.lease().toMillis());
    }

    /** A dispatcher per upstream, on the engine's context; {@code batchSettled} is told when a write settled a batch's last line. */
    Dispatchers dispatchers(Context context, Runnable batchSettled) {
        return new Dispatchers(upstreams, batches, context,
                (u, takes, fleet) -> new Dispatcher(u, takes, fleet, transactions, lines, batches, context, time, config, node, metrics, batchSettled));
    }

    /** The engine's periodic jobs, in this order; {@code stopping} says whether the engine is stopping. */
    Housekeeping housekeeping(Context context, NodeStore nodes, WebhookDeliverer deliverer, Dispatchers dispatchers, BooleanSupplier stopping) {
        long lease = config.lease().toMillis();
        return new Housekeeping(context, metrics, List.of(
                new Heartbeat(node, time, lease, nodes, batches, stopping, dispatchers::forgetClaims),
                new UpstreamShares(node, time, new ShareStore(transactions), dispatchers.shared(), r -> context.runOnContext(r), lease),
                new LeaseSweep(node, time, nodes, metrics, lease, config.tick().toMillis()),
                new OrphanSweep(nodes),
                new FileRetention(files, time, metrics, retention),
                new UploadSweep(files, time),
                new BatchDataRetention(transactions, batches, lines, time, metrics, retention),
                new OutputAppender(batches, new OutputFiles(transactions, files, lines, batches)),
                new WebhookRetention(transactions, time, metrics, retention),
                new IndexUpkeep(new IndexStore(transactions), metrics, retention),
                new Gauges(batches, metrics),
                new RequestTimeouts(dispatchers::expireSlowRequests),
                new SpendCheck(spendCaps, metrics, r -> context.runOnContext(r), dispatchers::paused, quotasConfig.spendCheck().toMillis()),
                new WebhookDeliveries(deliverer),
                new WebhookBacklog(deliverer),
                webhookSecretSealing()));
    }

    /** The job that seals the webhook endpoints' secrets again under the current key (with its keys, as {@link #webhooks} has them). */
    WebhookSecretSealing webhookSecretSealing() {
        return new WebhookSecretSealing(transactions, SecretBox.of(webhooks), webhookMetrics);
    }
}
