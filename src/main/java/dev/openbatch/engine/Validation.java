package dev.openbatch.engine;

import java.util.ArrayList;
import java.util.List;

import dev.openbatch.batches.BatchView.BatchError;
import dev.openbatch.batches.LineValidator;
import io.vertx.mutiny.core.buffer.Buffer;

/**
 * One input file being read: splits chunks into lines (a line may span chunks), checks each
 * with {@link LineValidator}, and hands out the valid ones in sets for a bulk insert.
 * Used by one validation at a time; CPU work, so it runs on a worker thread.
 */
final class Validation {
    private final LineValidator validator;
    private final int maxLines;
    private final int maxErrors;
    private final List<BatchError> errors = new ArrayList<>();
    private byte[] carry = new byte[0];
    private int lineNumber;
    private int requests;
    private boolean tooMany;

    Validation(String endpoint, int maxLines, int maxErrors) {
        this.validator = new LineValidator(endpoint);
        this.maxLines = maxLines;
        this.maxErrors = maxErrors;
    }

    List<BatchError> errors() { return errors; }

    int requests() { return requests; }

    String model() { return validator.model(); }

    /** True once reading on would not change the verdict (enough errors to report). */
    boolean done() {
        return errors.size() >= maxErrors || tooMany;
    }

    /** Reads one more chunk; returns the valid lines it completed. */
    List<LineValidator.Line> feed(Buffer chunk) {
        byte[] in = chunk.getBytes();
        byte[] buf;
        if (carry.length == 0) {
            buf = in;
        } else {
            buf = new byte[carry.length + in.length];
            System.arraycopy(carry, 0, buf, 0, carry.length);
            System.arraycopy(in, 0, buf, carry.length, in.length);
        }
        List<LineValidator.Line> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < buf.length && !done(); i++) {
            if (buf[i] == '\n') {
                line(buf, start, i, out);
                start = i + 1;
            }
        }
        carry = done() ? new byte[0] : java.util.Arrays.copyOfRange(buf, start, buf.length);
        return out;
    }

    /** The last line, when the file does not end with a line break. */
    List<LineValidator.Line> finish() {
        List<LineValidator.Line> out = new ArrayList<>();
        if (carry.length > 0 && !done()) {
            line(carry, 0, carry.length, out);
        }
        carry = new byte[0];
        if (requests == 0 && errors.isEmpty()) {
            errors.add(new BatchError("empty_file", "The input file has no request lines.", "input_file_id", null));
        }
        return out;
    }

    private void line(byte[] buf, int from, int to, List<LineValidator.Line> out) {
        lineNumber++;
        if (LineValidator.blank(buf, from, to)) {
            return;
        }
        if (requests >= maxLines) {
            tooMany = true;
            errors.add(new BatchError("too_many_requests", "The input file has more than " + maxLines
                    + " request lines, the limit of this server (openbatch.limits.max-batch-lines).", null, lineNumber));
            return;
        }
        requests++;
        LineValidator.Result r = validator.check(buf, from, to, lineNumber);
        if (r.error() != null) {
            errors.add(r.error());
        } else {
            out.add(r.line());
        }
    }
}
