package dev.openbatch.engine.lifecycle;

import java.util.List;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

import dev.openbatch.api.Ids;
import dev.openbatch.files.FileService;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;

/**
 * A batch's output and error files, written while the batch runs so that its end has only a short
 * tail left to write, whatever its size. Lines go into the files in settlement order, the order of
 * the results stream, and in its bytes ({@link #appendLine} makes both): the output file is the
 * stream's {@code succeeded} lines, the error file the rest. A step appends, in one transaction,
 * the lines settled after the batch's mark ({@code batches.output_seq}) and moves the mark past
 * them: a crash at any moment leaves the files a prefix of the stream with the mark at its end, and
 * the next step goes on from there, so no line is lost or written twice. The mark only moves
 * forward over lines every later snapshot sees too: a line's number is taken with its batch's row
 * locked, so a snapshot that sees a number sees every smaller one. One writer at a time per batch
 * (an advisory lock, {@link BatchStore#lockOutput}): the engine job {@code OutputAppender} skips a
 * batch another process is writing, the batch's end waits for it.
 * <p>
 * The files exist from their first line but are hidden from every read as an upload in progress is
 * ({@link FileStore#BEING_WRITTEN}); the batch's end appends the lines settled since the last step
 * and publishes them in the transaction that ends the batch. Memory stays bounded: a read takes
 * about {@link #PAGE_BYTES} of lines (PostgreSQL cuts it, reading sizes from the values' headers),
 * chunks are exactly {@link FileStore#CHUNK} bytes (the last one less, rewritten as it grows), and a
 * full chunk is stored before the next line is appended.
 */
public final class OutputFiles {
    /** Most lines one read takes. */
    public static final int PAGE = 2000;
    /** About how many bytes of lines one read takes (a single larger line makes a page of its own). */
    public static final int PAGE_BYTES = 1 << 20;
    /**
     * Most pages one step appends, in its one transaction: each step rewrites a file's last,
     * partial chunk, so a step of one page left an old version of up to a chunk for every page of
     * lines (a third of the output's size at a million lines, until a vacuum); a step of 8 pages
     * holds its batch's files (not its row) for a few tens of milliseconds.
     */
    public static final int PAGES_PER_STEP = 8;

    private final Transactions transactions;
    private final FileStore store;
    private final LineStore lines;
    private final BatchStore batches;

    public OutputFiles(Transactions transactions, FileStore store, LineStore lines, BatchStore batches) {
        this.transactions = transactions;
        this.store = store;
        this.lines = lines;
        this.batches = batches;
    }

    /** The ids of the two files (null where no line belongs in it). */
    public record Written(String outputFileId, String errorFileId) {
    }

    /** What a step did: how many lines it appended, and whether settled lines remain after them (it stopped at its page). */
    public record Appended(int lines, boolean more) {
        static final Appended NONE = new Appended(0, false);
    }

    /**
     * One step, in its own transaction: the next pages ({@link #PAGES_PER_STEP} at most) of the
     * batch's settled lines after its mark go into its files. {@code wait}: wait for another writer of the batch, else a batch being
     * written elsewhere is skipped (nothing appended). Nothing for a batch that is no longer live.
     */
    public Uni<Appended> step(String batchId, boolean wait) {
        return transactions.run(tx -> batches.lockOutput(tx, batchId, wait)
                .chain(m -> m == null || !m.live() ? Uni.createFrom().item(Appended.NONE) : new Writing(tx, batchId, m).append(PAGES_PER_STEP)));
    }

    /**
     * Steps until the batch's files hold every line settled when the last step began, or for
     * {@code maxSteps} steps; how many lines they appended.
     */
    public Uni<Long> catchUp(String batchId, boolean wait, int maxSteps) {
        return step(batchId, wait).chain(a -> a.more() && maxSteps > 1 ? catchUp(batchId, wait, maxSteps - 1).map(n -> n + a.lines())
                : Uni.createFrom().item((long) a.lines()));
    }

    /**
     * At the batch's end, in the transaction that ends it (first, before the batch's row is
     * locked): the batch's files taken, to {@link Writing#finish} once the ending is decided.
     */
    public Uni<Writing> open(Tx tx, String batchId) {
        return batches.lockOutput(tx, batchId, true).map(m -> {
            if (m == null) {
                throw new IllegalStateException("batch " + batchId + " is gone");
            }
            return new Writing(tx, batchId, m);
        });
    }

    /** The two files of one batch being appended to in one transaction, from its mark on. */
    public final class Writing {
        final Tx tx;
        final String batchId;
        final BatchStore.OutputMark mark;
        final Ids.LineIds ids;
        final Sink output;
        final Sink errors;
        boolean found;
        /** The number of the last line appended. */
        long upTo;
        int appended;

