package dev.openbatch.batches;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.api.ApiException;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The {@code Idempotency-Key} of the requests that make a batch ({@code POST /v1/batches} and
 * {@code POST /v1/batches/{id}/retry}): the key is kept on the batch made, with the request's
 * fingerprint. A request with a key already kept answers that batch as it is now, when its
 * fingerprint is the same, and 409 {@code idempotency_key_reused} when it is not (one key space
 * per project, so a create's key reused on a retry is a 409 too). Two twins at once: the one that
 * loses the unique index's race answers the winner's batch.
 */
@ApplicationScoped
class Idempotency {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BatchRepository batches;

    Idempotency(BatchRepository batches) {
        this.batches = batches;
    }

    /** 400 unless {@code key} is absent or 1 to 255 characters. */
    static void check(String key) {
        if (key != null && (key.isBlank() || key.length() > 255)) {
            throw ApiException.invalid("The Idempotency-Key header must be 1 to 255 characters.", "Idempotency-Key", "invalid_value");
        }
    }

    /** The request's fingerprint: SHA-256 of its JSON form. A repeated key must come with the same one. */
    static String fingerprint(Object request) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(JSON.writeValueAsBytes(request)));
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The batch that {@code key} (when given) already made with this {@code fingerprint}, else
     * the one {@code make} makes, which keeps the key and fingerprint in its row.
     */
    Uni<BatchView> once(String project, String key, String fingerprint, Supplier<Uni<BatchView>> make) {
        if (key == null) {
            return make.get();
        }
        return existing(project, key, fingerprint)
                .onItem().ifNull().switchTo(() -> make.get()
                        .onFailure(Idempotency::isRace).recoverWithUni(() -> existing(project, key, fingerprint)));
    }

    private Uni<BatchView> existing(String project, String key, String fingerprint) {
        return Panache.withSession(() -> batches.findByIdempotencyKey(project, key)).map(b -> {
            if (b == null) {
                return null;
            }
            if (!fingerprint.equals(b.requestHash)) {
                throw ApiException.conflict("This Idempotency-Key was already used with different parameters (batch "
                        + b.id + "). Use a new key for a new batch.", "idempotency_key_reused");
            }
            return BatchView.of(b);
        });
    }

    private static boolean isRace(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && c.getMessage().contains("batches_idempotency")) {
                return true;
            }
        }
        return false;
    }
}
