package dev.openbatch.files;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import dev.openbatch.validation.BatchError;
import dev.openbatch.store.FileStore;
import dev.openbatch.validation.LineScanner;
import dev.openbatch.validation.LineValidator;
import dev.openbatch.validation.Validation;

/**
 * An uploaded file's bytes on their way into the database, looked at once. They are cut into
 * chunks of at most {@link FileStore#CHUNK} bytes; in a batch file each chunk ends at a line break
 * when it holds one, so that a line no longer than a chunk lies whole in one chunk. Each line of a
 * batch file is read once, as it passes, for the rules that hold whatever batch it will serve
 * ({@link LineValidator#parse}), and recorded with where its body lies: one {@link Line} per line
 * that is not blank, the file's line index. Creating a batch from the file then reads the index
 * only, and PostgreSQL copies the bodies out of the chunks (see {@code engine/Lifecycle}).
 * <p>
 * The index ends early once the verdict on any batch is sealed: after one line more than
 * {@code maxLines} request lines (that one is too many), or once {@code maxErrors} lines have an
 * error of their own (validation stops there). Lines over {@code maxLineBytes} are recorded as
 * {@code line_too_long} and never held. Plain code; not thread-safe. Holds one chunk, and the
 * pieces of one line while it is shorter than {@code maxLineBytes}.
 */
public final class FileIngest implements LineScanner.Sink {
    /**
     * One line of the index. {@code seq} and {@code lastSeq} are the chunks where the body starts
     * and ends (the same unless the line is longer than a chunk), {@code bodyAt} the body's offset
     * in chunk {@code seq} and {@code bodyLength} its length in bytes (-1 and 0 without a body).
     * The error, when the line has one of its own, is checked before the url ({@code late} false)
     * or after it.
     */
    public record Line(int line, int seq, int lastSeq, int bodyAt, int bodyLength, String customId, String url, String model,
            BatchError error, boolean late) {
        /** The line as the store writes it into the index. */
        FileStore.IndexLine stored() {
            return new FileStore.IndexLine(line, seq, lastSeq, bodyAt, bodyLength, customId, url, model,
                    error == null ? null : error.code(), error == null ? null : error.message(), error == null ? null : error.param(), late);
        }
    }

    /**
     * The next chunk to store, with the index lines that end in it. The last one {@link #finish}
     * hands out may have no bytes ({@code data} null): the file's last line had no line break and
     * ended with the chunk before.
     */
    public record Chunk(int seq, byte[] data, List<Line> lines) {
    }

    /** Chunks as the store writes them, with their index lines. */
    public static List<FileStore.NewChunk> stored(List<Chunk> chunks) {
        List<FileStore.NewChunk> out = new ArrayList<>(chunks.size());
        for (Chunk c : chunks) {
            List<FileStore.IndexLine> lines = new ArrayList<>(c.lines().size());
            for (Line l : c.lines()) {
                lines.add(l.stored());
            }
            out.add(new FileStore.NewChunk(c.seq(), c.data(), lines));
        }
        return out;
    }

    private final boolean index;
    private final int chunkSize;
    private final int maxLines;
    private final int maxErrors;
    private final int maxLineBytes;
    /** Null when the file is not indexed (not a batch file), or no longer (the index ended). */
    private LineScanner scanner;
    private byte[] buf;
    private int fill;
    private int seq;
    private long bytes;
    /** Where each chunk handed out starts in the file, and the bytes they hold in all. */
    private long[] starts = new long[64];
    private long emitted;
    private int requests;
    private int errors;
    private boolean complete = true;
    /** The chunk being read for lines, and the lines that end in it. */
    private int readingSeq;
    private List<Line> lines;

    /**
     * @param index whether to index the lines (a batch file)
     * @param chunkSize largest chunk ({@link FileStore#CHUNK}; smaller in tests)
     */
    public FileIngest(boolean index, int chunkSize, int maxLineBytes, int maxLines, int maxErrors) {
        this.index = index;
        this.chunkSize = chunkSize;
        this.maxLineBytes = maxLineBytes;
        this.maxLines = maxLines;
        this.maxErrors = maxErrors;
        this.scanner = index ? new LineScanner(maxLineBytes) : null;
        this.buf = new byte[chunkSize];
    }

    /** The bytes taken so far. */
    public long bytes() { return bytes; }

    /**
     * What the index holds, for {@code files.line_index}: null without one; else the limits it
     * was made under ({@link #key}) and whether it holds every line ({@code complete}) or ends
     * early ({@code stopped}). A batch uses the index only under the same limits.
     */
    public String indexKey() {
        return index ? key(maxLineBytes, maxLines, maxErrors) + (complete ? " complete" : " stopped") : null;
    }

