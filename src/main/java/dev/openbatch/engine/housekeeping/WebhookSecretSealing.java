package dev.openbatch.engine.housekeeping;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.jboss.logging.Logger;

import dev.openbatch.store.EndpointSecretStore;
import dev.openbatch.store.EndpointSecretStore.Stored;
import dev.openbatch.store.Transactions;
import dev.openbatch.webhooks.SecretBox;
import dev.openbatch.webhooks.WebhookMetrics;
import dev.openbatch.webhooks.WebhookMetrics.SecretState;
import io.smallrye.mutiny.Uni;

/**
 * Seals again under {@code openbatch.webhooks.secret-key} the signing secrets it finds in clear
 * (written by versions before the encryption) or under one of {@code previous-secret-keys}, at
 * the engine's start and every minute after (rows written in clear by an older replica during a
 * rolling upgrade included): {@value #ROWS_PER_TRANSACTION} endpoints per transaction, each
 * locked while it is sealed and skipped by whoever else holds it (a rotation, another process's
 * pass), which the next pass takes. What stays as it was (no key to seal with, or no key that
 * opens it) is counted in {@code openbatch_webhook_secrets_not_current} and logged whenever
 * those counts change.
 */
public final class WebhookSecretSealing implements Job {
    private static final Logger LOG = Logger.getLogger(WebhookSecretSealing.class);
    static final int ROWS_PER_TRANSACTION = 100;
    private static final int IDS_LOGGED = 10;

    private final Transactions transactions;
    private final SecretBox box;
    private final WebhookMetrics metrics;
    /** What the last pass found, as logged. */
    private Map<SecretState, Long> reported = Map.of();

    public WebhookSecretSealing(Transactions transactions, SecretBox box, WebhookMetrics metrics) {
        this.transactions = transactions;
        this.box = box;
        this.metrics = metrics;
    }

    @Override
    public String name() { return "webhook secret sealing"; }

    @Override
    public long periodMillis() { return 60_000; }

    @Override
    public boolean atStart() { return true; }

    /** One pass, in transactions of {@value #ROWS_PER_TRANSACTION} endpoints; how many endpoints it sealed again. */
    @Override
    public Uni<Long> run() {
        Pass pass = new Pass();
        return Steps.untilDone(() -> transactions.run(tx -> EndpointSecretStore.notUnder(tx, box.currentPrefix(), pass.after,
                        ROWS_PER_TRANSACTION).chain(rows -> {
                            List<Stored> sealed = pass.judge(rows);
                            return EndpointSecretStore.replace(tx, sealed).map(n -> new int[] { rows.size(), sealed.size() });
                        })), step -> step[0] == 0, step -> step[1])
                .invoke(sealed -> report(pass, sealed));
    }

    /** A pass over the endpoints, in id order: where it is, and what it found. */
    private final class Pass {
        String after = "";
        final Map<SecretState, Long> counts = new EnumMap<>(SecretState.class);
        final List<String> unreadable = new ArrayList<>();
        long inClearSealed;

        /** The rows whose secrets it sealed again, with their new values; counts the others by state. */
        List<Stored> judge(List<Stored> rows) {
            List<Stored> sealed = new ArrayList<>();
            for (Stored r : rows) {
                after = r.id();
                Row row = new Row(r.id());
                String secret = row.value(r.secret());
                String previous = row.value(r.previousSecret());
                if (row.worst != null) {
                    counts.merge(row.worst, 1L, Long::sum);
                }
                if (row.worst == SecretState.UNREADABLE && unreadable.size() < IDS_LOGGED) {
                    unreadable.add(r.id() + " (" + row.reason + ")");
                }
                if (!secret.equals(r.secret()) || previous != null && !previous.equals(r.previousSecret())) {
                    if (SecretBox.inClear(r.secret()) || SecretBox.inClear(r.previousSecret())) {
                        inClearSealed++;
                    }
                    sealed.add(new Stored(r.id(), secret, previous));
                }
            }
            return sealed;
        }
    }

    /** One endpoint's two secrets: the worst state either is left in, and why one cannot be opened. */
    private final class Row {
        final String id;
        SecretState worst;
        String reason;

        Row(String id) {
            this.id = id;
        }

        /** {@code stored} sealed under the current key when it can be; else as it is, with its state noted. */
        String value(String stored) {
            if (box.isCurrent(stored)) {
                return stored;
            }
            try {
                if (box.canSeal()) {
                    return box.reseal(id, stored);
                }
                box.open(id, stored);
                worsen(SecretBox.inClear(stored) ? SecretState.IN_CLEAR : SecretState.OLD_KEY);
            } catch (SecretBox.Unreadable e) {
                worsen(SecretState.UNREADABLE);
                reason = e.getMessage();
            }
            return stored;
        }

        private void worsen(SecretState s) {
            if (worst == null || s.compareTo(worst) > 0) {
                worst = s;
            }
        }
    }

    private void report(Pass pass, long sealed) {
        metrics.secrets(pass.counts);
        if (sealed > 0) {
            LOG.infof("sealed the signing secrets of %d webhook endpoint(s) under key %s (%d of them were kept in clear)", sealed,
                    box.currentKeyId(), pass.inClearSealed);
        }
        if (pass.counts.equals(reported)) {
            return;
        }
        reported = Map.copyOf(pass.counts);
        long inClear = pass.counts.getOrDefault(SecretState.IN_CLEAR, 0L);
        long oldKey = pass.counts.getOrDefault(SecretState.OLD_KEY, 0L);
        long unreadable = pass.counts.getOrDefault(SecretState.UNREADABLE, 0L);
        if (inClear + oldKey + unreadable == 0) {
            LOG.infof("every webhook signing secret is sealed under key %s", box.currentKeyId());
            return;
        }
        StringBuilder why = new StringBuilder();
        if (inClear > 0) {
            why.append(" ").append(inClear).append(" endpoint(s) keep their signing secrets in clear in the database;");
        }
        if (oldKey > 0) {
            why.append(" ").append(oldKey).append(" endpoint(s) have them sealed under a previous key only;");
        }
        if (inClear + oldKey > 0) {
            why.append(" set openbatch.webhooks.secret-key (the output of `openssl rand -base64 32`) and the engines seal them"
                    + " under it.");
        }
        if (unreadable > 0) {
            why.append(" ").append(unreadable).append(" endpoint(s) have secrets no configured key opens, and get no deliveries"
                    + " (add the key they were sealed with to openbatch.webhooks.previous-secret-keys): ")
                    .append(String.join(", ", pass.unreadable));
        }
        LOG.warn("webhook signing secrets:" + why);
    }
}