        Writing(Tx tx, String batchId, BatchStore.OutputMark mark) {
            this.tx = tx;
            this.batchId = batchId;
            this.mark = mark;
            this.ids = new Ids.LineIds(mark.lineKey());
            this.output = new Sink(this, batchId + "_output.jsonl");
            this.errors = new Sink(this, batchId + "_error.jsonl");
            this.upTo = mark.seq();
        }

        /**
         * Appends every line settled after the mark (all of them when {@code pages} is 0, else that
         * many pages at most), stores the chunks and moves the mark; what it did.
         */
        Uni<Appended> append(int pages) {
            return files().chain(() -> pages(pages)).chain(more -> close().replaceWith(new Appended(appended, more)));
        }

        /**
         * The batch ends: its remaining lines are appended, and its files, made visible, are created
         * at {@code now} (the error file a microsecond after the output in the files' order) and
         * expire at {@code expiresAt}.
         */
        public Uni<Written> finish(long now, Long expiresAt, long createdUs) {
            return append(0)
                    .chain(() -> output.publish(now, expiresAt, createdUs))
                    .chain(() -> errors.publish(now, expiresAt, createdUs + 1))
                    .map(v -> new Written(output.id(), errors.id()));
        }

        /** The files written in earlier steps, found by their names. */
        private Uni<Void> files() {
            if (found) {
                return Uni.createFrom().voidItem();
            }
            found = true;
            return store.producedBy(tx, batchId).invoke(produced -> {
                for (FileStore.Produced p : produced) {
                    (p.filename().equals(output.filename) ? output : errors).existing(p);
                }
            }).replaceWithVoid();
        }

        /** Reads and appends pages after {@link #upTo}; whether lines remain (only when it stopped at {@code pages}). */
        private Uni<Boolean> pages(int pages) {
            return lines.settled(tx, batchId, upTo, 0, PAGE, null, PAGE_BYTES).chain(page -> {
                List<LineStore.SettledLine> rows = page.lines();
                if (rows.isEmpty()) {
                    return Uni.createFrom().item(false);
                }
                boolean full = rows.size() == PAGE || page.scanned() > rows.size();
                return add(rows, 0).chain(() -> !full ? Uni.createFrom().item(false)
                        : pages == 1 ? Uni.createFrom().item(true) : pages(Math.max(0, pages - 1)));
            });
        }

        /** Appends the rows from {@code from} on, each to its file, storing full chunks as they fill. */
        private Uni<Void> add(List<LineStore.SettledLine> rows, int from) {
            for (int i = from; i < rows.size(); i++) {
                LineStore.SettledLine r = rows.get(i);
                Sink s = r.succeeded() ? output : errors;
                if (!s.open) {
                    int at = i;
                    return s.open().chain(() -> add(rows, at));
                }
                appendLine(s.buffer, ids, r);
                upTo = r.xid();
                appended++;
                if (s.buffer.length() >= FileStore.CHUNK) {
                    int next = i + 1;
                    return s.storeFull().chain(() -> add(rows, next));
                }
            }
            return Uni.createFrom().voidItem();
        }

        /** The files' last chunks and sizes stored, and the mark moved past the lines appended (the mark not where it was read: a bug, rolled back). */
        private Uni<Void> close() {
            if (appended == 0) {
                return Uni.createFrom().voidItem();
            }
            return output.close().chain(errors::close).chain(() -> batches.advanceOutput(tx, batchId, mark.seq(), upTo)).invoke(moved -> {
                if (!moved) {
                    throw new IllegalStateException("the mark of batch " + batchId + "'s files moved under its lock");
                }
            }).replaceWithVoid();
        }
    }

    /**
     * Appends one line of a file, in the contract's shape, to {@code out}: the answer's bytes go in
     * as PostgreSQL gave them (never decoded into a string and back). The results stream and the
     * files both make their lines here, so the two are the same bytes.
     */
    public static void appendLine(Buffer out, Ids.LineIds ids, LineStore.SettledLine r) {
        String[] p = pieces(ids.of(r.line()), r.customId(), r.statusCode(), r.requestId(), "", r.errorCode(), r.errorMessage());
        out.appendString(p[0]);
        if (p.length == 3) {
            Buffer answer = r.response();
            if (answer == null) {
                out.appendString("null");
            } else {
                out.appendBuffer(answer);
            }
            out.appendString(p[2]);
        }
    }

    /** One line of an output or error file, in the contract's shape; {@code id} is the line's ({@link Ids.LineIds}). */
    public static String line(String id, String customId, Integer statusCode, String requestId, String response, String errorCode,
            String errorMessage) {
        return String.join("", pieces(id, customId, statusCode, requestId, response, errorCode, errorMessage));
    }

