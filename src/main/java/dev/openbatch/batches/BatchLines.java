package dev.openbatch.batches;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.quotas.Quotas;
import dev.openbatch.engine.lifecycle.OutputFiles;
import dev.openbatch.status.LineState;
import dev.openbatch.status.Wire;
import dev.openbatch.store.BatchStore;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.Transactions;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * What the API reads of a batch's lines while the engine works on them, and the retry batches it
 * makes: the results stream ({@code GET /v1/batches/{id}/results}), the lines' states
 * ({@code GET /v1/batches/{id}/requests}) and a retry batch, its lines left to the engine. The statements are
 * {@link LineStore}'s, each a range of one index proportional to what it returns; none takes a
 * lock the engine waits for. The caller has checked that the batch is the project's.
 */
@ApplicationScoped
public class BatchLines {
    /** Most lines one results read scans, and the default. */
    public static final int MAX_RESULTS = 50_000;
    public static final int DEFAULT_RESULTS = 10_000;

    private final Transactions transactions;
    private final LineStore lines;
    private final BatchStore batches;

    private final Quotas quotas;

    public BatchLines(Transactions transactions, LineStore lines, BatchStore batches, Quotas quotas) {
        this.quotas = quotas;
        this.transactions = transactions;
        this.lines = lines;
        this.batches = batches;
    }

    // ---- the results stream ----

    /**
     * Which results a read returns: every settled line, or those of the output file, or those of
     * the error file. The {@code outcome} parameter names the last two by their constants' names
     * in lower case ({@code succeeded}, {@code failed}).
     */
    public enum Outcome {
        ALL, SUCCEEDED, FAILED;

        /** {@code succeeded}, {@code failed} or absent (all); anything else is a 400 naming {@code outcome}. */
        public static Outcome of(String wire) {
            if (wire == null || wire.isEmpty()) {
                return ALL;
            }
            for (Outcome o : new Outcome[] { SUCCEEDED, FAILED }) {
                if (Wire.wire(o).equals(wire)) {
                    return o;
                }
            }
            throw ApiException.invalid("Invalid 'outcome': '" + ApiException.clip(wire) + "'. Use '" + Wire.wire(SUCCEEDED)
                    + "' (the output file's lines) or '" + Wire.wire(FAILED) + "' (the error file's).", "outcome", "invalid_value");
        }

        boolean wants(boolean succeeded) {
            return this == ALL || (this == SUCCEEDED) == succeeded;
        }
    }

    /**
     * Where a reader of the results stream is: just after the line {@code line} settled by
     * transaction {@code xid}. Its text ({@code <xid>.<line>}) is the cursor a client passes back.
     */
    public record Position(long xid, int line) {
        public static final Position START = new Position(0, 0);

        public String token() {
            return xid + "." + line;
        }

