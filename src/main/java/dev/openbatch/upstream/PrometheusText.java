package dev.openbatch.upstream;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Reads one gauge out of a Prometheus text exposition (what an inference server's {@code /metrics}
 * answers: the text format 0.0.4, or OpenMetrics text), for {@link QueueGauge}. Plain parsing,
 * no I/O. Comments ({@code # HELP}, {@code # TYPE}, {@code # EOF}, any other {@code #} line) and
 * blank lines are skipped; a sample is {@code name{label="value",...} value [timestamp]}, where the
 * name may hold colons ({@code vllm:num_requests_waiting}) or, as Prometheus 3 writes names that
 * are not plain, be a quoted string inside the braces ({@code {"my.metric",model_name="m"} 1});
 * label values may hold escaped quotes, backslashes and newlines. A line that does not parse is
 * skipped, not fatal: one odd line elsewhere in the page does not hide the queue.
 */
public final class PrometheusText {
    private PrometheusText() {
    }

    /**
     * The sum of {@code metric}'s samples over every label set, or only those whose
     * {@code model_name} label is {@code modelName} when that is given; rounded up to a whole
     * count. NaN samples are left out and a negative one counts as 0; {@code +Inf} makes the sum
     * {@link Long#MAX_VALUE}. Empty when no sample of that metric (and model) has a number.
     */
    public static OptionalLong sum(CharSequence text, String metric, String modelName) {
        double sum = 0;
        boolean found = false;
        int n = text.length();
        int start = 0;
        while (start < n) {
            int end = start;
            while (end < n && text.charAt(end) != '\n') {
                end++;
            }
            Sample s = sample(text, start, end);
            start = end + 1;
            if (s == null || !s.name.equals(metric) || Double.isNaN(s.value)) {
                continue;
            }
            if (modelName != null && !modelName.equals(s.labels.get("model_name"))) {
                continue;
            }
            found = true;
            sum += Math.max(0, s.value);
        }
        if (!found) {
            return OptionalLong.empty();
        }
        double up = Math.ceil(sum);
        return OptionalLong.of(up >= (double) Long.MAX_VALUE ? Long.MAX_VALUE : (long) up);
    }

    /** One sample line. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    /** The sample on {@code text[from, to)}, or null for a comment, a blank or a line that does not parse. */
    static Sample sample(CharSequence text, int from, int to) {
        Cursor c = new Cursor(text, from, to);
        c.spaces();
        if (c.done() || c.peek() == '#') {
            return null;
        }
        String name = null;
        if (c.peek() != '{') {
            name = c.bareName();
            if (name.isEmpty()) {
                return null;
            }
        }
        Map<String, String> labels = new HashMap<>();
        c.spaces();
        if (!c.done() && c.peek() == '{') {
            c.next();
            while (true) {
                c.spaces();
                if (c.done()) {
                    return null;
                }
                if (c.peek() == '}') {
                    c.next();
                    break;
                }
                String key = c.peek() == '"' ? c.quoted() : c.bareName();
                if (key == null || key.isEmpty()) {
                    return null;
                }
                c.spaces();
                if (!c.done() && c.peek() == '=') {
                    c.next();
                    c.spaces();
                    if (c.done() || c.peek() != '"') {
                        return null;
                    }
                    String value = c.quoted();
                    if (value == null) {
                        return null;
                    }
                    labels.put(key, value);
                } else if (name == null) {
                    name = key; // {"quoted.name", ...}
                } else {
                    return null;
                }
                c.spaces();
                if (!c.done() && c.peek() == ',') {
                    c.next();
                }
            }
        }
        if (name == null) {
            return null;
        }
        c.spaces();
        String value = c.token();
        if (value.isEmpty()) {
            return null;
        }
        double v = number(value);
        if (v == NOT_A_NUMBER_TOKEN) {
            return null;
        }
        return new Sample(name, labels, v);
    }

    private static final double NOT_A_NUMBER_TOKEN = -Double.MAX_VALUE;

    /** A Prometheus value: a float in Go's syntax, {@code NaN}, {@code +Inf}, {@code -Inf}. */
    static double number(String s) {
        switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "nan":
                return Double.NaN;
            case "+inf", "inf", "+infinity", "infinity":
                return Double.POSITIVE_INFINITY;
            case "-inf", "-infinity":
                return Double.NEGATIVE_INFINITY;
            default:
                break;
        }
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (!(ch >= '0' && ch <= '9' || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' || ch == '-' || ch == '_')) {
                return NOT_A_NUMBER_TOKEN; // Java would also take hex floats and a trailing d or f
            }
        }
        try {
            return Double.parseDouble(s.replace("_", ""));
        } catch (NumberFormatException e) {
            return NOT_A_NUMBER_TOKEN;
        }
    }

    /** A position in one line. */
    private static final class Cursor {
        private final CharSequence text;
        private final int end;
        private int at;

        Cursor(CharSequence text, int from, int to) {
            this.text = text;
            this.at = from;
            this.end = to > from && text.charAt(to - 1) == '\r' ? to - 1 : to;
        }

        boolean done() {
            return at >= end;
        }

        char peek() {
            return text.charAt(at);
        }

        void next() {
            at++;
        }

        void spaces() {
            while (at < end && (text.charAt(at) == ' ' || text.charAt(at) == '\t')) {
                at++;
            }
        }

        /** A name as the text format writes it: letters, digits, underscores and colons. */
        String bareName() {
            int from = at;
            while (at < end) {
                char ch = text.charAt(at);
                if (!(Character.isLetterOrDigit(ch) || ch == '_' || ch == ':')) {
                    break;
                }
                at++;
            }
            return text.subSequence(from, at).toString();
        }

        /** Everything up to the next space. */
        String token() {
            int from = at;
            while (at < end && text.charAt(at) != ' ' && text.charAt(at) != '\t') {
                at++;
            }
            return text.subSequence(from, at).toString();
        }

        /** A double-quoted string with {@code \\}, {@code \"} and {@code \n} escapes; null if it does not close. */
        String quoted() {
            at++; // the opening quote
            StringBuilder sb = new StringBuilder();
            while (at < end) {
                char ch = text.charAt(at++);
                if (ch == '"') {
                    return sb.toString();
                }
                if (ch == '\\' && at < end) {
                    char e = text.charAt(at++);
                    sb.append(e == 'n' ? '\n' : e);
                } else {
                    sb.append(ch);
                }
            }
            return null;
        }
    }
}
