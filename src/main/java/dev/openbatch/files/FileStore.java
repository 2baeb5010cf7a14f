package dev.openbatch.files;

import dev.openbatch.batches.BatchStatus;

import java.nio.file.Path;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.core.file.OpenOptions;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.core.file.AsyncFile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * File bytes in PostgreSQL, as fixed-size chunks: written and read one chunk at a time, so no
 * file is ever whole in memory and every replica sees the same bytes.
 */
@ApplicationScoped
public class FileStore {
    /** Bytes per chunk row. */
    public static final int CHUNK = 1 << 20;

    private final Pool pool;
    private final Vertx vertx;

    public FileStore(Pool pool, Vertx vertx) {
        this.pool = pool;
        this.vertx = vertx;
    }

    /** Inserts the file row. */
    public Uni<Void> insertRow(SqlClient client, FileEntity f) {
        return client.preparedQuery("insert into files (id, project, purpose, filename, bytes, status, created_at, expires_at, created_us, producer_batch_id)"
                + " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .execute(Tuple.from(new Object[] { f.id, f.project, f.purpose, f.filename, f.bytes, f.status,
                        f.createdAt, f.expiresAt, f.createdUs, f.producerBatchId }))
                .replaceWithVoid();
    }

    /** Stores a new file whose bytes are in a local (uploaded) file, in one transaction. */
    public Uni<Void> storeFromDisk(FileEntity f, Path source) {
        return vertx.fileSystem().open(source.toString(), new OpenOptions().setRead(true))
                .chain(file -> pool.withTransaction(tx -> insertRow(tx, f)
                        .chain(() -> copyChunks(tx, f.id, file, f.bytes)))
                        .eventually(file::close));
    }

    private Uni<Void> copyChunks(SqlClient tx, String fileId, AsyncFile file, long bytes) {
        int chunks = (int) ((bytes + CHUNK - 1) / CHUNK);
        return Multi.createFrom().range(0, chunks)
                .onItem().transformToUniAndConcatenate(seq -> {
                    long offset = (long) seq * CHUNK;
                    int length = (int) Math.min(CHUNK, bytes - offset);
                    return file.read(Buffer.buffer(length), 0, offset, length)
                            .chain(data -> insertChunk(tx, fileId, seq, data));
                })
                .collect().last().replaceWithVoid();
    }

    public Uni<Void> insertChunk(SqlClient client, String fileId, int seq, Buffer data) {
        return client.preparedQuery("insert into file_chunks (file_id, seq, data) values ($1, $2, $3)")
                .execute(Tuple.of(fileId, seq, data.getDelegate())).replaceWithVoid();
    }

    /** The file's bytes, chunk after chunk, each read only when the previous one was consumed. */
    public Multi<Buffer> read(String fileId) {
        return pool.preparedQuery("select coalesce(max(seq) + 1, 0) from file_chunks where file_id = $1")
                .execute(Tuple.of(fileId))
                .onItem().transformToMulti(rs -> Multi.createFrom().range(0, rs.iterator().next().getInteger(0)))
                .onItem().transformToUniAndConcatenate(seq -> pool
                        .preparedQuery("select data from file_chunks where file_id = $1 and seq = $2")
                        .execute(Tuple.of(fileId, seq))
                        .map(rs -> rs.iterator().next().getBuffer(0)));
    }

    /** Files past their {@code expires_at} are deleted, except the input of a batch still live; how many. */
    public Uni<Integer> deleteExpired(long nowSeconds) {
        return pool.preparedQuery("delete from files f where f.expires_at is not null and f.expires_at < $1"
                + " and not exists (select 1 from batches b where b.input_file_id = f.id and b.status in " + BatchStatus.sqlList(BatchStatus.LIVE) + ")")
                .execute(Tuple.of(nowSeconds))
                .map(rs -> rs.rowCount());
    }

    /** Deletes the files an earlier, interrupted finalization of the batch left behind. */
    public Uni<Void> deleteProducedBy(SqlClient client, String batchId) {
        return client.preparedQuery("delete from files where producer_batch_id = $1").execute(Tuple.of(batchId)).replaceWithVoid();
    }

    /** Sets a file's size once its chunks are written. */
    public Uni<Void> setBytes(SqlClient client, String fileId, long bytes) {
        return client.preparedQuery("update files set bytes = $2 where id = $1").execute(Tuple.of(fileId, bytes)).replaceWithVoid();
    }
}
