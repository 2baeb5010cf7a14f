package dev.openbatch.store;

import java.util.ArrayList;
import java.util.List;

import dev.openbatch.status.BatchStatus;
import dev.openbatch.status.Wire;
import io.netty.buffer.Unpooled;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * File bytes in PostgreSQL, as chunks of at most {@link #CHUNK} bytes (an uploaded batch file's
 * end at line breaks, with its line index beside them in {@code file_lines}; see {@code files.FileIngest}):
 * written and read one chunk at a time, so no file is ever whole in memory and every replica sees
 * the same bytes. An upload's row is there from its start, as an upload in progress
 * ({@code upload_until} set), which no read of the API sees; its chunks are committed a few at a
 * time as they arrive ({@link #append}), and {@link #publish} makes it a file. A batch's output and
 * error files are hidden the same way while the batch runs ({@link #BEING_WRITTEN}): they grow as
 * its lines settle ({@link #putChunk} rewrites the last, partial chunk) and its end
 * {@link #publishOutput}s them.
 */
@ApplicationScoped
public class FileStore {
    /** Bytes per chunk row. */
    public static final int CHUNK = 1 << 20;
    /**
     * The {@code upload_until} of a batch's output or error file while the batch runs: hidden as an
     * upload in progress, and never abandoned by time (the sweep of dead uploads leaves it).
     */
    public static final long BEING_WRITTEN = Long.MAX_VALUE;

    private final Pool pool;

    public FileStore(Pool pool) {
        this.pool = pool;
    }

    /** A file's row: what the API shows of it, and the batch that wrote it (null for an upload). */
    public record NewFile(String id, String project, String purpose, String filename, long bytes, String status, long createdAt,
            Long expiresAt, long createdUs, String producerBatchId) {
    }

    /** Inserts the file row. */
    public Uni<Void> insertRow(Tx client, NewFile f) {
        return client.client().preparedQuery("insert into files (id, project, purpose, filename, bytes, status, created_at, expires_at, created_us, producer_batch_id)"
                + " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .execute(Tuple.from(new Object[] { f.id(), f.project(), f.purpose(), f.filename(), f.bytes(), f.status(),
                        f.createdAt(), f.expiresAt(), f.createdUs(), f.producerBatchId() }))
                .replaceWithVoid();
    }

    /**
     * One line of a file's index ({@code file_lines}). {@code seq} and {@code lastSeq} are the
     * chunks where the body starts and ends, {@code bodyAt} its offset in chunk {@code seq} and
     * {@code bodyLength} its length in bytes (-1 and 0 without a body); the error, when the line
     * has one of its own ({@code errorCode} not null), is checked before the url ({@code late}
     * false) or after it.
     */
    public record IndexLine(int line, int seq, int lastSeq, int bodyAt, int bodyLength, String customId, String url, String model,
            String errorCode, String errorMessage, String errorParam, boolean late) {
    }

    /** A chunk to store ({@code data} null: none, only index lines that end in the chunk before), with its index lines. */
    public record NewChunk(int seq, byte[] data, List<IndexLine> lines) {
    }

    /**
     * Inserts the row of an upload in progress (committed at once, on its own): no read of the API
     * sees it until {@link #publish}; past {@code untilMillis} it is abandoned for sure, and
     * {@link #deleteAbandonedUploads} deletes it.
     */
    public Uni<Void> beginUpload(NewFile f, long untilMillis) {
        return pool.preparedQuery("insert into files (id, project, purpose, filename, bytes, status, created_at, expires_at, created_us,"
                + " upload_until) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .execute(Tuple.from(new Object[] { f.id(), f.project(), f.purpose(), f.filename(), f.bytes(), f.status(),
                        f.createdAt(), f.expiresAt(), f.createdUs(), untilMillis }))
                .replaceWithVoid();
    }

    /**
     * Writes the next chunks of an upload in progress and their index lines in one short
     * transaction of their own, which takes a connection from the pool for its length only. Its
     * commit does not wait for the WAL to reach the disk ({@code synchronous_commit} off): nothing
     * reads these rows before {@link #publish} commits, and that commit, which waits, flushes the
     * WAL up to its own record, past every chunk before it. A crash before it loses an upload that
     * had not ended anyway.
     */
    public Uni<Void> append(String fileId, List<NewChunk> chunks) {
        return Transactions.run(pool, tx -> tx.client().query("set local synchronous_commit to off").execute()
                .chain(() -> write(tx, fileId, chunks)));
    }

    /** Writes chunks and their index lines, in order. */
    public Uni<Void> write(Tx tx, String fileId, List<NewChunk> chunks) {
        Uni<Void> done = Uni.createFrom().voidItem();
        for (NewChunk c : chunks) {
            done = done.chain(() -> c.data() == null ? Uni.createFrom().voidItem()
                    : insertChunk(tx, fileId, c.seq(), Buffer.buffer(Unpooled.wrappedBuffer(c.data()))))
                    .chain(() -> insertLines(tx, fileId, c.lines()));
        }
        return done;
    }

    /**
     * An upload in progress becomes a file, with its real row (it was inserted as a placeholder)
     * and what its line index holds ({@code lineIndex}, null: none): from the commit of {@code tx}
     * every read sees it. False when the upload is no longer there (deleted as abandoned).
     */
    public Uni<Boolean> publish(Tx tx, NewFile f, String lineIndex) {
        return tx.client().preparedQuery("update files set purpose = $2, filename = $3, bytes = $4, created_at = $5, expires_at = $6,"
                + " created_us = $7, line_index = $8, upload_until = null where id = $1 and upload_until is not null")
                .execute(Tuple.from(new Object[] { f.id(), f.purpose(), f.filename(), f.bytes(), f.createdAt(), f.expiresAt(), f.createdUs(),
                        lineIndex }))
                .map(rs -> rs.rowCount() == 1);
    }

    /** Deletes an upload in progress with what it has written (a failed upload); nothing when it is a file already. */
    public Uni<Void> deleteUpload(String fileId) {
        return pool.preparedQuery("delete from files where id = $1 and upload_until is not null").execute(Tuple.of(fileId)).replaceWithVoid();
    }

    /**
     * Up to $2 uploads in progress abandoned before $1 (epoch milliseconds) that no other process
     * is deleting are deleted, with their chunks and line index (cascade); how many.
     */
    static final String DELETE_ABANDONED_UPLOADS = "with d as (delete from files where id in (select id from files where upload_until < $1"
            + " order by upload_until limit $2 for update skip locked) returning 1) select count(*) from d";

    /** Deletes up to {@code limit} uploads abandoned before {@code nowMillis} in one transaction (see {@link #DELETE_ABANDONED_UPLOADS}). */
    public Uni<Integer> deleteAbandonedUploads(long nowMillis, int limit) {
        return pool.preparedQuery(DELETE_ABANDONED_UPLOADS).execute(Tuple.of(nowMillis, limit))
                .map(rs -> (int) rs.iterator().next().getLong(0).longValue());
    }

    /** Drops a file's line index (an upload that turned out not to be a batch file). */
    public Uni<Void> deleteIndex(Tx tx, String fileId) {
        return tx.client().preparedQuery("delete from file_lines where file_id = $1").execute(Tuple.of(fileId)).replaceWithVoid();
    }

    private Uni<Void> insertLines(Tx tx, String fileId, List<IndexLine> lines) {
        if (lines.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        int n = lines.size();
        Integer[] number = new Integer[n];
        Integer[] seq = new Integer[n];
        Integer[] lastSeq = new Integer[n];
        Integer[] at = new Integer[n];
        Integer[] length = new Integer[n];
        String[] customId = new String[n];
        String[] url = new String[n];
        String[] model = new String[n];
        String[] code = new String[n];
        String[] message = new String[n];
        String[] param = new String[n];
        Boolean[] late = new Boolean[n];
        for (int i = 0; i < n; i++) {
            IndexLine l = lines.get(i);
            number[i] = l.line();
            seq[i] = l.seq();
            lastSeq[i] = l.lastSeq();
            at[i] = l.bodyAt();
            length[i] = l.bodyLength();
            customId[i] = l.customId();
            url[i] = storable(l.url());
            model[i] = l.model();
            if (l.errorCode() != null) {
                code[i] = l.errorCode();
                message[i] = storable(l.errorMessage());
                param[i] = l.errorParam();
            }
            late[i] = l.late();
        }
        return tx.client().preparedQuery(INSERT_LINES).execute(Tuple.tuple().addString(fileId).addArrayOfInteger(number).addArrayOfInteger(seq)
                .addArrayOfInteger(lastSeq).addArrayOfInteger(at).addArrayOfInteger(length).addArrayOfString(customId)
                .addArrayOfString(url).addArrayOfString(model).addArrayOfString(code).addArrayOfString(message)
                .addArrayOfString(param).addArrayOfBoolean(late)).replaceWithVoid();
    }

    /** PostgreSQL text holds no NUL: one in a url or an error message (only ever quoted back) is kept as U+FFFD. */
    private static String storable(String s) {
        return s == null || s.indexOf('\0') < 0 ? s : s.replace('\0', '\uFFFD');
    }

    static final String INSERT_LINES = "insert into file_lines (file_id, line, seq, last_seq, body_at, body_length, custom_id, url, model,"
            + " error_code, error_message, error_param, error_late) select $1, * from unnest($2::int[], $3::int[], $4::int[], $5::int[],"
            + " $6::int[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bool[])";

    /** One line of a file's index, as validation reads it (its error, when it has one of its own: {@code errorCode} not null). */
    public record IndexedLine(int line, String customId, String url, String model, String errorCode, String errorMessage,
            String errorParam, boolean late) {
    }

    /**
     * A file's index as a whole: its lines, and whether every one is a request of a batch for
     * {@code endpoint} with nothing wrong (no error of its own, that url, one model, a custom_id
     * no other line has), with that model. Strings compare byte for byte (collation "C"), as
     * {@code String.equals} does. {@code clean} is false for an empty index.
     */
    public record IndexSummary(int lines, boolean clean, String model) {
    }

    /** One aggregate over the file's index: what {@link IndexSummary} says. */
    public Uni<IndexSummary> indexSummary(Tx client, String fileId, String endpoint) {
        return client.client().preparedQuery(INDEX_SUMMARY).execute(Tuple.of(fileId, endpoint))
                .map(rows -> {
                    Row r = rows.iterator().next();
                    return new IndexSummary(r.getInteger(0), Boolean.TRUE.equals(r.getBoolean(1)), r.getString(2));
                });
    }

    static final String INDEX_SUMMARY = LineStore.compact("""
            select count(*)::int,
                   count(*) > 0
                   and count(*) filter (where error_code is not null) = 0
                   and count(*) filter (where url is distinct from $2) = 0
                   and count(model) = count(*) and min(model collate "C") = max(model collate "C")
                   and count(custom_id) = count(*) and count(distinct custom_id collate "C") = count(*),
                   min(model collate "C")
              from file_lines where file_id = $1
            """);

    /** Up to {@code limit} lines of the file's index after line {@code after}, in line order. */
    public Uni<List<IndexedLine>> indexed(Tx client, String fileId, int after, int limit) {
        return client.client().preparedQuery("select line, custom_id, url, model, error_code, error_message, error_param, error_late"
                + " from file_lines where file_id = $1 and line > $2 order by line limit $3")
                .execute(Tuple.of(fileId, after, limit))
                .map(rows -> {
                    List<IndexedLine> out = new ArrayList<>(rows.size());
                    for (Row r : rows) {
                        out.add(new IndexedLine(r.getInteger(0), r.getString(1), r.getString(2), r.getString(3), r.getString(4),
                                r.getString(5), r.getString(6), r.getBoolean(7)));
                    }
                    return out;
                });
    }

    public Uni<Void> insertChunk(Tx client, String fileId, int seq, Buffer data) {
        return client.client().preparedQuery("insert into file_chunks (file_id, seq, data) values ($1, $2, $3)")
                .execute(Tuple.of(fileId, seq, data.getDelegate())).replaceWithVoid();
    }

    /** How many chunks the file has (0 when it has none or is gone). */
    public Uni<Integer> chunkCount(String fileId) {
        return pool.preparedQuery("select coalesce(max(seq) + 1, 0) from file_chunks where file_id = $1").execute(Tuple.of(fileId))
                .map(rs -> rs.iterator().next().getInteger(0));
    }

    /** The file's chunk {@code seq}, or null when it is gone (the file was deleted meanwhile). */
    public Uni<Buffer> chunk(String fileId, int seq) {
        return pool.preparedQuery("select data from file_chunks where file_id = $1 and seq = $2").execute(Tuple.of(fileId, seq))
                .map(rs -> rs.size() == 0 ? null : rs.iterator().next().getBuffer(0));
    }

    /** The file's bytes, chunk after chunk, each read only when the previous one was consumed. */
    public Multi<Buffer> read(String fileId) {
        return chunkCount(fileId)
                .onItem().transformToMulti(n -> Multi.createFrom().range(0, n))
                .onItem().transformToUniAndConcatenate(seq -> chunk(fileId, seq));
    }

    /** The files past their {@code expires_at} ($1), except the input of a batch still live, oldest first (a range of {@code files_expiry}). */
    private static final String EXPIRED = "select f.id from files f where f.expires_at < $1"
            + " and not exists (select 1 from batches b where b.input_file_id = f.id and b.status in " + Wire.sqlList(BatchStatus.LIVE) + ")"
            + " order by f.expires_at";

    /**
     * Up to $2 expired files (see {@link #EXPIRED}) that no other process is deleting are deleted,
     * with their chunks and line index (cascade); how many and their bytes.
     */
    static final String DELETE_EXPIRED = "with d as (delete from files where id in (" + EXPIRED + " limit $2 for update of f skip locked)"
            + " returning bytes) select count(*), coalesce(sum(bytes), 0)::bigint from d";

    /** What a deletion of expired files removed. */
    public record Deleted(int files, long bytes) {
    }

    /** Deletes up to {@code limit} expired files in one transaction (see {@link #DELETE_EXPIRED}). */
    public Uni<Deleted> deleteExpired(long nowSeconds, int limit) {
        return pool.preparedQuery(DELETE_EXPIRED).execute(Tuple.of(nowSeconds, limit))
                .map(rs -> {
                    Row r = rs.iterator().next();
                    return new Deleted((int) r.getLong(0).longValue(), r.getLong(1));
                });
    }

    /** The {@code expires_at} of the oldest file that is expired and may be deleted at {@code nowSeconds}, or null. */
    public Uni<Long> oldestExpired(long nowSeconds) {
        return pool.preparedQuery("select f.expires_at from (" + EXPIRED + " limit 1) x join files f on f.id = x.id")
                .execute(Tuple.of(nowSeconds)).map(rs -> rs.size() == 0 ? null : rs.iterator().next().getLong(0));
    }

    /** A file a batch has written so far: its id, name and bytes. */
    public record Produced(String id, String filename, long bytes) {
    }

    /** The files the batch has written so far (a range of {@code files_producer}). */
    public Uni<List<Produced>> producedBy(Tx tx, String batchId) {
        return tx.client().preparedQuery("select id, filename, bytes from files where producer_batch_id = $1").execute(Tuple.of(batchId))
                .map(rows -> {
                    List<Produced> out = new ArrayList<>(rows.size());
                    for (Row r : rows) {
                        out.add(new Produced(r.getString(0), r.getString(1), r.getLong(2)));
                    }
                    return out;
                });
    }

    /** Inserts the row of a batch's output or error file, hidden while the batch runs ({@link #BEING_WRITTEN}). */
    public Uni<Void> beginOutput(Tx tx, NewFile f) {
        return tx.client().preparedQuery("insert into files (id, project, purpose, filename, bytes, status, created_at, expires_at, created_us,"
                + " producer_batch_id, upload_until) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                .execute(Tuple.from(new Object[] { f.id(), f.project(), f.purpose(), f.filename(), f.bytes(), f.status(),
                        f.createdAt(), f.expiresAt(), f.createdUs(), f.producerBatchId(), BEING_WRITTEN }))
                .replaceWithVoid();
    }

    /** The file's chunk {@code seq} as {@code tx} sees it, or null. */
    public Uni<Buffer> chunk(Tx tx, String fileId, int seq) {
        return tx.client().preparedQuery("select data from file_chunks where file_id = $1 and seq = $2").execute(Tuple.of(fileId, seq))
                .map(rs -> rs.size() == 0 ? null : rs.iterator().next().getBuffer(0));
    }

    /** Stores chunk {@code seq}, in place of the one there (the last, partial chunk of a file that grows). */
    public Uni<Void> putChunk(Tx tx, String fileId, int seq, Buffer data) {
        return tx.client().preparedQuery("insert into file_chunks (file_id, seq, data) values ($1, $2, $3)"
                + " on conflict (file_id, seq) do update set data = excluded.data")
                .execute(Tuple.of(fileId, seq, data.getDelegate())).replaceWithVoid();
    }

    /**
     * A batch's output or error file becomes visible, as a file created at {@code createdAt} that
     * expires at {@code expiresAt} (null: never); false when it was not a file being written.
     */
    public Uni<Boolean> publishOutput(Tx tx, String fileId, long createdAt, Long expiresAt, long createdUs) {
        return tx.client().preparedQuery("update files set upload_until = null, created_at = $2, expires_at = $3, created_us = $4"
                + " where id = $1 and upload_until = $5")
                .execute(Tuple.of(fileId, createdAt, expiresAt, createdUs, BEING_WRITTEN)).map(rs -> rs.rowCount() == 1);
    }

    /** Sets a file's size once its chunks are written. */
    public Uni<Void> setBytes(Tx client, String fileId, long bytes) {
        return client.client().preparedQuery("update files set bytes = $2 where id = $1").execute(Tuple.of(fileId, bytes)).replaceWithVoid();
    }
}
