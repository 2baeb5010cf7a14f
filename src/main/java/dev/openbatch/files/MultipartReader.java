package dev.openbatch.files;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/**
 * A {@code multipart/form-data} body (RFC 7578, RFC 2046) read as it arrives, in pieces of any
 * size: each part's bytes are handed to the {@link Listener} as they come, never gathered. The
 * delimiter ({@code CRLF--boundary}) is looked for only where a CR is, and CRs are found eight
 * bytes at a time. Holds at most a part's headers (up to
 * {@link #MAX_HEADERS} bytes) or the few bytes at the end of a piece that may begin a delimiter.
 * Plain code; not thread-safe.
 */
final class MultipartReader {
    /** A byte array read eight bytes at a time, lowest address first. */
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** Most bytes of one part's header block. */
    static final int MAX_HEADERS = 16 * 1024;

    /** Where a part's content goes. */
    interface Listener {
        /** A part begins: its form name (null if it has none) and filename (null for a plain field). */
        void part(String name, String filename);

        /** The next bytes of the current part, {@code b[from, to)}: only valid during the call. */
        void data(byte[] b, int from, int to);

        /** The current part has ended. */
        void partEnd();
    }

    /** The body does not follow the multipart syntax. */
    static final class MalformedException extends RuntimeException {
        MalformedException(String message) {
            super(message, null, false, false);
        }
    }

    private enum State { BODY, AFTER_DELIMITER, HEADERS, DONE }

    private final Listener listener;
    /** {@code CRLF--boundary}. */
    private final byte[] delimiter;
    private State state = State.BODY;
    private boolean inPart;
    /** Bytes of an earlier piece not yet consumed (a header block, or what may begin a delimiter). */
    private byte[] held = new byte[0];
    private String name;
    private String filename;

    /** A reader of a body whose Content-Type gave {@code boundary}. */
    MultipartReader(String boundary, Listener listener) {
        this.listener = listener;
        this.delimiter = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        // the first delimiter has no line break before it: read the body as if it had one
        held = new byte[] { '\r', '\n' };
    }

    /**
     * The boundary named by a {@code Content-Type} header of {@code multipart/form-data}, or null
     * when the header is of another type or names none (or one RFC 2046 does not allow).
     */
    static String boundary(String contentType) {
        if (contentType == null) {
            return null;
        }
        String[] parts = splitParams(contentType);
        if (!parts[0].trim().toLowerCase(Locale.ROOT).equals("multipart/form-data")) {
            return null;
        }
        for (int i = 1; i < parts.length; i++) {
            String[] kv = param(parts[i]);
            if (kv != null && kv[0].equals("boundary")) {
                String b = kv[1];
                return b.isEmpty() || b.length() > 70 || !b.chars().allMatch(c -> c >= 0x20 && c < 0x7f) ? null : b;
            }
        }
        return null;
    }

    /** True once the closing delimiter was read (what follows it is ignored). */
    boolean complete() { return state == State.DONE; }

    /** Reads the next piece of the body. */
    void feed(byte[] b, int off, int len) {
        byte[] buf;
        int pos;
        int end;
        if (held.length == 0) {
            buf = b;
            pos = off;
            end = off + len;
        } else {
            buf = new byte[held.length + len];
            System.arraycopy(held, 0, buf, 0, held.length);
            System.arraycopy(b, off, buf, held.length, len);
            pos = 0;
            end = buf.length;
        }
        pos = run(buf, pos, end);
        held = pos == end ? new byte[0] : Arrays.copyOfRange(buf, pos, end);
    }

    /** Reads what it can of {@code buf[pos, end)}; returns where the unread bytes start. */
    private int run(byte[] buf, int pos, int end) {
        while (true) {
            switch (state) {
                case BODY -> {
                    int at = search(buf, pos, end);
                    if (at >= 0) {
                        if (inPart) {
                            if (at > pos) {
                                listener.data(buf, pos, at);
                            }
                            listener.partEnd();
                            inPart = false;
                        }
                        pos = at + delimiter.length;
                        state = State.AFTER_DELIMITER;
                    } else {
                        int keep = mayBeginDelimiter(buf, pos, end);
                        if (inPart && end - keep > pos) {
                            listener.data(buf, pos, end - keep);
                        }
                        return end - keep;
                    }
                }
                case AFTER_DELIMITER -> {
                    // "--" closes the message; else optional white space and a line break, then a part's headers
                    int i = pos;
                    while (i < end && (buf[i] == ' ' || buf[i] == '\t')) {
                        i++;
                    }
                    if (end - i < 2) {
                        if (i - pos > 1024) {
                            throw new MalformedException("A multipart delimiter is followed by too much white space.");
                        }
                        return pos;
                    }
                    if (i == pos && buf[i] == '-' && buf[i + 1] == '-') {
                        state = State.DONE;
                        return end;
                    }
                    if (buf[i] != '\r' || buf[i + 1] != '\n') {
                        throw new MalformedException("A multipart delimiter is not followed by a line break.");
                    }
                    pos = i + 2;
                    name = null;
                    filename = null;
                    state = State.HEADERS;
                }
                case HEADERS -> {
                    int eol = lineEnd(buf, pos, end);
                    if (eol < 0) {
                        if (end - pos > MAX_HEADERS) {
                            throw new MalformedException("A part's headers are longer than " + MAX_HEADERS + " bytes.");
                        }
                        return pos;
                    }
                    if (eol == pos) {
                        pos += 2;
                        state = State.BODY;
                        inPart = true;
                        listener.part(name, filename);
                    } else {
                        header(new String(buf, pos, eol - pos, StandardCharsets.UTF_8));
                        pos = eol + 2;
                    }
                }
                case DONE -> {
                    return end;
                }
            }
        }
    }

