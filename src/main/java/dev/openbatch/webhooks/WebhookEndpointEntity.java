package dev.openbatch.webhooks;

import java.util.Arrays;
import java.util.List;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/**
 * A project's webhook endpoint: where its batches' events go, and the secrets that sign them, as
 * {@link SecretBox} keeps them (sealed; in clear in rows of earlier versions not sealed yet).
 */
@Entity
@Table(name = "webhook_endpoints")
public class WebhookEndpointEntity extends PanacheEntityBase {
    @Id
    public String id;
    public String project;
    public String url;
    public String name;
    /** Comma list of event types. */
    @Column(name = "event_types")
    public String eventTypes;
    /** The stored form of the signing secret: sealed for this endpoint's id. */
    public String secret;
    /** {@code whsec_...} and the secret's last four characters: what the API shows of it. */
    @Column(name = "secret_hint")
    public String secretHint;
    /** The stored form of the secret before the last rotation, while it still signs. */
    @Column(name = "previous_secret")
    public String previousSecret;
    @Column(name = "previous_secret_until")
    public Long previousSecretUntil;
    @Column(name = "created_at")
    public long createdAt;
    @Column(name = "created_us")
    public long createdUs;
    @Column(name = "updated_at")
    public long updatedAt;

    List<String> types() {
        return Arrays.asList(eventTypes.split(","));
    }

    /** The object every answer but create and rotate_secret shows: the secret only as a hint. */
    public WebhookEndpointView view() {
        return new WebhookEndpointView(id, "webhook_endpoint", url, name, types(), secretHint, null, createdAt, updatedAt);
    }

    /** The object of the answers that made the secret: {@code secret} in full (in clear), the one time it is shown. */
    public WebhookEndpointView viewWithSecret(String secret) {
        return new WebhookEndpointView(id, "webhook_endpoint", url, name, types(), secretHint, secret, createdAt, updatedAt);
    }
}
