package dev.openbatch.engine.lifecycle;

import java.util.List;
import java.util.concurrent.CompletionStage;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

import dev.openbatch.api.Ids;
import dev.openbatch.files.FileService;
import dev.openbatch.status.LineState;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.Tx;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.mutiny.core.buffer.Buffer;

/**
 * Writes a batch's output and error files from its request rows in one pass, in line order, each
 * row appended to the file it belongs in (a file is created when its first line comes). Memory
 * stays bounded by a few chunks whatever the answers' sizes: a page holds up to {@link #PAGE}
 * line numbers but only about {@link #PAGE_BYTES} of answers (PostgreSQL cuts it, reading sizes
 * from the values' headers), the next page is read ahead only while the current one is small,
 * files are stored in chunks of exactly {@link FileStore#CHUNK} bytes (an answer larger than a
 * chunk runs over several), and a chunk is stored before the next one fills.
 */
public final class OutputFiles {
    /** Most line numbers one page looks up. */
    public static final int PAGE = 2000;
    /** About how many bytes of lines one page holds (a single larger line makes a page of its own). */
    public static final int PAGE_BYTES = 1 << 20;
    /** Fewest line numbers a page looks up, however large the previous page's lines were. */
    public static final int MIN_PAGE = 16;
    /** Characters appended at once: a long answer is encoded slice by slice, so a chunk overruns by a slice at most. */
    public static final int SLICE = 64 * 1024;

    private final FileStore store;
    private final LineStore lines;

    public OutputFiles(FileStore store, LineStore lines) {
        this.store = store;
        this.lines = lines;
    }

    /** The ids of the two files (null where no line belongs in it). */
    public record Written(String outputFileId, String errorFileId) {
    }

    /** {@code lineKey}: the batch's key for its lines' ids ({@link Ids.LineIds}). */
    public Uni<Written> write(Tx tx, String batchId, byte[] lineKey, String project, long now, Long expiresAt, long createdUs) {
        Sink output = new Sink(tx, file(batchId, project, now, expiresAt, createdUs, batchId + "_output.jsonl"));
        Sink errors = new Sink(tx, file(batchId, project, now, expiresAt, createdUs + 1, batchId + "_error.jsonl"));
        return store.deleteProducedBy(tx, batchId)
                .chain(() -> lines.lastLine(tx, batchId))
                .chain(last -> Uni.createFrom().<Void>emitter(em -> new Pages(tx, batchId, new Ids.LineIds(lineKey), last, output, errors, em).run()))
                .chain(output::close)
                .chain(errors::close)
                .map(v -> new Written(output.id(), errors.id()));
    }

    private static FileStore.NewFile file(String batchId, String project, long now, Long expiresAt, long createdUs, String filename) {
        return new FileStore.NewFile(Ids.file(), project, FileService.OUTPUT_PURPOSE, filename, 0, "processed", now, expiresAt, createdUs,
                batchId);
    }

    /** How many line numbers the next page looks up: about twice what fits its bytes, judging by this page's lines. */
    public static int nextCount(int rows, long bytes) {
        if (rows == 0 || bytes <= 0) {
            return PAGE;
        }
        long perLine = Math.max(1, bytes / rows);
        return (int) Math.max(MIN_PAGE, Math.min(PAGE, 2L * PAGE_BYTES / perLine));
    }

    /**
     * The pages of one batch, read and appended in turn: a loop of callbacks (not a chain of
     * nested Unis), so that a page, a chunk, once written, is no longer referenced. Holds the page
     * being appended and, while that page is of about {@link #PAGE_BYTES}, the next one, read
     * meanwhile (one connection, pipelined); after a page made large by one big line, the next
     * is read only once that page is written. A full chunk is stored before anything more is
     * appended.
     */
    private final class Pages {
        final Tx tx;
        final String batchId;
        final Ids.LineIds ids;
        final int lastLine;
        final Sink output;
        final Sink errors;
        final UniEmitter<? super Void> done;
        /** The page being appended, and the next row of it. */
        List<LineStore.FileLine> rows = List.of();
        int row;
        /** The sink whose line is being appended (it may take several chunks). */
        Sink filling;
        /** Where the next page starts, how many numbers it looks up, and its rows if they are being read already. */
        int afterLine;
        int count = PAGE;
        CompletionStage<LineStore.Page> reading;
        boolean more;

        Pages(Tx tx, String batchId, Ids.LineIds ids, int lastLine, Sink output, Sink errors, UniEmitter<? super Void> done) {
            this.tx = tx;
            this.batchId = batchId;
            this.ids = ids;
            this.lastLine = lastLine;
            this.output = output;
            this.errors = errors;
            this.done = done;
            this.more = lastLine > 0;
        }

