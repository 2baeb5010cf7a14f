package dev.openbatch.files;
import dev.openbatch.store.FileStore;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.jboss.logging.Logger;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.HttpLayer;
import dev.openbatch.api.LimitsConfig;
import dev.openbatch.api.LogText;
import dev.openbatch.quotas.Quotas;
import io.netty.buffer.ByteBuf;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;

/**
 * One {@code POST /v1/files}, stored as its body arrives: no temporary file, and each byte looked
 * at once. The request's event loop receives the body and keeps the order of things; a worker
 * thread reads the multipart framing ({@link MultipartReader}) and passes the file part through
 * {@link FileIngest} (chunks, and a batch file's line index); the chunks are written to the
 * database one after another while the next are read, all in one transaction that commits only
 * when the whole body has arrived and its form is valid. A body cut off half-way, refused for its
 * size, or malformed rolls everything back: nothing of it stays. Memory: about a MiB of received
 * bytes waiting to be read (past that the request is paused), two chunks waiting to be written,
 * and what {@link FileIngest} holds.
 */
final class Upload implements MultipartReader.Listener {
    private static final Logger LOG = Logger.getLogger(Upload.class);
    /** Received bytes waiting to be read past which the request is paused. */
    private static final int HIGH_WATER = 1 << 20;
    /** Chunks waiting to be written past which reading stops. */
    private static final int WRITE_BACKLOG = 2;
    /** Most bytes of one plain form field (as {@code quarkus.http.limits.max-form-attribute-size}). */
    static final int MAX_FIELD_BYTES = 64 * 1024;

    /** What the form said, checked and turned into the file's row once the body has ended (throws ApiException). */
    interface Describe {
        FileEntity describe(String id, String purpose, String filename, long size, String anchor, String expiresAfterSeconds);
    }

    private final Context context;
    private final RoutingContext routing;
    private final HttpServerRequest request;
    private final Transactions transactions;
    private final FileStore store;
    private final UploadSlots slots;
    private final Quotas quotas;
    private final LimitsConfig limits;
    private final FileEntity placeholder;
    private final Describe describe;
    private final MultipartReader reader;

    // ---- on the event loop ----
    private UniEmitter<? super FileEntity> result;
    private UniEmitter<? super FileEntity> transaction;
    private Tx tx;
    private final ArrayDeque<Buffer> received = new ArrayDeque<>();
    private long receivedBytes;
    private final ArrayDeque<FileStore.NewChunk> toWrite = new ArrayDeque<>();
    private boolean streaming;
    private boolean paused;
    private boolean parsing;
    private boolean writing;
    private boolean ended;
    private boolean finishing;
    /** The connection went away: nothing is answered, everything is dropped. */
    private boolean broken;
    /** Why the upload fails, found while the body still arrives (it is read to its end, then answered). */
    private Throwable problem;

    // ---- on the worker thread, one read at a time (handed over through executeBlocking) ----
    private enum Part { FILE, FIELD, SKIP }

    private Part part = Part.SKIP;
    private String fieldName;
    private ByteArrayOutputStream field;
    private final Map<String, String> fields = new HashMap<>();
    private String tooLongField;
    private int fileParts;
    private String filename;
    private long fileBytes;
    private FileIngest ingest;
    private List<FileIngest.Chunk> out;

    Upload(Context context, RoutingContext routing, String boundary, Transactions transactions, FileStore store, UploadSlots slots, LimitsConfig limits,
            FileEntity placeholder, Describe describe, Quotas quotas) {
        this.quotas = quotas;
        this.context = context;
        this.routing = routing;
        this.request = routing.request();
        this.transactions = transactions;
        this.store = store;
        this.slots = slots;
        this.limits = limits;
        this.placeholder = placeholder;
        this.describe = describe;
        this.reader = new MultipartReader(boundary, this);
    }

    /** Stores the upload; the file's row once it is committed. */
    Uni<FileEntity> run() {
        return Uni.createFrom().<FileEntity>emitter(e -> {
            result = e;
            pause();
            request.handler(this::received);
            request.endHandler(v -> {
                ended = true;
                step();
            });
            request.exceptionHandler(this::broke);
            slots.acquire(placeholder.project, () -> context.runOnContext(x -> begin()));
        });
    }

