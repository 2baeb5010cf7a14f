package dev.openbatch.validation;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.api.LimitsConfig;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.Upstreams;
import io.vertx.mutiny.core.buffer.Buffer;

/**
 * One input file being read: {@link LineScanner} splits its chunks into lines (a line may span
 * chunks; one longer than the line limit is an error, never held whole), {@link LineValidator}
 * checks each, and the valid ones are handed out in sets for a bulk insert. Its cost is linear in
 * the file's size. Used by one validation at a time; CPU work, so it runs on a worker thread.
 * The checks before and after the lines ({@link #fileErrors}, {@link #verdict}) are here too, so
 * that a batch's validation and a dry run ({@link DryRun}) say the same. A file whose lines were
 * indexed at upload is judged from its index instead ({@link #indexed}): the same rules, in the
 * same order, without reading its bytes.
 */
public final class Validation implements LineScanner.Sink {
    /** Most distinct models a dry run counts lines for. */
    public static final int MAX_MODELS = 100;

    private final LineValidator validator;
    private final LineScanner scanner;
    private final int maxLines;
    private final int maxLineBytes;
    private final int maxErrors;
    private final List<BatchError> errors = new ArrayList<>();
    /** Lines per model asked for, for a dry run (null: a batch's validation, which keeps the valid lines instead). */
    private final Map<String, Integer> models;
    private List<LineValidator.Line> out;
    private int requests;
    private boolean tooMany;

    /** A batch's validation: the valid lines are handed out for insertion. */
    public Validation(String endpoint, int maxLines, int maxLineBytes, int maxErrors) {
        this(endpoint, maxLines, maxLineBytes, maxErrors, false);
    }

    private Validation(String endpoint, int maxLines, int maxLineBytes, int maxErrors, boolean dryRun) {
        this.validator = new LineValidator(endpoint);
        this.scanner = new LineScanner(maxLineBytes);
        this.maxLines = maxLines;
        this.maxLineBytes = maxLineBytes;
        this.maxErrors = maxErrors;
        this.models = dryRun ? new LinkedHashMap<>() : null;
    }

    /** A batch's validation under the configured limits. */
    public static Validation of(String endpoint, LimitsConfig limits) {
        return new Validation(endpoint, limits.maxBatchLines(), limits.maxLineBytes(), limits.maxReportedErrors(), false);
    }

    /** A dry run under the same limits: nothing is kept of the lines but the count of each model they ask for. */
    public static Validation dryRun(String endpoint, LimitsConfig limits) {
        return new Validation(endpoint, limits.maxBatchLines(), limits.maxLineBytes(), limits.maxReportedErrors(), true);
    }

    /**
     * The limits part of a file's line index key ({@code files.line_index}, written at upload by
     * {@code FileIngest}): an index serves a batch validated under the same limits.
     */
    public static String indexKey(int maxLineBytes, int maxLines, int maxErrors) {
        return "v1 " + maxLineBytes + " " + maxLines + " " + maxErrors;
    }

    /**
     * What is wrong with the input file before a line is read: it is gone ({@code bytes} null), or
     * larger than the limit. Empty when neither.
     */
    public static List<BatchError> fileErrors(String fileId, Long bytes, LimitsConfig limits) {
        if (bytes == null) {
            return List.of(new BatchError("file_not_found", "The input file " + fileId + " no longer exists.", "input_file_id", null));
        }
        if (bytes > limits.maxBatchFileBytes()) {
            return List.of(new BatchError("file_too_large", "The input file is " + bytes + " bytes; the limit is "
                    + limits.maxBatchFileBytes() + " bytes (openbatch.limits.max-batch-file-bytes).", "input_file_id", null));
        }
        return List.of();
    }

    /** The verdict on a file read to its end: its errors, the model its lines ask for, and the upstream that serves it. */
    public record Verdict(List<BatchError> errors, String model, String upstream) {
    }

    /**
     * After {@link #finish}: the lines' errors, or else those of the batch as a whole (the job is
     * for another model; no upstream serves the model), and the upstream that would serve it.
     */
    public Verdict verdict(String jobModel, Upstreams upstreams) {
        List<BatchError> all = new ArrayList<>(errors);
        String model = validator.model();
        String upstream = null;
        if (all.isEmpty()) {
            if (jobModel != null && !jobModel.equals(model)) {
                all.add(new BatchError("mismatched_model", "The batch's job is for model \"" + jobModel + "\" but the lines ask for \""
                        + model + "\".", "body.model", 1));
            } else {
                upstream = upstreams.forModel(model).map(Upstream::name).orElse(null);
                if (upstream == null) {
                    all.add(new BatchError("model_not_found", "No upstream serves model \"" + model + "\". Configured models: "
                            + String.join(", ", upstreams.models()) + ".", "body.model", 1));
                }
            }
        }
        return new Verdict(all, model, upstream);
    }

    /** For a dry run: request lines per model they ask for (in the order first seen, up to {@link #MAX_MODELS} models). */
    public Map<String, Integer> models() { return models; }

    public List<BatchError> errors() { return errors; }

    public int requests() { return requests; }

    public String model() { return validator.model(); }

    /** Bytes copied to join lines that spanned chunks (at most the file's size). */
    public long copiedBytes() { return scanner.copiedBytes(); }

    /** True once reading on would not change the verdict (enough errors to report). */
    public boolean done() {
        return errors.size() >= maxErrors || tooMany;
    }

    /** Reads one more chunk; returns the valid lines it completed. */
    public List<LineValidator.Line> feed(Buffer chunk) {
        out = new ArrayList<>();
        if (!done()) {
            scanner.feed(chunk.getBytes(), this);
        }
        return out;
    }

    /** The last line, when the file does not end with a line break. */
    public List<LineValidator.Line> finish() {
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
    public void indexed(int number, String customId, String url, String model, BatchError error, boolean late) {
        if (done() || !counted(number)) {
            return;
        }
        BatchError e = validator.judge(number, customId, url, model, late ? null : error, late ? error : null);
        if (e != null) {
            errors.add(e);
        }
    }

    /**
     * The whole index at once, when its summary says its {@code lines} (at most the limit, at
     * least one) are requests with nothing wrong: no error of their own, the batch's url, one
     * {@code model}, custom_ids all different. The same verdict as reading each with
     * {@link #indexed}, which an index with anything wrong still needs (its errors name lines).
     */
    public void indexedClean(int lines, String model) {
        if (lines < 1 || lines > maxLines || requests > 0 || !errors.isEmpty()) {
            throw new IllegalStateException("not a clean index of a fresh validation: " + lines + " lines");
        }
        requests = lines;
        validator.allAsked(model);
    }

    /** The index was read to its end: an empty file is an error. */
    public void endIndexed() {
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
            } else if (models == null) {
                out.add(r.line());
            }
            String m = validator.lineModel();
            if (models != null && m != null && (models.containsKey(m) || models.size() < MAX_MODELS)) {
                models.merge(m, 1, Integer::sum);
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
