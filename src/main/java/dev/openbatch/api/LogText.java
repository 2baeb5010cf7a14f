package dev.openbatch.api;

/**
 * Client-supplied text (a model name, an id, a key) as it may appear in a plain-text log line:
 * control characters (line breaks above all) and Unicode line separators are escaped, so that no
 * value can end the line it is in and forge another; long values are clipped.
 */
public final class LogText {
    static final int MAX = 200;

    private LogText() {
    }

    public static String of(String s) {
        return of(s, MAX);
    }

    /** The same, clipped at {@code max} characters (exception messages and answers the operator needs whole). */
    public static String of(String s, int max) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), max) + 8);
        int i = 0;
        for (; i < s.length() && b.length() < max; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || c == '\u0085') {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        // clipped when the escapes grew it past max, even if the value itself is shorter than max
        if (b.length() > max || i < s.length()) {
            b.setLength(max);
            b.append("...");
        }
        return b.toString();
    }
}
