package dev.openbatch.engine.housekeeping;

import dev.openbatch.webhooks.WebhookDeliverer;
import io.smallrye.mutiny.Uni;

/** Sets the gauge of webhook deliveries waiting, and clears rotated-out secrets past their overlap, every five seconds. */
public final class WebhookBacklog implements Job {
    private final WebhookDeliverer webhooks;

    public WebhookBacklog(WebhookDeliverer webhooks) {
        this.webhooks = webhooks;
    }

    @Override
    public String name() { return "webhook backlog"; }

    @Override
    public long periodMillis() { return 5_000; }

    @Override
    public Uni<Void> run() {
        return webhooks.gauge();
    }
}
