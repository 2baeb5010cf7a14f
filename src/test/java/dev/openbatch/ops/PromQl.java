package dev.openbatch.ops;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Just enough of PromQL to say which metrics an expression reads: its vector selectors (metric
 * names and the label names they match on) and the labels it groups by. String literals, range
 * selectors, numbers, durations, functions and keywords are skipped.
 */
final class PromQl {
    /** A metric an expression selects, with the label names of its matchers. */
    record Selector(String metric, Set<String> labels) {
    }

    /** What an expression reads. */
    record Parsed(List<Selector> selectors, Set<String> grouping) {
    }

    /** Functions and aggregation operators: a name followed by '(' is one of these, and some may also precede 'by'. */
    private static final Set<String> AGGREGATIONS = Set.of("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
            "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio");
    private static final Set<String> GROUPING = Set.of("by", "without", "on", "ignoring", "group_left", "group_right");
    private static final Set<String> KEYWORDS = Set.of("bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end");
    private static final Pattern MATCHER = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)\\s*(=~|!~|!=|=)");
    private static final Pattern LABEL = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private PromQl() {
    }

    static Parsed parse(String expr) {
        List<Selector> selectors = new ArrayList<>();
        Set<String> grouping = new LinkedHashSet<>();
        int i = 0;
        int n = expr.length();
        while (i < n) {
            char c = expr.charAt(i);
            if (c == '"' || c == '\'' || c == '`') {
                i = skipString(expr, i);
            } else if (c == '[') {
                i = closing(expr, i, '[', ']');
            } else if (c == '{') {
                throw new IllegalArgumentException("a label matcher without a metric name at " + i + ": " + expr);
            } else if (Character.isDigit(c) || (c == '.' && i + 1 < n && Character.isDigit(expr.charAt(i + 1)))) {
                while (i < n && (Character.isLetterOrDigit(expr.charAt(i)) || expr.charAt(i) == '.'
                        || ((expr.charAt(i) == '+' || expr.charAt(i) == '-') && (expr.charAt(i - 1) == 'e' || expr.charAt(i - 1) == 'E')))) {
                    i++;
                }
            } else if (Character.isLetter(c) || c == '_' || c == ':') {
                int start = i;
                while (i < n && (Character.isLetterOrDigit(expr.charAt(i)) || expr.charAt(i) == '_' || expr.charAt(i) == ':')) {
                    i++;
                }
                String name = expr.substring(start, i);
                int next = skipSpace(expr, i);
                if (GROUPING.contains(name)) {
                    if (next < n && expr.charAt(next) == '(') {
                        int end = closing(expr, next, '(', ')');
                        Matcher m = LABEL.matcher(expr.substring(next + 1, end - 1));
                        while (m.find()) {
                            grouping.add(m.group());
                        }
                        i = end;
                    }
                } else if (next < n && expr.charAt(next) == '(' || AGGREGATIONS.contains(name) || KEYWORDS.contains(name)) {
                    // a function, an aggregation or a keyword
                } else {
                    Set<String> labels = new LinkedHashSet<>();
                    if (next < n && expr.charAt(next) == '{') {
                        int end = closing(expr, next, '{', '}');
                        Matcher m = MATCHER.matcher(withoutStrings(expr.substring(next + 1, end - 1)));
                        while (m.find()) {
                            labels.add(m.group(1));
                        }
                        i = end;
                    }
                    selectors.add(new Selector(name, labels));
                }
            } else {
                i++;
            }
        }
        return new Parsed(selectors, grouping);
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    private static int skipString(String s, int i) {
        char quote = s.charAt(i);
        int j = i + 1;
        while (j < s.length() && s.charAt(j) != quote) {
            j += s.charAt(j) == '\\' && quote != '`' ? 2 : 1;
        }
        if (j >= s.length()) {
            throw new IllegalArgumentException("an unterminated string: " + s);
        }
        return j + 1;
    }

    /** The index after the bracket that closes the one at {@code i} (strings inside are skipped). */
    private static int closing(String s, int i, char open, char close) {
        int depth = 0;
        int j = i;
        while (j < s.length()) {
            char c = s.charAt(j);
            if (c == '"' || c == '\'' || c == '`') {
                j = skipString(s, j);
                continue;
            }
            if (c == open) {
                depth++;
            } else if (c == close) {
                depth--;
                if (depth == 0) {
                    return j + 1;
                }
            }
            j++;
        }
        throw new IllegalArgumentException("'" + open + "' at " + i + " is not closed: " + s);
    }

    private static String withoutStrings(String s) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '"' || c == '\'' || c == '`') {
                int end = skipString(s, i);
                out.append("\"\"");
                i = end;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }
}
