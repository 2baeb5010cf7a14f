package dev.openbatch.files;

import java.io.IOException;
import java.util.List;
import java.util.Set;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.quotas.Quota;
import dev.openbatch.quotas.Quotas;
import io.quarkus.hibernate.reactive.panache.common.WithTransaction;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Context;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.core.buffer.Buffer;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.Transactions;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * A project's files: uploaded (streamed into chunks as the body arrives, see {@link Upload}), read,
 * listed, downloaded and deleted (unless a live batch reads it). Their bytes go through
 * {@link FileStore}; their rows through Hibernate.
 */
@ApplicationScoped
public class FileService {
    /** Purposes a client may upload with; only `batch` files can start a batch. */
    public static final Set<String> UPLOAD_PURPOSES = Set.of("batch", "assistants", "fine-tune", "vision", "user_data", "evals");
    /** Purpose of the files openbatch writes. */
    public static final String OUTPUT_PURPOSE = "batch_output";
    private static final Set<String> LIST_PURPOSES = Set.of("batch", "assistants", "fine-tune", "vision", "user_data", "evals", OUTPUT_PURPOSE);

    private final FileRepository files;
    private final FileStore store;
    private final LimitsConfig limits;
    private final Time time;
    private final BatchStore batches;
    private final Transactions transactions;
    private final UploadSlots slots;
    private final Vertx vertx;
    private final Quotas quotas;
    private final RetentionConfig retention;

    public FileService(FileRepository files, FileStore store, LimitsConfig limits, Time time, BatchStore batches, Transactions transactions,
            UploadSlots slots, Vertx vertx, Quotas quotas, RetentionConfig retention) {
        this.quotas = quotas;
        this.retention = retention;
        this.files = files;
        this.store = store;
        this.limits = limits;
        this.time = time;
        this.batches = batches;
        this.transactions = transactions;
        this.slots = slots;
        this.vertx = vertx;
    }

    /**
     * Stores the file of a multipart upload as its body arrives (see {@link Upload}); the
     * form's fields are checked once the body has ended, and only then does the file become visible.
     */
    public Uni<FileView> upload(String project, RoutingContext routing) {
        String boundary = MultipartReader.boundary(routing.request().getHeader(HttpHeaders.CONTENT_TYPE));
        if (boundary == null) {
            return Uni.createFrom().failure(new IOException("multipart/form-data without a valid boundary"));
        }
        FileEntity placeholder = new FileEntity();
        placeholder.id = Ids.file();
        placeholder.project = project;
        placeholder.purpose = "batch";
        placeholder.filename = "upload";
        placeholder.status = "processed";
        placeholder.createdAt = time.seconds();
        placeholder.createdUs = time.orderingMicros();
        Context current = io.vertx.core.Vertx.currentContext();
        Context context = current != null ? current : vertx.getDelegate().getOrCreateContext();
        // the body waits (paused) while the project's slot is taken: one of its uploads at once, on every replica
        routing.request().pause();
        return quotas.acquire(project, Quota.UPLOADS_AT_ONCE).onFailure().invoke(() -> context.runOnContext(v -> {
            // refused: the body is read and dropped, so that the client gets the answer
            if (!routing.request().isEnded()) {
                routing.request().handler(b -> {
                });
                routing.request().resume();
            }
        })).chain(slot -> Uni.createFrom().deferred(() -> new Upload(context, routing,
                boundary, transactions, store, slots, limits, time, placeholder,
                (id, purpose, filename, size, anchor, seconds) -> describe(id, project, purpose, filename, size, anchor, seconds), quotas)
                .run()).onTermination().call(() -> quotas.release(slot)))
                .map(FileEntity::view);
    }