    /** A slot is ours: the transaction starts, and the body flows. */
    private void begin() {
        if (broken) {
            slots.release(placeholder.project);
            return;
        }
        transactions.run(c -> store.insertRow(c, placeholder.row())
                .chain(() -> Uni.createFrom().<FileEntity>emitter(e -> context.runOnContext(v -> {
                    tx = c;
                    transaction = e;
                    streaming = true;
                    if (broken) {
                        e.fail(new IOException("the connection closed"));
                        return;
                    }
                    if ("100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT)) && !request.response().headWritten()) {
                        // the client waits for this before it sends the body (curl does, for up to a second)
                        request.response().writeContinue();
                    }
                    step();
                }))))
                .subscribe().with(f -> context.runOnContext(v -> {
                    slots.release(placeholder.project);
                    result.complete(f);
                }), e -> context.runOnContext(v -> {
                    slots.release(placeholder.project);
                    drain();
                    result.fail(e);
                }));
    }

    private void received(Buffer b) {
        if (broken || problem != null) {
            return; // read and dropped: the answer waits for the end of the body
        }
        received.add(b);
        receivedBytes += b.length();
        step();
    }

    private void broke(Throwable e) {
        if (broken || finishing && transaction == null) {
            return;
        }
        broken = true;
        LOG.debugf("upload %s: the connection went away: %s", placeholder.id, LogText.of(String.valueOf(e.getMessage())));
        // nobody is left to answer; the failure only rolls back (the client of a refused body already has its 413)
        Throwable why = routing.get(HttpLayer.BODY_REFUSED) != null ? ApiException.tooLarge("The upload is larger than allowed.", "file")
                : new IOException("the connection closed before the upload ended");
        if (transaction != null) {
            transaction.fail(why);
            transaction = null;
        } else if (!streaming) {
            // still waiting for a slot or the transaction: begin() and its callbacks see it
            result.fail(why);
        }
    }

    /** Moves things on: reads what arrived, writes what was read, finishes at the end. Event loop only. */
    private void step() {
        if (broken || !streaming) {
            return;
        }
        if (problem != null) {
            received.clear();
            receivedBytes = 0;
        }
        if (!parsing && !received.isEmpty() && toWrite.size() < WRITE_BACKLOG) {
            List<Buffer> take = new ArrayList<>(received);
            received.clear();
            receivedBytes = 0;
            parsing = true;
            context.<List<FileStore.NewChunk>>executeBlocking(() -> FileIngest.stored(read(take)), true).onComplete(ar -> {
                parsing = false;
                if (ar.succeeded()) {
                    toWrite.addAll(ar.result());
                } else {
                    fail(ar.cause());
                }
                step();
            });
        }
        if (!writing && !toWrite.isEmpty() && problem == null) {
            FileStore.NewChunk c = toWrite.poll();
            writing = true;
            store.write(tx, placeholder.id, List.of(c)).subscribe().with(v -> context.runOnContext(x -> {
                writing = false;
                step();
            }), e -> context.runOnContext(x -> {
                writing = false;
                fail(e);
                step();
            }));
        }
        boolean full = receivedBytes > HIGH_WATER || toWrite.size() >= WRITE_BACKLOG;
        if (full && !paused) {
            pause();
        } else if (!full && paused) {
            paused = false;
            request.resume();
        }
        if (ended && !parsing && !writing && received.isEmpty() && (toWrite.isEmpty() || problem != null) && !finishing) {
            finish();
        }
    }

    private void pause() {
        paused = true;
        request.pause();
    }

    private void fail(Throwable e) {
        if (problem == null) {
            problem = e;
        }
        toWrite.clear();
    }

    /** The body has ended: the last chunks, the checks of the form, and the file's row; then the commit. */
    private void finish() {
        finishing = true;
        if (routing.get(HttpLayer.BODY_REFUSED) != null) {
            // the body went over the limit and was cut short (the client has its 413): keep nothing of it
            end(ApiException.tooLarge("The upload is larger than allowed.", "file"));
            return;
        }
        if (problem != null) {
            end(problem);
            return;
        }
        context.<List<FileStore.NewChunk>>executeBlocking(() -> {
            reader.finish();
            return ingest == null || fileBytes > limits.maxUploadBytes() ? List.of() : FileIngest.stored(ingest.finish());
        }, true).onComplete(ar -> {
            if (ar.failed()) {
                end(ar.cause());
                return;
            }
            FileEntity f;
            try {
                f = describe();
            } catch (RuntimeException e) {
                end(e);
                return;
            }
            // an index is kept for batch files only (the purpose may have come after the file)
            FileIngest index = "batch".equals(f.purpose) ? ingest : null;
            store.write(tx, placeholder.id, ar.result())
                    .chain(() -> index == null && ingest != null ? store.deleteIndex(tx, f.id) : Uni.createFrom().voidItem())
                    .chain(() -> store.setDescribed(tx, f.row(), index == null ? null : index.indexKey()))
                    // the project's stored bytes, this file's included, counted under its quota lock before the commit
                    .chain(() -> quotas.admitFileBytes(tx, f.project, f.bytes))
                    .subscribe().with(v -> context.runOnContext(x -> commit(f)), e -> context.runOnContext(x -> end(e)));
        });
    }

