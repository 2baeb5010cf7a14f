package dev.openbatch.files;
import dev.openbatch.store.FileStore;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
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
import dev.openbatch.api.Time;
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

/**
 * One {@code POST /v1/files}, stored as its body arrives: no temporary file, and each byte looked
 * at once. The request's event loop receives the body and keeps the order of things; a worker
 * thread reads the multipart framing ({@link MultipartReader}) and passes the file part through
 * {@link FileIngest} (chunks, and a batch file's line index).
 * <p>
 * No transaction stays open while the client sends: the file's row is inserted at the start as an
 * upload in progress, which no read sees; the chunks are written while the next are read, those
 * waiting going together in one short transaction of their own (a connection is taken from the
 * pool for it, and given back); when the whole body has arrived and its form is valid, one last
 * short transaction writes the last chunks and makes the row a file. An upload that fails (cut
 * off half-way, refused for its size or its form, too slow, past its deadline) has its rows
 * deleted as soon as no write of it runs, then gives its slot back; one its process never ended
 * is deleted by {@code engine/housekeeping/UploadSweep} once past {@code upload_until}.
 * <p>
 * Slow clients cost only themselves: the wait for a slot is bounded
 * ({@code openbatch.limits.upload-slot-wait}, then 503), and so is the body, in total
 * ({@code upload-deadline}) and in pace ({@code upload-min-bytes-per-second} over each
 * {@code upload-rate-window}, see {@link UploadPace}); an upload past either gets 408 at once, and
 * its connection is closed. Memory: about a MiB of received bytes waiting to be read (past that the
 * request is paused), a few chunks waiting to be written, and what {@link FileIngest} holds.
 */
final class Upload implements MultipartReader.Listener {
    private static final Logger LOG = Logger.getLogger(Upload.class);
    /** Received bytes waiting to be read past which the request is paused. */
    private static final int HIGH_WATER = 1 << 20;
    /** Chunks waiting to be written past which reading stops; they go in one transaction. */
    private static final int WRITE_BACKLOG = 2;
    /** Most bytes of one plain form field (as {@code quarkus.http.limits.max-form-attribute-size}). */
    static final int MAX_FIELD_BYTES = 64 * 1024;
    /**
     * Time after its deadline that an upload's row is kept, for the last writes after the body's
     * end: only past it may the sweep take the upload as abandoned ({@code upload_until}).
     */
    static final long FINISH_MARGIN_MILLIS = 60_000;

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
    private final Time time;
    private final FileEntity placeholder;
    private final Describe describe;
    private final MultipartReader reader;