        /** Appends until it must wait (a chunk being stored, a page being read), then returns; the wait's end calls it again. */
        void run() {
            try {
                loop();
            } catch (RuntimeException e) {
                done.fail(e);
            }
        }

        private void loop() {
            while (true) {
                if (filling != null && filling.fill()) {
                    filling.storeChunk().subscribe().with(v -> run(), done::fail);
                    return;
                }
                if (row < rows.size()) {
                    LineStore.FileLine r = rows.get(row++);
                    filling = r.state() == LineState.SUCCEEDED ? output : errors;
                    filling.add(pieces(ids.of(r.line()), r.customId(), r.statusCode(), r.requestId(), r.response(), r.errorCode(),
                            r.errorMessage()));
                    continue;
                }
                rows = List.of();
                filling = null;
                if (!more) {
                    done.complete(null);
                    return;
                }
                CompletionStage<LineStore.Page> next = reading != null ? reading : read();
                reading = null;
                next.whenComplete((page, failure) -> {
                    if (failure != null) {
                        done.fail(failure);
                    } else {
                        took(page);
                        run();
                    }
                });
                return;
            }
        }

        private CompletionStage<LineStore.Page> read() {
            return lines.page(tx, batchId, afterLine, count, PAGE_BYTES).subscribeAsCompletionStage();
        }

        /** A page came: it is the one to append; the next one's start and size follow from it. */
        private void took(LineStore.Page page) {
            rows = page.lines();
            row = 0;
            // cut short by its bytes: the next page starts after its last line; else after the numbers it looked up
            afterLine = page.bytes() >= PAGE_BYTES && !rows.isEmpty() ? rows.get(rows.size() - 1).line() : afterLine + count;
            count = nextCount(rows.size(), page.bytes());
            more = afterLine < lastLine;
            if (more && page.bytes() <= 2L * PAGE_BYTES) {
                reading = read();
            }
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
     * One file being written: its row is inserted with its first chunk, its chunks are numbered and
     * hold exactly {@link FileStore#CHUNK} bytes (the last one less). Holds less than a chunk plus
     * a slice, and the text of the line being appended.
     */
    private final class Sink {
        final Tx tx;
        final FileStore.NewFile file;
        Buffer buffer = Buffer.buffer(64 * 1024); // grows up to a chunk and a slice; many error files stay small
        /** The line being appended: its pieces, the one being appended and how far. */
        String[] pieces;
        int piece;
        int offset;
        boolean created;
        int seq;
        long bytes;

        Sink(Tx tx, FileStore.NewFile file) {
            this.tx = tx;
            this.file = file;
        }

        /** The file's id, or null when no line belonged in it. */
        String id() {
            return created ? file.id() : null;
        }

        /** A line to append (the one before is appended completely). */
        void add(String[] line) {
            pieces = line;
            piece = 0;
            offset = 0;
        }

        /** Appends the line's text, slice by slice, until a chunk is full (true: store it first) or the line is done (false). */
        boolean fill() {
            while (pieces != null && piece < pieces.length) {
                String p = pieces[piece];
                int end = Math.min(p.length(), offset + SLICE);
                if (end < p.length() && Character.isHighSurrogate(p.charAt(end - 1))) {
                    end++; // never split a surrogate pair between two encodings
                }
                buffer.appendString(offset == 0 && end == p.length() ? p : p.substring(offset, end));
                if (end == p.length()) {
                    piece++;
                    offset = 0;
                } else {
                    offset = end;
                }
                if (buffer.length() >= FileStore.CHUNK) {
                    return true;
                }
            }
            pieces = null;
            return false;
        }

        /** Stores the first full chunk; what is beyond it stays for the next. */
        Uni<Void> storeChunk() {
            Buffer data = buffer.getBuffer(0, FileStore.CHUNK);
            Buffer rest = buffer.getBuffer(FileStore.CHUNK, buffer.length());
            buffer = Buffer.buffer(FileStore.CHUNK + 3 * SLICE).appendBuffer(rest);
            return store(data);
        }

        private Uni<Void> store(Buffer data) {
            bytes += data.length();
            Uni<Void> row = created ? Uni.createFrom().voidItem() : store.insertRow(tx, file);
            created = true;
            return row.chain(() -> store.insertChunk(tx, file.id(), seq++, data));
        }

        Uni<Void> close() {
            Uni<Void> last = buffer.length() == 0 ? Uni.createFrom().voidItem() : store(buffer);
            buffer = Buffer.buffer(0);
            return last.chain(() -> created ? store.setBytes(tx, file.id(), bytes) : Uni.createFrom().voidItem());
        }
    }
}