    /** The row of an uploaded file, from what its form said; refuses what the contract does not allow. */
    FileEntity describe(String id, String project, String purpose, String filename, long size, String anchor, String seconds) {
        Long expiresAfterSeconds = null;
        if (seconds != null) {
            try {
                expiresAfterSeconds = Long.parseLong(seconds.trim());
            } catch (NumberFormatException e) {
                throw ApiException.invalid("'expires_after[seconds]' must be an integer.", "expires_after[seconds]", "invalid_type");
            }
        }
        if (purpose == null || purpose.isBlank()) {
            throw ApiException.invalid("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter");
        }
        if (!UPLOAD_PURPOSES.contains(purpose)) {
            throw ApiException.invalid("Invalid value for 'purpose': '" + ApiException.clip(purpose)
                    + "'. Supported values are: 'batch', 'assistants', 'fine-tune', 'vision', 'user_data' and 'evals'.",
                    "purpose", "invalid_value");
        }
        Params.text("file", filename);
        if (size > limits.maxUploadBytes()) {
            throw ApiException.tooLarge("File is " + size + " bytes; the limit is " + limits.maxUploadBytes() + " bytes.", "file");
        }
        long now = time.seconds();
        long expiresAt = now + retention.files().toSeconds(); // as OpenAI's batch files: none is kept forever
        if (anchor != null || expiresAfterSeconds != null) {
            if (!"created_at".equals(anchor)) {
                throw ApiException.invalid("Invalid value for 'expires_after[anchor]': only 'created_at' is supported.", "expires_after[anchor]", "invalid_value");
            }
            if (expiresAfterSeconds == null || expiresAfterSeconds < 3600 || expiresAfterSeconds > 2_592_000) {
                throw ApiException.invalid("'expires_after[seconds]' must be between 3600 (1 hour) and 2592000 (30 days).",
                        "expires_after[seconds]", "invalid_value");
            }
            expiresAt = now + expiresAfterSeconds;
        }
        FileEntity f = new FileEntity();
        f.id = id;
        f.project = project;
        f.purpose = purpose;
        f.filename = filename == null || filename.isBlank() ? "upload" : filename;
        f.bytes = size;
        f.status = "processed";
        f.createdAt = now;
        f.expiresAt = expiresAt;
        f.createdUs = time.orderingMicros();
        return f;
    }

    public Uni<FileView> get(String project, String id) {
        return owned(project, id).map(FileEntity::view);
    }

    public Uni<FileEntity> owned(String project, String id) {
        return files.findOwned(project, id)
                .onItem().ifNull().failWith(() -> ApiException.notFound("file", id));
    }

    public Uni<ListPage<FileView>> list(String project, String purpose, Integer limit, String order, String after) {
        int n = limit == null ? 10000 : limit;
        if (n < 1 || n > 10000) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and 10000.", "limit", "invalid_value");
        }
        String o = order == null ? "desc" : order;
        if (!o.equals("asc") && !o.equals("desc")) {
            throw ApiException.invalid("Invalid 'order': must be 'asc' or 'desc'.", "order", "invalid_value");
        }
        if (purpose != null && !LIST_PURPOSES.contains(purpose)) {
            throw ApiException.invalid("Invalid 'purpose': '" + ApiException.clip(purpose) + "'.", "purpose", "invalid_value");
        }
        Uni<FileEntity> cursor = after == null ? Uni.createFrom().nullItem()
                : files.findOwned(project, after).onItem().ifNull()
                        .failWith(() -> ApiException.invalid("Invalid 'after': no file with id '" + ApiException.clip(after) + "'.", "after", "invalid_value"));
        return cursor.chain(c -> files.page(project, purpose, o.equals("asc"), c, n + 1))
                .map(rows -> ListPage.of(rows.stream().map(FileEntity::view).toList(), n, FileView::id));
    }


    public Multi<Buffer> content(String id) {
        return store.read(id);
    }

    /**
     * Deletes the file unless a live batch reads it. The row is deleted first and the batches
     * read after: the delete waits for a create or a retry that holds the file's row (each reads
     * it {@code for share} in the transaction that inserts its batch), so the check sees their
     * batch, and a 409 rolls the delete back.
     */
    @WithTransaction
    public Uni<Void> delete(String project, String id) {
        return owned(project, id).chain(f -> files.delete("id", id))
                .chain(gone -> batches.liveWithInput(id))
                .chain(batch -> {
                    if (batch != null) {
                        return Uni.createFrom().failure(ApiException.conflict("File " + id + " is the input of batch "
                                + batch + ", which is still running; cancel it or wait until it ends.", "file_in_use"));
                    }
                    return Uni.createFrom().voidItem();
                });
    }

}
