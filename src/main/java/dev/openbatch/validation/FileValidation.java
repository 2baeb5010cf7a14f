package dev.openbatch.validation;

import java.util.List;
import java.util.function.Function;

import org.jboss.logging.Logger;

import dev.openbatch.api.LimitsConfig;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.FileStore;
import dev.openbatch.store.Tx;
import dev.openbatch.upstream.Upstreams;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * Reads an input file into a {@link Validation}. A batch's validation ({@link #judge}) reads the
 * file's line index when the file was indexed at upload under the limits in force (the same
 * verdict, without reading its bytes), and the file's chunks otherwise; a dry run ({@link DryRun})
 * reads the chunks. Chunks are read one by one ({@link FileStore#chunk}) and parsed on a worker
 * thread, and the valid lines go to whoever keeps them while the next chunk is already being
 * read. It holds no state between files: one instance serves every validation of a process.
 */
public final class FileValidation {
    private static final Logger LOG = Logger.getLogger(FileValidation.class);
    /** Most lines handed out at once: what one insert statement carries. */
    static final int ROWS = 2000;
    /** Lines of a file's index read at a time. */
    private static final int INDEX_PAGE = 5000;

    private final FileStore files;
    private final LimitsConfig limits;
    private final Upstreams upstreams;

    public FileValidation(FileStore files, LimitsConfig limits, Upstreams upstreams) {
        this.files = files;
        this.limits = limits;
        this.upstreams = upstreams;
    }

    /** Where a batch's valid lines go: its request rows, inserted in the caller's transaction. */
    public interface Rows {
        /** Inserts valid lines read from the file's chunks, in line order, at most {@value FileValidation#ROWS} at a time. */
        Uni<Void> insert(List<LineValidator.Line> valid);

        /**
         * Inserts a row for every line of the file's index (the file is valid, so every indexed
         * line is a request); the bodies go from the file's chunks to the rows inside PostgreSQL.
         */
        Uni<Void> insertIndexed(String fileId);
    }

    /** A valid file's verdict: how many request lines it has, the model they ask for, and the upstream that serves it. */
    public record Valid(int requests, String model, String upstream) {
    }

    /**
     * An invalid file's verdict: its errors, and the model its lines ask for (null when no line
     * was read). A failure, so that the transaction holding the rows inserted so far rolls back.
     */
    public static final class Invalid extends RuntimeException {
        private final List<BatchError> errors;
        private final String model;

        Invalid(List<BatchError> errors, String model) {
            super("invalid input file", null, false, false);
            this.errors = errors;
            this.model = model;
        }

        /** A valid file's batch refused all the same, for one reason that is not the file's (a quota). */
        public static Invalid refused(BatchError error, String model) {
            return new Invalid(List.of(error), model);
        }

        public List<BatchError> errors() {
            return errors;
        }

        public String model() {
            return model;
        }
    }

    /**
     * Judges the input file {@code in} of batch {@code batchId} and hands its valid lines to
     * {@code rows}, in {@code tx}: the verdict of a valid file, or a failure with {@link Invalid}.
     */
    public Uni<Valid> judge(Tx tx, String batchId, BatchStore.Input in, Rows rows) {
        List<BatchError> wrong = Validation.fileErrors(in.fileId(), in.fileBytes(), limits);
        if (!wrong.isEmpty()) {
            return Uni.createFrom().failure(new Invalid(wrong, null));
        }
        String key = Validation.indexKey(limits.maxLineBytes(), limits.maxBatchLines(), limits.maxReportedErrors());
        if (in.lineIndex() != null && in.lineIndex().startsWith(key + " ")) {
            return fromIndex(tx, batchId, in, in.lineIndex().endsWith(" complete"), rows);
        }
        return byReading(in, rows);
    }

    /**
     * Judges the file from its line index; a valid file's rows are then inserted from the index.
     * A complete index is first summed up in one aggregate ({@link FileStore#indexSummary}): when
     * nothing in it is wrong (the common case) that is the verdict, without reading its lines into
     * this process (40,000 of them took 215 ms on a cold JVM, the aggregate 20–30 ms); else its
     * lines are read and judged one by one, for errors that name them. An index that ends before
     * the verdict (it should not) is left for reading the file: nothing was inserted yet.
     */
    private Uni<Valid> fromIndex(Tx tx, String batchId, BatchStore.Input in, boolean complete, Rows rows) {
        if (!complete) {
            return readIndexAndInsert(tx, batchId, in, false, rows);
        }
        return files.indexSummary(tx, in.fileId(), in.endpoint()).chain(summary -> {
            if (!summary.clean() || summary.lines() > limits.maxBatchLines()) {
                return readIndexAndInsert(tx, batchId, in, true, rows);
            }
            Validation v = Validation.of(in.endpoint(), limits);
            v.indexedClean(summary.lines(), summary.model());
            Valid valid = verdict(v, in.jobModel());
            return rows.insertIndexed(in.fileId()).replaceWith(valid);
        });
    }

    /** The same, line by line: the verdict of an index with something wrong names the lines. */
    private Uni<Valid> readIndexAndInsert(Tx tx, String batchId, BatchStore.Input in, boolean complete, Rows rows) {
        Validation v = Validation.of(in.endpoint(), limits);
        return readIndex(tx, in.fileId(), v, 0).chain(() -> {
            if (!v.done()) {
                if (!complete) {
                    LOG.errorf("batch %s: the line index of file %s ends before its verdict; reading the file instead", batchId, in.fileId());
                    return byReading(in, rows);
                }
                v.endIndexed();
            }
            Valid valid = verdict(v, in.jobModel());
            return rows.insertIndexed(in.fileId()).replaceWith(valid);
        });
    }

    /** Reads the index a page at a time (judged on a worker thread) until its end or the verdict. */
    private Uni<Void> readIndex(Tx tx, String fileId, Validation v, int after) {
        return files.indexed(tx, fileId, after, INDEX_PAGE)
                .emitOn(Infrastructure.getDefaultWorkerPool())
                .chain(page -> {
                    for (FileStore.IndexedLine l : page) {
                        BatchError error = l.errorCode() == null ? null : new BatchError(l.errorCode(), l.errorMessage(), l.errorParam(), l.line());
                        v.indexed(l.line(), l.customId(), l.url(), l.model(), error, l.late());
                        if (v.done()) {
                            return Uni.createFrom().voidItem();
                        }
                    }
                    return page.size() < INDEX_PAGE ? Uni.createFrom().voidItem() : readIndex(tx, fileId, v, page.get(page.size() - 1).line());
                });
    }

    /**
     * Judges the file by reading its chunks, the valid lines going to {@code rows} as they are
     * read. A file deleted while it was read fails (the next attempt finds it gone).
     */
    private Uni<Valid> byReading(BatchStore.Input in, Rows rows) {
        Validation v = Validation.of(in.endpoint(), limits);
        return read(in.fileId(), v, rows::insert).map(whole -> {
            if (!whole) {
                throw new IllegalStateException("the input file " + in.fileId() + " was deleted while it was read");
            }
            return verdict(v, in.jobModel());
        });
    }

    /** The verdict on a file judged to its end: {@link Valid}, or else {@link Invalid} thrown. */
    private Valid verdict(Validation v, String jobModel) {
        Validation.Verdict verdict = v.verdict(jobModel, upstreams);
        if (!verdict.errors().isEmpty()) {
            throw new Invalid(verdict.errors(), verdict.model());
        }
        return new Valid(v.requests(), verdict.model(), verdict.upstream());
    }

    // ---- reading the chunks ----

    /**
     * Reads the file's chunks into {@code v} until the file's end or the verdict, then
     * {@link Validation#finish}es it; the valid lines go to {@code keep}. A pipeline: while one
     * chunk's lines are kept (the database's work, for a batch), the next chunk is already read
     * and parsed (ours, on a worker thread). False when a chunk was gone (the file was deleted
     * meanwhile); the validation is then not finished.
     */
    Uni<Boolean> read(String fileId, Validation v, Function<List<LineValidator.Line>, Uni<Void>> keep) {
        return files.chunkCount(fileId)
                .chain(n -> pipeline(fileId, v, keep, 0, n, n == 0 ? Uni.createFrom().item(List.of()) : parsed(fileId, v, 0)));
    }

    private Uni<Boolean> pipeline(String fileId, Validation v, Function<List<LineValidator.Line>, Uni<Void>> keep, int seq, int chunks,
            Uni<List<LineValidator.Line>> current) {
        return current.chain(parsed -> {
            if (parsed == null) {
                return Uni.createFrom().item(false);
            }
            if (seq + 1 >= chunks || v.done()) {
                return inSets(keep, parsed)
                        .chain(() -> Uni.createFrom().item(v::finish).runSubscriptionOn(Infrastructure.getDefaultWorkerPool()))
                        .chain(last -> inSets(keep, last))
                        .replaceWith(true);
            }
            Uni<List<LineValidator.Line>> next = parsed(fileId, v, seq + 1).memoize().indefinitely();
            next.subscribe().with(x -> { }, e -> { }); // start reading the next chunk now
            return inSets(keep, parsed).chain(() -> pipeline(fileId, v, keep, seq + 1, chunks, next));
        });
    }

    /** Chunk {@code seq} fed to {@code v} on a worker thread: the valid lines it completed, or null when the chunk is gone. */
    private Uni<List<LineValidator.Line>> parsed(String fileId, Validation v, int seq) {
        return files.chunk(fileId, seq)
                .emitOn(Infrastructure.getDefaultWorkerPool())
                .map(chunk -> chunk == null ? null : v.feed(chunk));
    }

    /** Hands {@code valid} to {@code keep} in sets of at most {@link #ROWS} lines, one set after the other. */
    private static Uni<Void> inSets(Function<List<LineValidator.Line>, Uni<Void>> keep, List<LineValidator.Line> valid) {
        if (valid.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return Multi.createFrom().range(0, (valid.size() + ROWS - 1) / ROWS)
                .onItem().transformToUniAndConcatenate(set -> keep.apply(valid.subList(set * ROWS, Math.min(valid.size(), (set + 1) * ROWS))))
                .collect().last().replaceWithVoid();
    }
}
