package dev.openbatch.engine.housekeeping;

import dev.openbatch.webhooks.WebhookDeliverer;
import io.smallrye.mutiny.Uni;

/**
 * Asks the process's {@link WebhookDeliverer} for the deliveries that are due, at the webhooks'
 * poll interval. A delivery due at once (a batch just ended here) is nudged without waiting for it.
 */
public final class WebhookDeliveries implements Job {
    private final WebhookDeliverer webhooks;

    public WebhookDeliveries(WebhookDeliverer webhooks) {
        this.webhooks = webhooks;
    }

    @Override
    public String name() { return "webhook deliveries"; }

    @Override
    public long periodMillis() { return webhooks.pollMillis(); }

    @Override
    public Uni<Void> run() {
        return webhooks.poll();
    }
}