    /** The body ended: it must have closed the multipart message. */
    void finish() {
        if (state != State.DONE) {
            throw new MalformedException("The multipart body ends before its closing delimiter.");
        }
    }

    /**
     * Where the delimiter first starts in {@code buf[from, to)}, or -1. Every delimiter starts with
     * CR, which a JSONL file holds once a line at most: CRs are found eight bytes at a time, and the
     * delimiter compared only there.
     */
    private int search(byte[] buf, int from, int to) {
        int last = to - delimiter.length;
        for (int i = from; i <= last; i++) {
            i = indexOfCr(buf, i, last + 1);
            if (i < 0) {
                return -1;
            }
            if (Arrays.equals(buf, i, i + delimiter.length, delimiter, 0, delimiter.length)) {
                return i;
            }
        }
        return -1;
    }

    /** The first CR in {@code b[from, to)}, or -1 (the lowest set byte of {@code (x - 0x01…) & ~x & 0x80…} marks the first zero of x). */
    static int indexOfCr(byte[] b, int from, int to) {
        int i = from;
        for (; i + 8 <= to; i += 8) {
            long x = (long) LONGS.get(b, i) ^ 0x0d0d0d0d0d0d0d0dL;
            long found = (x - 0x0101010101010101L) & ~x & 0x8080808080808080L;
            if (found != 0) {
                return i + (Long.numberOfTrailingZeros(found) >>> 3);
            }
        }
        for (; i < to; i++) {
            if (b[i] == '\r') {
                return i;
            }
        }
        return -1;
    }

    /** How many bytes at the end of {@code buf[from, to)} may be the start of a delimiter (and must wait for more). */
    private int mayBeginDelimiter(byte[] buf, int from, int to) {
        for (int k = Math.min(delimiter.length - 1, to - from); k > 0; k--) {
            if (buf[to - k] == '\r' && Arrays.equals(buf, to - k, to, delimiter, 0, k)) {
                return k;
            }
        }
        return 0;
    }

    private static int lineEnd(byte[] buf, int from, int to) {
        for (int i = from; i + 1 < to; i++) {
            if (buf[i] == '\r' && buf[i + 1] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /** One header line of a part: only Content-Disposition matters (its name and filename). */
    private void header(String line) {
        int colon = line.indexOf(':');
        if (colon <= 0) {
            throw new MalformedException("A part's header line has no name.");
        }
        if (!line.substring(0, colon).trim().equalsIgnoreCase("Content-Disposition")) {
            return;
        }
        String[] parts = splitParams(line.substring(colon + 1));
        String plain = null;
        String extended = null;
        for (int i = 1; i < parts.length; i++) {
            String[] kv = param(parts[i]);
            if (kv == null) {
                continue;
            }
            switch (kv[0]) {
                case "name" -> name = kv[1];
                case "filename" -> plain = kv[1];
                case "filename*" -> extended = decodeExtended(kv[1]);
                default -> {
                }
            }
        }
        filename = extended != null ? extended : plain;
    }

    /** A header value split at the semicolons outside quoted strings. */
    private static String[] splitParams(String value) {
        java.util.List<String> out = new java.util.ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (quoted && c == '\\' && i + 1 < value.length()) {
                cur.append(c).append(value.charAt(++i));
                continue;
            }
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == ';' && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out.toArray(String[]::new);
    }

    /** {@code key=value} or {@code key="quoted value"} (key lower-cased, quotes and escapes removed), or null. */
    private static String[] param(String p) {
        int eq = p.indexOf('=');
        if (eq <= 0) {
            return null;
        }
        String key = p.substring(0, eq).trim().toLowerCase(Locale.ROOT);
        String v = p.substring(eq + 1).trim();
        if (v.length() >= 2 && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
            StringBuilder sb = new StringBuilder(v.length());
            for (int i = 1; i < v.length() - 1; i++) {
                char c = v.charAt(i);
                if (c == '\\' && i + 1 < v.length() - 1 && (v.charAt(i + 1) == '"' || v.charAt(i + 1) == '\\')) {
                    c = v.charAt(++i);
                }
                sb.append(c);
            }
            v = sb.toString();
        }
        return new String[] { key, v };
    }

    /** An RFC 8187 value ({@code UTF-8''na%C3%AFve.jsonl}), or null when it is not one this reads. */
    private static String decodeExtended(String v) {
        int q = v.indexOf('\'');
        int q2 = q < 0 ? -1 : v.indexOf('\'', q + 1);
        if (q2 < 0 || !v.substring(0, q).equalsIgnoreCase("UTF-8")) {
            return null;
        }
        String s = v.substring(q2 + 1);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length()) {
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    return null;
                }
                out.write(hi << 4 | lo);
                i += 2;
            } else if (c == '%') {
                return null;
            } else {
                out.write(c);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
