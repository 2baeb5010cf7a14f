package dev.openbatch.engine;

import java.util.List;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

import dev.openbatch.api.Ids;
import dev.openbatch.files.FileEntity;
import dev.openbatch.files.FileService;
import dev.openbatch.files.FileStore;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;

/**
 * Writes a batch's output and error files from its request rows in one pass: pages of line
 * numbers, each line looked up by primary key, in line order, each row appended to the file it belongs in (a file is
 * created when its first line comes), in chunks of about {@link FileStore#CHUNK} bytes, so memory
 * stays bounded whatever the size and every row is read once.
 */
final class OutputFiles {
    static final int PAGE = 2000;

    private final FileStore store;
    private final LineStore lines;

    OutputFiles(FileStore store, LineStore lines) {
        this.store = store;
        this.lines = lines;
    }

    /** The ids of the two files (null where no line belongs in it). */
    record Written(String outputFileId, String errorFileId) {
    }

    Uni<Written> write(SqlConnection tx, String batchId, String project, long now, Long expiresAt, long createdUs) {
        Sink output = new Sink(tx, file(batchId, project, now, expiresAt, createdUs, batchId + "_output.jsonl"));
        Sink errors = new Sink(tx, file(batchId, project, now, expiresAt, createdUs + 1, batchId + "_error.jsonl"));
        return store.deleteProducedBy(tx, batchId)
                .chain(() -> lines.lastLine(tx, batchId))
                .chain(last -> page(tx, batchId, 0, last, output, errors))
                .chain(output::close)
                .chain(errors::close)
                .map(v -> new Written(output.id(), errors.id()));
    }

    private static FileEntity file(String batchId, String project, long now, Long expiresAt, long createdUs, String filename) {
        FileEntity f = new FileEntity();
        f.id = Ids.file();
        f.project = project;
        f.purpose = FileService.OUTPUT_PURPOSE;
        f.filename = filename;
        f.bytes = 0;
        f.status = "processed";
        f.createdAt = now;
        f.expiresAt = expiresAt;
        f.createdUs = createdUs;
        f.producerBatchId = batchId;
        return f;
    }

    private Uni<Void> page(SqlConnection tx, String batchId, int afterLine, int lastLine, Sink output, Sink errors) {
        return lines.page(tx, batchId, afterLine).chain(rows -> write(tx, batchId, afterLine, lastLine, rows, output, errors));
    }

    /** Appends a page; while full chunks are being stored, the next page is already being read (one connection, pipelined). */
    private Uni<Void> write(SqlConnection tx, String batchId, int afterLine, int lastLine, List<Row> rows, Sink output, Sink errors) {
        for (Row r : rows) {
            boolean ok = "succeeded".equals(r.getString(7));
            (ok ? output : errors).append(line(r.getString(1), r.getInteger(2), r.getString(3), r.getString(4), r.getString(5),
                    r.getString(6)));
        }
        Uni<Void> flushed = output.flushIfFull().chain(errors::flushIfFull);
        int next = afterLine + PAGE;
        if (next >= lastLine) {
            return flushed;
        }
        return Uni.combine().all().unis(flushed, lines.page(tx, batchId, next)).asTuple()
                .chain(t -> write(tx, batchId, next, lastLine, t.getItem2(), output, errors));
    }

    /** One line of an output or error file, in the contract's shape. */
    static String line(String customId, Integer statusCode, String requestId, String response, String errorCode, String errorMessage) {
        StringBuilder sb = new StringBuilder(256 + (response == null ? 0 : response.length()));
        sb.append("{\"id\":\"").append(Ids.batchRequest()).append("\",\"custom_id\":");
        quote(sb, customId);
        if (statusCode != null && errorCode == null) {
            sb.append(",\"response\":{\"status_code\":").append(statusCode).append(",\"request_id\":");
            quote(sb, requestId);
            sb.append(",\"body\":").append(response == null ? "null" : response).append("},\"error\":null}\n");
        } else {
            sb.append(",\"response\":null,\"error\":{\"code\":");
            quote(sb, errorCode);
            sb.append(",\"message\":");
            quote(sb, errorMessage);
            sb.append("}}\n");
        }
        return sb.toString();
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

    /** One file being written: its row is inserted with its first chunk, its chunks are numbered. */
    private final class Sink {
        final SqlConnection tx;
        final FileEntity file;
        Buffer buffer = Buffer.buffer(FileStore.CHUNK + 64 * 1024);
        boolean created;
        int seq;
        long bytes;

        Sink(SqlConnection tx, FileEntity file) {
            this.tx = tx;
            this.file = file;
        }

        void append(String line) {
            buffer.appendString(line);
        }

        /** The file's id, or null when no line belonged in it. */
        String id() {
            return created ? file.id : null;
        }

        Uni<Void> flushIfFull() {
            return buffer.length() >= FileStore.CHUNK ? flush() : Uni.createFrom().voidItem();
        }

        Uni<Void> flush() {
            if (buffer.length() == 0) {
                return Uni.createFrom().voidItem();
            }
            Buffer data = buffer;
            buffer = Buffer.buffer(FileStore.CHUNK + 64 * 1024);
            bytes += data.length();
            Uni<Void> row = created ? Uni.createFrom().voidItem() : store.insertRow(tx, file);
            created = true;
            return row.chain(() -> store.insertChunk(tx, file.id, seq++, data));
        }

        Uni<Void> close() {
            return flush().chain(() -> created ? store.setBytes(tx, file.id, bytes) : Uni.createFrom().voidItem());
        }
    }
}
