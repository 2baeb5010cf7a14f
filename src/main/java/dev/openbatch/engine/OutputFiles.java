package dev.openbatch.engine;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

import dev.openbatch.api.Ids;
import dev.openbatch.files.FileEntity;
import dev.openbatch.files.FileService;
import dev.openbatch.files.FileStore;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlConnection;

/**
 * Writes a batch's output and error files from its request rows: page by page in line order,
 * into chunks of about {@link FileStore#CHUNK} bytes, so memory stays bounded whatever the size.
 */
final class OutputFiles {
    private static final int PAGE = 2000;

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
        return store.deleteProducedBy(tx, batchId)
                .chain(() -> lines.countOutcomes(tx, batchId))
                .chain(counts -> {
                    long ok = counts[0];
                    long bad = counts[1];
                    Uni<String> out = ok == 0 ? Uni.createFrom().nullItem()
                            : one(tx, batchId, project, now, expiresAt, createdUs, true, batchId + "_output.jsonl");
                    return out.chain(o -> (bad == 0 ? Uni.createFrom().<String>nullItem()
                            : one(tx, batchId, project, now, expiresAt, createdUs + 1, false, batchId + "_error.jsonl"))
                            .map(e -> new Written(o, e)));
                });
    }

    private Uni<String> one(SqlConnection tx, String batchId, String project, long now, Long expiresAt, long createdUs,
            boolean succeeded, String filename) {
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
        Sink sink = new Sink(tx, f.id);
        return store.insertRow(tx, f)
                .chain(() -> page(tx, batchId, succeeded, 0, sink))
                .chain(sink::close)
                .chain(bytes -> store.setBytes(tx, f.id, bytes))
                .replaceWith(f.id);
    }

    private Uni<RowSet<Row>> query(SqlConnection tx, String batchId, boolean succeeded, int afterLine) {
        return lines.page(tx, batchId, succeeded, afterLine, PAGE);
    }

    private Uni<Void> page(SqlConnection tx, String batchId, boolean succeeded, int afterLine, Sink sink) {
        return query(tx, batchId, succeeded, afterLine).chain(rows -> write(tx, batchId, succeeded, rows, sink));
    }

    /** Appends a page; while a full chunk is being stored, the next page is already being read (one connection, pipelined). */
    private Uni<Void> write(SqlConnection tx, String batchId, boolean succeeded, RowSet<Row> rows, Sink sink) {
        int last = append(rows, sink.buffer);
        Uni<Void> flushed = sink.buffer.length() >= FileStore.CHUNK ? sink.flush() : Uni.createFrom().voidItem();
        if (rows.size() < PAGE) {
            return flushed;
        }
        return Uni.combine().all().unis(flushed, query(tx, batchId, succeeded, last)).asTuple()
                .chain(t -> write(tx, batchId, succeeded, t.getItem2(), sink));
    }

    private static int append(RowSet<Row> rows, Buffer out) {
        int last = 0;
        for (Row r : rows) {
            last = r.getInteger(0);
            out.appendString(line(r.getString(1), r.getInteger(2), r.getString(3), r.getString(4), r.getString(5), r.getString(6)));
        }
        return last;
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

    /** Collects output and writes it as numbered chunks. */
    private final class Sink {
        final SqlConnection tx;
        final String fileId;
        Buffer buffer = Buffer.buffer(FileStore.CHUNK + 64 * 1024);
        int seq;
        long bytes;

        Sink(SqlConnection tx, String fileId) {
            this.tx = tx;
            this.fileId = fileId;
        }

        Uni<Void> flush() {
            if (buffer.length() == 0) {
                return Uni.createFrom().voidItem();
            }
            Buffer data = buffer;
            buffer = Buffer.buffer(FileStore.CHUNK + 64 * 1024);
            bytes += data.length();
            return store.insertChunk(tx, fileId, seq++, data);
        }

        Uni<Long> close() {
            return flush().map(v -> bytes);
        }
    }
}