    /** The index key's limits part: an index serves a batch validated under the same limits. */
    public static String key(int maxLineBytes, int maxLines, int maxErrors) {
        return Validation.indexKey(maxLineBytes, maxLines, maxErrors);
    }

    /** Takes the next bytes of the file; returns the chunks they completed, in order. */
    public List<Chunk> feed(byte[] b, int off, int len) {
        List<Chunk> out = new ArrayList<>(2);
        bytes += len;
        while (len > 0) {
            int n = Math.min(len, chunkSize - fill);
            System.arraycopy(b, off, buf, fill, n);
            fill += n;
            off += n;
            len -= n;
            if (fill == chunkSize) {
                out.add(cut());
            }
        }
        return out;
    }

    /** The file ended: the last chunk, if any bytes are left, with the last lines. */
    public List<Chunk> finish() {
        List<Chunk> out = new ArrayList<>(1);
        if (fill > 0) {
            out.add(emit(Arrays.copyOf(buf, fill)));
            fill = 0;
        }
        buf = null;
        if (scanner != null) {
            List<Line> last = new ArrayList<>(1);
            lines = last;
            readingSeq = seq - 1;
            scanner.finish(this);
            scanner = null;
            if (!last.isEmpty()) {
                if (out.isEmpty()) {
                    out.add(new Chunk(seq - 1, null, last));
                } else {
                    out.get(0).lines().addAll(last);
                }
            }
        }
        return out;
    }

    /** A full buffer becomes a chunk: up to its last line break while lines are indexed, else whole. */
    private Chunk cut() {
        int end = chunkSize;
        if (scanner != null) {
            int at = lastLineBreak(buf, chunkSize);
            if (at >= 0) {
                end = at + 1;
            }
        }
        byte[] data;
        if (end == chunkSize) {
            data = buf;
            buf = new byte[chunkSize];
            fill = 0;
        } else {
            data = Arrays.copyOf(buf, end);
            fill = chunkSize - end;
            System.arraycopy(buf, end, buf, 0, fill);
        }
        return emit(data);
    }

    private static int lastLineBreak(byte[] b, int length) {
        for (int i = length - 1; i >= 0; i--) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    private Chunk emit(byte[] data) {
        if (seq == starts.length) {
            starts = Arrays.copyOf(starts, seq * 2);
        }
        starts[seq] = emitted;
        emitted += data.length;
        List<Line> found = new ArrayList<>();
        if (scanner != null) {
            readingSeq = seq;
            lines = found;
            scanner.feed(data, this);
        }
        return new Chunk(seq++, data, found);
    }

    /** The chunk that holds the file's byte at {@code offset} (the one being read, or one before it). */
    private int chunkAt(long offset) {
        int i = Arrays.binarySearch(starts, 0, readingSeq + 1, offset);
        return i >= 0 ? i : -i - 2;
    }

    @Override
    public boolean line(byte[] b, int from, int to, int number) {
        if (LineValidator.blank(b, from, to)) {
            return true;
        }
        if (++requests > maxLines) {
            // one too many: the batch fails naming it, whatever else it holds
            return record(new Line(number, readingSeq, readingSeq, -1, 0, null, null, null, null, false), false);
        }
        LineValidator.Parsed p = LineValidator.parse(b, from, to, number);
        BatchError error = p.early() != null ? p.early() : p.late();
        if (error != null) {
            errors++;
            return record(new Line(number, readingSeq, readingSeq, -1, 0, null, p.url(), null, error, p.early() == null), errors < maxErrors);
        }
        long body = scanner.lineStart() + (p.bodyFrom() - from);
        int length = p.bodyTo() - p.bodyFrom();
        int first = chunkAt(body);
        int last = chunkAt(body + length - 1);
        return record(new Line(number, first, last, (int) (body - starts[first]), length, p.customId(), p.url(), p.model(), null, false), true);
    }

    @Override
    public boolean tooLong(int number, long length) {
        if (++requests > maxLines) {
            return record(new Line(number, readingSeq, readingSeq, -1, 0, null, null, null, null, false), false);
        }
        errors++;
        BatchError error = new BatchError("line_too_long", "Line " + number + " is " + length + " bytes long; the limit is " + maxLineBytes
                + " bytes (openbatch.limits.max-line-bytes).", null, number);
        return record(new Line(number, readingSeq, readingSeq, -1, 0, null, null, null, error, false), errors < maxErrors);
    }

    /** Adds the line to the index; when the index ends with it, the bytes after it are only stored. */
    private boolean record(Line line, boolean more) {
        lines.add(line);
        if (!more) {
            complete = false;
            scanner = null; // the scanner stops at once: the sink said no more
        }
        return more;
    }
}
