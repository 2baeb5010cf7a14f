package dev.openbatch.validation;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a file that arrives in chunks into lines, in time linear in the file's size whatever the
 * lines' lengths: each chunk's bytes are looked at once, a line inside one chunk is handed out as
 * a slice of it, and a line that spans chunks is kept as references to its pieces and joined once,
 * when its end arrives. A line longer than {@code maxLineBytes} is not kept: the scanner counts
 * its bytes up to its end and reports it as too long, so the lines after it keep their numbers.
 * <p>
 * A line ends at {@code \n} or {@code \r\n}; neither is part of the line nor of its length. The
 * last line needs no line break. Lines are numbered from 1. Plain code; not thread-safe. The
 * scanner keeps the chunk arrays it was given until the line they hold ends: callers must not
 * reuse them.
 */
public final class LineScanner {
    /** A byte array read eight bytes at a time, lowest address first. */
    public static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** Where the lines go; each method returns whether to read on. */
    public interface Sink {
        /** The line {@code number} is {@code buf[from, to)}; the bytes are only valid during the call. */
        boolean line(byte[] buf, int from, int to, int number);

        /** The line {@code number} has {@code bytes} bytes, more than the limit; its bytes were not kept. */
        boolean tooLong(int number, long bytes);
    }

    private record Piece(byte[] buf, int from, int to) {
    }

    private final int maxLineBytes;
    /** The pieces of the line that started in an earlier chunk, while it is not too long. */
    private final List<Piece> pieces = new ArrayList<>();
    /** Bytes of that line so far (counted on once its pieces are dropped). */
    private long carried;
    /** Its last byte so far, to know a {@code \r\n} ending when its {@code \n} starts the next chunk. */
    private byte carriedLast;
    /** True once it was found too long and its pieces were dropped. */
    private boolean dropped;
    private int number;
    private boolean stopped;
    private long copied;
    /** Bytes of the chunks fed before the current one. */
    private long fed;
    /** Where the line that started in an earlier chunk starts, in the file. */
    private long carriedStart;
    /** Where the line being handed out starts, in the file. */
    private long lineStart;

    public LineScanner(int maxLineBytes) {
        this.maxLineBytes = maxLineBytes;
    }

    /**
     * Where the line being handed to the sink starts: its first byte's offset from the first byte
     * fed. Valid during a call of the sink.
     */
    public long lineStart() { return lineStart; }

    /** Bytes copied so far to join lines that spanned chunks: at most the file's size. */
    public long copiedBytes() { return copied; }

    /** Bytes of an unfinished line held for its end: never more than the limit + 1. */
    public long heldBytes() {
        long n = 0;
        for (Piece p : pieces) {
            n += p.to() - p.from();
        }
        return n;
    }

    /** Reads the next chunk, handing each line it completes to the sink (until the sink says stop). */
    public void feed(byte[] chunk, Sink sink) {
        int start = 0;
        for (int i = lineBreak(chunk, 0); i >= 0 && !stopped; i = lineBreak(chunk, i + 1)) {
            end(chunk, start, i, true, sink);
            start = i + 1;
        }
        if (stopped || start == chunk.length) {
            fed += chunk.length;
            return;
        }
        if (carried == 0) {
            carriedStart = fed + start;
        }
        fed += chunk.length;
        carried += chunk.length - start;
        carriedLast = chunk[chunk.length - 1];
        if (!dropped) {
            // one more byte than the limit may still be a \r before the \n that ends the line
            if (carried > (long) maxLineBytes + 1) {
                dropped = true;
                pieces.clear();
            } else {
                pieces.add(new Piece(chunk, start, chunk.length));
            }
        }
    }

    /** The file ended: hands out its last line, when it has no line break. */
    public void finish(Sink sink) {
        if (!stopped && carried > 0) {
            end(new byte[0], 0, 0, false, sink);
        }
        stopped = true;
        pieces.clear();
    }

    /** A line ends in {@code chunk[start, at)}, after the bytes carried from earlier chunks. */
    private void end(byte[] chunk, int start, int at, boolean lineBreak, Sink sink) {
        number++;
        lineStart = carried > 0 ? carriedStart : fed + start;
        long length = carried + (at - start);
        byte last = at > start ? chunk[at - 1] : carriedLast;
        if (lineBreak && length > 0 && last == '\r') {
            length--;
        }
        boolean more;
        if (dropped || length > maxLineBytes) {
            more = sink.tooLong(number, length);
        } else if (carried == 0) {
            more = sink.line(chunk, start, start + (int) length, number);
        } else {
            more = sink.line(join(chunk, start, (int) length), 0, (int) length, number);
        }
        pieces.clear();
        carried = 0;
        dropped = false;
        if (!more) {
            stopped = true;
        }
    }

    /**
     * The first {@code \n} in {@code b} at or after {@code from}, or -1: eight bytes at a time
     * (the lowest byte of {@code (x - 0x01…) & ~x & 0x80…} that is set marks the first zero byte
     * of {@code x}, here of the word XOR {@code \n}), which a plain loop is not on a JVM without
     * its optimizing compiler (as openbatch runs).
     */
    public static int lineBreak(byte[] b, int from) {
        int i = from;
        for (; i + 8 <= b.length; i += 8) {
            long x = (long) LONGS.get(b, i) ^ 0x0a0a0a0a0a0a0a0aL;
            long found = (x - 0x0101010101010101L) & ~x & 0x8080808080808080L;
            if (found != 0) {
                return i + (Long.numberOfTrailingZeros(found) >>> 3);
            }
        }
        for (; i < b.length; i++) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /** The carried pieces and then {@code chunk[start, …)}, {@code length} bytes in all, in one new array. */
    private byte[] join(byte[] chunk, int start, int length) {
        byte[] line = new byte[length];
        int n = 0;
        for (Piece p : pieces) {
            int take = Math.min(p.to() - p.from(), length - n);
            System.arraycopy(p.buf(), p.from(), line, n, take);
            n += take;
        }
        pieces.clear(); // the pieces may go before the line is checked
        System.arraycopy(chunk, start, line, n, length - n);
        copied += length;
        return line;
    }
}