    /** The checks the form's fields must pass, in the order they always had; the file's row. */
    private FileEntity describe() {
        if (fileParts == 0) {
            throw ApiException.invalid("Missing required parameter: 'file' (send it as a multipart file part).", "file",
                    "missing_required_parameter");
        }
        if (fileParts > 1) {
            throw ApiException.invalid("Send exactly one 'file' part.", "file", "invalid_value");
        }
        if (tooLongField != null) {
            // as the HTTP layer answers a form attribute over quarkus.http.limits.max-form-attribute-size
            throw new ApiException(413, "invalid_request_error", "The form field '" + ApiException.clip(tooLongField) + "' is longer than "
                    + MAX_FIELD_BYTES + " bytes.", null, null);
        }
        return describe.describe(placeholder.id, fields.get("purpose"), filename, fileBytes, fields.get("expires_after[anchor]"),
                fields.get("expires_after[seconds]"));
    }

    private void commit(FileEntity f) {
        if (transaction != null) {
            transaction.complete(f);
            transaction = null;
        }
    }

    private void end(Throwable e) {
        Throwable t = e instanceof MultipartReader.MalformedException ? new IOException(e.getMessage()) : e;
        if (transaction != null) {
            transaction.fail(t);
            transaction = null;
        }
    }

    /** After an answer that came before the body ended: the rest is read and dropped, so that the client gets the answer. */
    private void drain() {
        if (!ended && !broken) {
            request.handler(b -> {
            });
            request.resume();
        }
    }

    // ---- the worker's side: the multipart framing and the file's bytes ----

    /** Reads received pieces of the body; returns the chunks they completed. */
    private List<FileIngest.Chunk> read(List<Buffer> pieces) {
        out = new ArrayList<>();
        for (Buffer b : pieces) {
            ByteBuf bb = b.getByteBuf();
            if (bb.hasArray()) {
                reader.feed(bb.array(), bb.arrayOffset() + bb.readerIndex(), bb.readableBytes());
            } else {
                byte[] bytes = b.getBytes();
                reader.feed(bytes, 0, bytes.length);
            }
        }
        List<FileIngest.Chunk> chunks = out;
        out = null;
        return chunks;
    }

    @Override
    public void part(String name, String fileName) {
        if ("file".equals(name)) {
            fileParts++;
            if (fileParts == 1) {
                part = Part.FILE;
                filename = fileName;
                String purpose = fields.get("purpose");
                ingest = new FileIngest(purpose == null || "batch".equals(purpose), FileStore.CHUNK, limits.maxLineBytes(),
                        limits.maxBatchLines(), limits.maxReportedErrors());
                return;
            }
        } else if (name != null && fileName == null && !fields.containsKey(name)) {
            part = Part.FIELD;
            fieldName = name;
            field = new ByteArrayOutputStream();
            return;
        }
        part = Part.SKIP;
    }

    @Override
    public void data(byte[] b, int from, int to) {
        switch (part) {
            case FILE -> {
                long before = fileBytes;
                fileBytes += to - from;
                if (fileBytes <= limits.maxUploadBytes()) {
                    out.addAll(ingest.feed(b, from, to - from));
                } else if (before <= limits.maxUploadBytes()) {
                    ingest = null; // over the limit: counted to its end for the answer, no more stored
                }
            }
            case FIELD -> {
                if (field.size() + (to - from) <= MAX_FIELD_BYTES) {
                    field.write(b, from, to - from);
                } else if (tooLongField == null) {
                    tooLongField = fieldName;
                }
            }
            case SKIP -> {
            }
        }
    }

    @Override
    public void partEnd() {
        if (part == Part.FIELD) {
            fields.put(fieldName, field.toString(StandardCharsets.UTF_8));
            field = null;
        }
        part = Part.SKIP;
    }
}
