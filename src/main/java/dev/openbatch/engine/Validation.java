package dev.openbatch.engine;

import java.util.ArrayList;
import java.util.List;

import dev.openbatch.batches.BatchView.BatchError;
import dev.openbatch.batches.LineScanner;
import dev.openbatch.batches.LineValidator;
import io.vertx.mutiny.core.buffer.Buffer;

/**
 * One input file being read: {@link LineScanner} splits its chunks into lines (a line may span
 * chunks; one longer than the line limit is an error, never held whole), {@link LineValidator}
 * checks each, and the valid ones are handed out in sets for a bulk insert. Its cost is linear in
 * the file's size. Used by one validation at a time; CPU work, so it runs on a worker thread.
 * A file whose lines were indexed at upload is judged from its index instead ({@link #indexed}):
 * the same rules, in the same order, without reading its bytes.
 */
final class Validation implements LineScanner.Sink {
    private final LineValidator validator;
    private final LineScanner scanner;
    private final int maxLines;
    private final int maxLineBytes;
    private final int maxErrors;
    private final List<BatchError> errors = new ArrayList<>();
    private List<LineValidator.Line> out;
    private int requests;
    private boolean tooMany;

    Validation(String endpoint, int maxLines, int maxLineBytes, int maxErrors) {
        this.validator = new LineValidator(endpoint);
        this.scanner = new LineScanner(maxLineBytes);
        this.maxLines = maxLines;
        this.maxLineBytes = maxLineBytes;
        this.maxErrors = maxErrors;
    }

    List<BatchError> errors() { return errors; }

    int requests() { return requests; }

    String model() { return validator.model(); }

    /** Bytes copied to join lines that spanned chunks (at most the file's size). */
    long copiedBytes() { return scanner.copiedBytes(); }

    /** True once reading on would not change the verdict (enough errors to report). */
    boolean done() {
        return errors.size() >= maxErrors || tooMany;
    }

    /** Reads one more chunk; returns the valid lines it completed. */
    List<LineValidator.Line> feed(Buffer chunk) {
        out = new ArrayList<>();
        if (!done()) {
            scanner.feed(chunk.getBytes(), this);
        }
        return out;
    }

    /** The last line, when the file does not end with a line break. */
    List<LineValidator.Line> finish() {
        out = new ArrayList<>();
        scanner.finish(this);
        if (requests == 0 && errors.isEmpty()) {
            errors.add(new BatchError("empty_file", "The input file has no request lines.", "input_file_id", null));
        }
        return out;
    }

    /**
     * Reads one line of the file's index instead (what {@link LineValidator#parse} found at upload,
     * see {@code FileIngest}): the same verdict as reading the line itself, without its bytes.
     */
    void indexed(int number, String customId, String url, String model, BatchError error, boolean late) {
        if (done() || !counted(number)) {
            return;
        }
        BatchError e = validator.judge(number, customId, url, model, late ? null : error, late ? error : null);
        if (e != null) {
            errors.add(e);
        }
    }

    /** The index was read to its end: an empty file is an error. */
    void endIndexed() {
        if (requests == 0 && errors.isEmpty()) {
            errors.add(new BatchError("empty_file", "The input file has no request lines.", "input_file_id", null));
        }
    }

    @Override
    public boolean line(byte[] buf, int from, int to, int number) {
        if (LineValidator.blank(buf, from, to)) {
            return true; // skipped, though it keeps its number
        }
        if (counted(number)) {
            LineValidator.Result r = validator.check(buf, from, to, number);
            if (r.error() != null) {
                errors.add(r.error());
            } else {
                out.add(r.line());
            }
        }
        return !done();
    }

    @Override
    public boolean tooLong(int number, long bytes) {
        if (counted(number)) {
            errors.add(new BatchError("line_too_long", "Line " + number + " is " + bytes + " bytes long; the limit is " + maxLineBytes
                    + " bytes (openbatch.limits.max-line-bytes).", null, number));
        }
        return !done();
    }

    /** Counts one more request line; false, with the error, when it is one more than the limit. */
    private boolean counted(int number) {
        if (requests >= maxLines) {
            tooMany = true;
            errors.add(new BatchError("too_many_requests", "The input file has more than " + maxLines
                    + " request lines, the limit of this server (openbatch.limits.max-batch-lines).", null, number));
            return false;
        }
        requests++;
        return true;
    }
}