        /** A cursor as a client sends it back; null is the start. Anything not made by {@link #token} is a 400 naming {@code after}. */
        public static Position parse(String token) {
            if (token == null || token.isEmpty()) {
                return START;
            }
            int dot = token.indexOf('.');
            try {
                if (dot > 0 && dot < 20 && token.length() - dot - 1 <= 10) {
                    long xid = Long.parseLong(token.substring(0, dot));
                    int line = Integer.parseInt(token.substring(dot + 1));
                    if (xid >= 0 && line >= 0 && token.equals(new Position(xid, line).token())) {
                        return new Position(xid, line);
                    }
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw ApiException.invalid("Invalid 'after': '" + ApiException.clip(token)
                    + "' is not a cursor of this endpoint (pass the Openbatch-Cursor header of the previous answer).", "after", "invalid_value");
        }
    }

    /**
     * One read of the results stream: the lines as JSONL in the files' format (each turned into
     * bytes only when the response takes it), the cursor to continue from, whether more lines can
     * be read at once, and whether the stream is complete (the batch has ended and every line it
     * settled has been read up to this cursor).
     */
    public record Results(Multi<Buffer> body, String cursor, boolean hasMore, boolean complete) {
    }

    /** About how many bytes of lines one read returns (a single larger line is returned alone). */
    public static final int RESULTS_BYTES = 4 * OutputFiles.PAGE_BYTES;

    /**
     * The next settled lines after {@code after}: up to {@code limit} of them and about
     * {@link #RESULTS_BYTES} (only those of {@code outcome} are in the body, but the cursor moves
     * past the others too). One statement: each line is read once, and what passes the budget is
     * never sent by PostgreSQL.
     */
    public Uni<Results> results(String batchId, byte[] lineKey, Position after, Outcome outcome, int limit) {
        Boolean succeeded = outcome == Outcome.ALL ? null : outcome == Outcome.SUCCEEDED;
        return lines.settled(batchId, after.xid(), after.line(), limit + 1, succeeded, RESULTS_BYTES).map(page -> {
            if (page.purged()) {
                throw resultsExpired(batchId);
            }
            List<LineStore.SettledLine> rows = page.lines();
            List<LineStore.SettledLine> read = rows.size() > limit ? rows.subList(0, limit) : rows;
            boolean more = page.scanned() > read.size(); // cut by the limit, or by the bytes
            LineStore.SettledLine last = read.isEmpty() ? null : read.get(read.size() - 1);
            Position next = last == null ? after : new Position(last.xid(), last.line());
            boolean complete = Boolean.TRUE.equals(page.ended()) && !more;
            return new Results(body(lineKey, read), next.token(), more, complete);
        });
    }

    /** Bytes of lines the response is handed at once: fewer, larger writes than one per line. */
    static final int WRITE_BYTES = 64 * 1024;

    /**
     * The lines the outcome keeps (the others have no values), made into bytes only as the
     * response asks for more, about {@link #WRITE_BYTES} at a time.
     */
    private static Multi<Buffer> body(byte[] lineKey, List<LineStore.SettledLine> rows) {
        List<LineStore.SettledLine> wanted = rows.stream().filter(LineStore.SettledLine::carried).toList();
        if (wanted.isEmpty()) {
            return Multi.createFrom().empty();
        }
        Ids.LineIds ids = new Ids.LineIds(lineKey); // used by one write at a time: the response asks in turn
        return Multi.createFrom().iterable(() -> new java.util.Iterator<Buffer>() {
            int next;

            @Override
            public boolean hasNext() {
                return next < wanted.size();
            }

            @Override
            public Buffer next() {
                Buffer out = Buffer.buffer(WRITE_BYTES + 4096);
                while (next < wanted.size() && out.length() < WRITE_BYTES) {
                    OutputFiles.appendLine(out, ids, wanted.get(next++)); // the files' bytes
                }
                return out;
            }
        });
    }

    // ---- after retention ----

    /** 410 {@code results_expired}: the batch's lines were purged (its data expired), so it has no results stream any more. */
    public static ApiException resultsExpired(String batchId) {
        return ApiException.gone("The results of batch " + batchId + " have expired and were deleted (its output expired, or it ended"
                + " longer ago than the retention allows); the batch itself, its counts and usage remain.", "results_expired");
    }

    /** 410 {@code data_expired}: the batch's lines were purged, so none can be listed. */
    public static ApiException linesExpired(String batchId) {
        return ApiException.gone("The lines of batch " + batchId + " have expired and were deleted (its output expired, or it ended"
                + " longer ago than the retention allows); the batch itself, its counts and usage remain.", "data_expired");
    }

    /** 409 {@code data_expired}: the batch's lines (their bodies) were purged, so there is nothing to copy into a retry. */
    public static ApiException dataExpired(String batchId) {
        return ApiException.conflict("Batch " + batchId + " cannot be retried: its lines and their bodies have expired and were deleted."
                + " Create a new batch from an input file instead.", "data_expired");
    }

    // ---- the lines' states ----

    /**
     * Up to {@code limit} lines after line {@code afterLine}, in line order, of the states given
     * and with the error codes given (empty: any).
     */
    public Uni<List<LineView>> states(String batchId, byte[] lineKey, int afterLine, Set<LineState> states, List<String> codes, int limit) {
        String[] s = states.isEmpty() ? null : states.stream().map(LineState::wire).toArray(String[]::new);
        String[] c = codes.isEmpty() ? null : codes.toArray(String[]::new);
        boolean unsuccessful = !states.isEmpty() && LineState.UNSUCCESSFUL.containsAll(states);
        return lines.lines(batchId, afterLine, s, c, limit, unsuccessful).map(rows -> {
            if (rows == null) {
                throw linesExpired(batchId);
            }
            Ids.LineIds ids = new Ids.LineIds(lineKey);
            List<LineView> out = new ArrayList<>(rows.size());
            for (LineStore.StateLine r : rows) {
                int line = r.line();
                String code = r.errorCode();
                long notBefore = r.notBefore();
                Long next = r.state() == LineState.QUEUED && notBefore > 0 ? (notBefore + 999) / 1000 : null;
                out.add(new LineView(ids.of(line), "batch.request", line, r.customId(), r.state().wire(), r.attempts(), r.statusCode(),
                        code == null ? null : new LineView.LineError(code, r.errorMessage()), next));
            }
            return out;
        });
    }

    // ---- retries ----

    /** A retry batch to create: its row's values (the rest is copied from the batch it retries); the key and fingerprint may be null. */
    public record Retry(String id, String retriedId, String jobId, String completionWindow, Long expiresAt, String upstream,
            String metadataJson, long now, long createdUs, List<String> errorCodes, String project, String idempotencyKey,
            String requestHash) {
    }

    /**
     * Creates the retry batch, validating: the engine copies its lines (those of the retried batch
     * that went to its error file, with one of the error codes when given) row to row, no file read
     * or written, and starts it (see {@code Lifecycle.copyRetried}), so this answers in bounded
     * time whatever the batch's size. In one transaction: 409 and nothing created when there is no
     * such line, or when their bodies went with the deleted input file. The project's quotas count
     * it as any batch: 429 over its live batches here; its enqueued lines and tokens are counted
     * when its lines are in, as a created batch's are when its file is validated.
     */
    public Uni<Void> retry(Retry r) {
        String[] codes = r.errorCodes().isEmpty() ? null : r.errorCodes().toArray(String[]::new);
        BatchStore.NewRetry row = new BatchStore.NewRetry(r.id(), r.retriedId(), r.jobId(), r.completionWindow(), r.expiresAt(),
                r.upstream(), r.metadataJson(), r.now(), r.createdUs(), r.idempotencyKey(), r.requestHash(), codes);
        return transactions.run(tx -> quotas.admitLiveBatch(tx, r.project())
                .chain(() -> batches.insertRetry(tx, row))
                .invoke(inserted -> {
                    if (!inserted) {
                        throw dataExpired(r.retriedId());
                    }
                })
                .chain(() -> lines.toRetry(tx, r.retriedId(), codes))
                .invoke(t -> {
                    if (!t.any()) {
                        throw ApiException.conflict("Batch " + r.retriedId() + " has no "
                                + (codes == null ? "failed, expired or cancelled lines" : "failed, expired or cancelled lines with those error codes")
                                + " to retry.", "nothing_to_retry");
                    }
                    if (t.bodiesGone()) {
                        throw ApiException.conflict("The request bodies of batch " + r.retriedId() + "'s lines were kept in its input file, "
                                + "which was deleted; upload them again in a new batch.", "input_file_deleted");
                    }
                })
                .replaceWithVoid());
    }
}