    /** A line as its pieces: the answer's body (possibly large) is one of them as it is, never copied into a longer string. */
    public static String[] pieces(String id, String customId, Integer statusCode, String requestId, String response, String errorCode,
            String errorMessage) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"id\":\"").append(id).append("\",\"custom_id\":");
        quote(sb, customId);
        if (statusCode != null && errorCode == null) {
            sb.append(",\"response\":{\"status_code\":").append(statusCode).append(",\"request_id\":");
            quote(sb, requestId);
            sb.append(",\"body\":");
            return new String[] { sb.toString(), response == null ? "null" : response, "},\"error\":null}\n" };
        }
        sb.append(",\"response\":null,\"error\":{\"code\":");
        quote(sb, errorCode);
        sb.append(",\"message\":");
        quote(sb, errorMessage);
        sb.append("}}\n");
        return new String[] { sb.toString() };
    }

    private static void quote(StringBuilder sb, String s) {
        if (s == null) {
            sb.append("null");
            return;
        }
        sb.append('"');
        JsonStringEncoder.getInstance().quoteAsString(s, sb);
        sb.append('"');
    }

    /**
     * One file being appended to: its row is inserted with its first line, hidden until the batch
     * ends; its chunks are numbered and hold exactly {@link FileStore#CHUNK} bytes, the last one
     * less. Appending starts from the last, partial chunk (read back into the buffer) and rewrites
     * it. Holds less than a chunk plus the line being appended.
     */
    private final class Sink {
        final Writing w;
        final String filename;
        String id;
        /** Whether the file's last chunk is in {@link #buffer}, ready for lines (the row is there too). */
        boolean open;
        /** What the file held when this transaction found it. */
        long bytesBefore;
        /** The number of the chunk the buffer starts, and the bytes before it. */
        int seq;
        long stored;
        Buffer buffer = Buffer.buffer(0);

        Sink(Writing w, String filename) {
            this.w = w;
            this.filename = filename;
        }

        /** The file's id, or null when no line belongs in it. */
        String id() {
            return id;
        }

        void existing(FileStore.Produced p) {
            id = p.id();
            bytesBefore = p.bytes();
        }

        /** Makes the file ready for lines: its row inserted when it has none, its last partial chunk read back into the buffer. */
        Uni<Void> open() {
            open = true;
            if (id == null) {
                id = Ids.file();
                buffer = Buffer.buffer(64 * 1024); // grows up to a chunk and a line; many error files stay small
                return store.beginOutput(w.tx, new FileStore.NewFile(id, w.mark.project(), FileService.OUTPUT_PURPOSE, filename, 0,
                        "processed", 0, null, 0, w.batchId));
            }
            seq = (int) (bytesBefore / FileStore.CHUNK);
            stored = (long) seq * FileStore.CHUNK;
            if (bytesBefore == stored) {
                buffer = Buffer.buffer(64 * 1024);
                return Uni.createFrom().voidItem();
            }
            return store.chunk(w.tx, id, seq).invoke(last -> {
                if (last == null || stored + last.length() != bytesBefore) {
                    throw new IllegalStateException("file " + id + " has not the " + bytesBefore + " bytes its row says");
                }
                buffer = Buffer.buffer(FileStore.CHUNK + 64 * 1024).appendBuffer(last);
            }).replaceWithVoid();
        }

        /** Stores the buffer's full chunks; what is beyond them stays for the next. */
        Uni<Void> storeFull() {
            if (buffer.length() < FileStore.CHUNK) {
                return Uni.createFrom().voidItem();
            }
            Buffer data = buffer.getBuffer(0, FileStore.CHUNK);
            Buffer rest = buffer.getBuffer(FileStore.CHUNK, buffer.length());
            buffer = Buffer.buffer(FileStore.CHUNK + 64 * 1024).appendBuffer(rest);
            return put(data).chain(this::storeFull);
        }

        private Uni<Void> put(Buffer data) {
            stored += data.length();
            return store.putChunk(w.tx, id, seq++, data);
        }

        /** Stores the last, partial chunk and the file's size (nothing when no line came to this file). */
        Uni<Void> close() {
            if (!open) {
                return Uni.createFrom().voidItem();
            }
            int at = seq;
            long before = stored;
            Uni<Void> last = buffer.length() == 0 ? Uni.createFrom().voidItem() : store.putChunk(w.tx, id, at, buffer);
            long bytes = before + buffer.length();
            return last.chain(() -> store.setBytes(w.tx, id, bytes));
        }

        /** Makes the file visible (nothing when no line came to it). */
        Uni<Void> publish(long now, Long expiresAt, long createdUs) {
            if (id == null) {
                return Uni.createFrom().voidItem();
            }
            return store.publishOutput(w.tx, id, now, expiresAt, createdUs).invoke(ok -> {
                if (!ok) {
                    throw new IllegalStateException("file " + id + " of batch " + w.batchId + " was not being written");
                }
            }).replaceWithVoid();
        }
    }
}