    // ---- on the event loop ----
    private UniEmitter<? super FileEntity> result;
    /** What runs when the slot is ours; the upload's place in the queue until then. */
    private Runnable turn;
    private boolean slotted;
    private boolean inserting;
    /** Its row is in the database, as an upload in progress. */
    private boolean stored;
    private boolean streaming;
    private final ArrayDeque<Buffer> received = new ArrayDeque<>();
    private long receivedBytes;
    private long bodyBytes;
    private final ArrayDeque<FileStore.NewChunk> toWrite = new ArrayDeque<>();
    private boolean paused;
    private boolean parsing;
    private boolean writing;
    private boolean deleting;
    private boolean ended;
    private boolean finishing;
    /** The connection went away: nothing is answered, everything is dropped. */
    private boolean broken;
    /** Why the upload fails: found while the body still arrives (it is read to its end, then answered), or a cut. */
    private Throwable problem;
    /** The client has its answer already (a cut, no slot, or a failure before the body flowed): the rest of the body is dropped. */
    private boolean answered;
    /** The result is given and everything is given back. */
    private boolean over;
    private UploadPace pace;
    private long slotTimer = -1;
    private long deadlineTimer = -1;
    private long paceTimer = -1;

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
            Time time, FileEntity placeholder, Describe describe, Quotas quotas) {
        this.quotas = quotas;
        this.context = context;
        this.routing = routing;
        this.request = routing.request();
        this.transactions = transactions;
        this.store = store;
        this.slots = slots;
        this.limits = limits;
        this.time = time;
        this.placeholder = placeholder;
        this.describe = describe;
        this.reader = new MultipartReader(boundary, this);
    }

    /** Stores the upload; the file's row once it is visible. */
    Uni<FileEntity> run() {
        return Uni.createFrom().<FileEntity>emitter(e -> context.runOnContext(v -> start(e)));
    }

    /** Waits for a slot, the body paused, for at most {@code upload-slot-wait}. */
    private void start(UniEmitter<? super FileEntity> e) {
        result = e;
        pause();
        request.handler(this::received);
        request.endHandler(v -> {
            ended = true;
            stopClocks();
            step();
        });
        request.exceptionHandler(this::broke);
        turn = () -> context.runOnContext(x -> begin());
        slotTimer = context.owner().setTimer(Math.max(1, limits.uploadSlotWait().toMillis()), id -> {
            slotTimer = -1;
            slotWaitOver();
        });
        slots.acquire(placeholder.project, turn);
    }

    private void slotWaitOver() {
        if (slotted || over || problem != null || !slots.withdraw(placeholder.project, turn)) {
            return; // the slot is ours already (begin() runs next), or the upload is over
        }
        cut(new ApiException(503, "server_error", "Every upload slot of this server has been busy for "
                + spoken(limits.uploadSlotWait()) + " (openbatch.limits.concurrent-uploads uploads at once, waiting at most"
                + " openbatch.limits.upload-slot-wait). Nothing was read; retry in a little while.", null, "upload_slots_busy"));
    }

    /** A slot is ours: the row of the upload in progress goes in, then the body flows. */
    private void begin() {
        cancel(slotTimer);
        slotTimer = -1;
        if (over) {
            slots.release(placeholder.project); // given up while its grant was on its way: the slot goes back at once
            return;
        }
        slotted = true;
        if (problem != null) {
            step(); // failed meanwhile: the slot goes back
            return;
        }
        inserting = true;
        long until = time.millis() + limits.uploadDeadline().toMillis() + FINISH_MARGIN_MILLIS;
        store.beginUpload(placeholder.row(), until).subscribe().with(v -> context.runOnContext(x -> {
            inserting = false;
            stored = true;
            flow();
        }), e -> context.runOnContext(x -> {
            inserting = false;
            fail(e);
            step();
        }));
    }

    /** The row is in: the clocks start and the body flows. */
    private void flow() {
        if (problem != null) {
            step();
            return;
        }
        streaming = true;
        startClocks();
        if ("100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT)) && !request.response().headWritten()) {
            // the client waits for this before it sends the body (curl does, for up to a second)
            request.response().writeContinue();
        }
        step();
    }

    private void received(Buffer b) {
        bodyBytes += b.length();
        if (pace != null) {
            pace.received(b.length());
        }
        if (problem != null) {
            return; // read and dropped: the answer waits for the end of the body, or is given
        }
        received.add(b);
        receivedBytes += b.length();
        step();
    }

    private void broke(Throwable e) {
        if (broken || over) {
            return;
        }
        broken = true;
        LOG.debugf("upload %s: the connection went away: %s", placeholder.id, LogText.of(String.valueOf(e.getMessage())));
        if (finishing && problem == null) {
            return; // the body has ended: the file is kept if it is valid, as when an answer is lost on its way
        }
        // nobody is left to answer; the failure only deletes (the client of a refused body already has its 413)
        fail(routing.get(HttpLayer.BODY_REFUSED) != null ? ApiException.tooLarge("The upload is larger than allowed.", "file")
                : new IOException("the connection closed before the upload ended"));
        step();
    }

    /** Moves things on: reads what arrived, writes what was read, finishes at the end; or gives up. Event loop only. */
    private void step() {
        if (over) {
            return;
        }
        if (problem != null) {
            giveUp();
            return;
        }
        if (!streaming) {
            return;
        }
        if (!parsing && !received.isEmpty() && toWrite.size() < WRITE_BACKLOG) {
            List<Buffer> take = new ArrayList<>(received);
            received.clear();
            receivedBytes = 0;
            parsing = true;
            context.<List<FileStore.NewChunk>>executeBlocking(() -> FileIngest.stored(read(take)), true).onComplete(ar -> {
                parsing = false;
                if (ar.succeeded()) {
                    if (problem == null) {
                        toWrite.addAll(ar.result());
                    }
                } else {
                    fail(ar.cause());
                }
                step();
            });
        }
        if (!writing && !toWrite.isEmpty()) {
            // what waits goes in one short transaction: no transaction stays open while the client sends
            List<FileStore.NewChunk> group = new ArrayList<>(toWrite);
            toWrite.clear();
            writing = true;
            store.append(placeholder.id, group).subscribe().with(v -> context.runOnContext(x -> {
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
            resume();
        }
        if (ended && !parsing && !writing && received.isEmpty() && toWrite.isEmpty() && !finishing) {
            finish();
        }
    }

    private void pause() {
        paused = true;
        request.pause();
        if (pace != null) {
            pace.holding(now());
        }
    }

    private void resume() {
        paused = false;
        if (pace != null) {
            pace.wanting(now());
        }
        request.resume();
    }

    private void fail(Throwable e) {
        if (problem == null) {
            problem = e;
        }
        toWrite.clear();
    }

    /**
     * The upload has failed: what it wrote is deleted once no write of it runs, and once the body
     * has ended (it is read and dropped meanwhile, so that the client gets the answer) or nobody
     * waits for an answer any more, the slot is given back and the failure answered.
     */
    private void giveUp() {
        received.clear();
        receivedBytes = 0;
        toWrite.clear();
        if (!ended && !broken && !answered && !streaming) {
            // failed before the body flowed (its row did not go in): answered now, the body read and dropped
            request.handler(b -> {
            });
            answer(problem);
        }
        if (!ended && !broken && paused) {
            resume(); // the rest of the body is read and dropped
        }
        if (writing || inserting || deleting) {
            return;
        }
        if (stored) {
            deleting = true;
            store.deleteUpload(placeholder.id).subscribe().with(v -> context.runOnContext(x -> {
                deleting = false;
                stored = false;
                step();
            }), e -> context.runOnContext(x -> {
                LOG.warnf("upload %s failed and its rows could not be deleted now (the sweep of abandoned uploads will): %s", placeholder.id,
                        LogText.of(String.valueOf(e.getMessage())));
                deleting = false;
                stored = false;
                step();
            }));
            return;
        }
        if (!ended && !broken && !answered) {
            return; // the answer comes at the end of the body
        }
        over = true;
        stopClocks();
        cancel(slotTimer);
        if (slotted) {
            slotted = false;
            slots.release(placeholder.project);
        } else {
            slots.withdraw(placeholder.project, turn); // else its grant is on its way, and begin() gives it back
        }
        if (!answered) {
            answer(problem);
        }
    }

    /** The client's answer: the failure (as the error mappers know it). */
    private void answer(Throwable why) {
        answered = true;
        result.fail(why instanceof MultipartReader.MalformedException ? new IOException(why.getMessage()) : why);
    }

    /**
     * Cuts the upload now: the client gets {@code why} at once, the rest of its body is dropped and
     * its connection closed; what it wrote is deleted and its slot given back right after.
     */
    private void cut(ApiException why) {
        LOG.infof("upload %s of project %s cut after %d bytes: %s", placeholder.id, placeholder.project, bodyBytes, why.getMessage());
        problem = why;
        stopClocks();
        HttpLayer.closeAfterAnswer(routing);
        request.handler(b -> {
        });
        if (paused) {
            resume();
        }
        answer(why);
        step();
    }

    private void startClocks() {
        deadlineTimer = context.owner().setTimer(Math.max(1, limits.uploadDeadline().toMillis()), id -> {
            deadlineTimer = -1;
            if (!ended && !answered && !broken && !over) {
                cut(new ApiException(408, "invalid_request_error", "The upload did not end within " + spoken(limits.uploadDeadline())
                        + " (openbatch.limits.upload-deadline); " + bodyBytes + " bytes had arrived. Nothing of it was kept: send it again"
                        + " over a faster connection, or ask the operator to raise the limit.", "file", "upload_deadline_exceeded"));
            }
        });
        long min = limits.uploadMinBytesPerSecond();
        if (min > 0) {
            long window = Math.max(1, limits.uploadRateWindow().toMillis());
            pace = new UploadPace(min, window);
            if (!paused) {
                pace.wanting(now());
            }
            paceTimer = context.owner().setPeriodic(Math.max(10, Math.min(1000, window / 4)), id -> {
                if (ended || answered || broken || over) {
                    return;
                }
                long got = pace.tooSlow(now());
                if (got >= 0) {
                    cut(new ApiException(408, "invalid_request_error", "The upload sent " + got + " bytes in the last "
                            + spoken(limits.uploadRateWindow()) + "; at least " + min + " bytes per second are required"
                            + " (openbatch.limits.upload-min-bytes-per-second, over openbatch.limits.upload-rate-window)."
                            + " Nothing of it was kept: send it again over a faster connection, or ask the operator to lower the limit.",
                            "file", "upload_too_slow"));
                }
            });
        }
    }

    private void stopClocks() {
        cancel(deadlineTimer);
        cancel(paceTimer);
        deadlineTimer = -1;
        paceTimer = -1;
    }

    private void cancel(long timer) {
        if (timer >= 0) {
            context.owner().cancelTimer(timer);
        }
    }

    /** The pace's clock: monotonic, whatever business time says. */
    private static long now() {
        return System.nanoTime() / 1_000_000;
    }

    /** A duration as a person reads it in a message: "30 s", "30 min", "1500 ms". */
    static String spoken(Duration d) {
        long ms = d.toMillis();
        if (ms % 60_000 == 0 && ms >= 120_000) {
            return ms / 60_000 + " min";
        }
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    /** The body has ended: the checks of the form, then the last chunks and the file's row in one short transaction. */
    private void finish() {
        finishing = true;
        if (routing.get(HttpLayer.BODY_REFUSED) != null) {
            // the body went over the limit and was cut short (the client has its 413): keep nothing of it
            fail(ApiException.tooLarge("The upload is larger than allowed.", "file"));
            step();
            return;
        }
        context.<List<FileStore.NewChunk>>executeBlocking(() -> {
            reader.finish();
            return ingest == null || fileBytes > limits.maxUploadBytes() ? List.of() : FileIngest.stored(ingest.finish());
        }, true).onComplete(ar -> {
            if (ar.failed()) {
                fail(ar.cause());
                step();
                return;
            }
            FileEntity f;
            try {
                f = describe();
            } catch (RuntimeException e) {
                fail(e);
                step();
                return;
            }
            // an index is kept for batch files only (the purpose may have come after the file)
            FileIngest index = "batch".equals(f.purpose) ? ingest : null;
            transactions.run(tx -> store.write(tx, placeholder.id, ar.result())
                    .chain(() -> index == null && ingest != null ? store.deleteIndex(tx, f.id) : Uni.createFrom().voidItem())
                    .chain(() -> store.publish(tx, f.row(), index == null ? null : index.indexKey()))
                    .invoke(published -> {
                        if (!published) {
                            throw new IllegalStateException("upload " + f.id + " was deleted as abandoned before it could be kept");
                        }
                    })
                    // the project's stored bytes, this file's included, counted under its quota lock before the commit
                    .chain(() -> quotas.admitFileBytes(tx, f.project, f.bytes)))
                    .subscribe().with(v -> context.runOnContext(x -> kept(f)), e -> context.runOnContext(x -> {
                        fail(e);
                        step();
                    }));
        });
    }

    /** The file is visible: the slot goes back, the client gets its row. */
    private void kept(FileEntity f) {
        stored = false;
        over = true;
        stopClocks();
        slotted = false;
        slots.release(placeholder.project);
        result.complete(f);
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
