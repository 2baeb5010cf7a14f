package dev.openbatch.jobs;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.openbatch.api.ApiException;

/** {@code 24h}, {@code unlimited} or {@code <n>m|h|d}: how long a batch may take. */
public final class CompletionWindow {
    public static final String UNLIMITED = "unlimited";
    private static final Pattern FORMAT = Pattern.compile("^([1-9][0-9]{0,6})([mhd])$");
    /** Ten years: anything longer is a typo, not a deadline. */
    private static final long MAX_SECONDS = 10L * 365 * 86400;

    private CompletionWindow() {
    }

    /** Seconds the window lasts, or null for {@code unlimited}; a bad value is a 400 naming {@code param}. */
    public static Long seconds(String window, String param) {
        if (UNLIMITED.equals(window)) {
            return null;
        }
        Matcher m = window == null ? null : FORMAT.matcher(window);
        if (m == null || !m.matches()) {
            throw ApiException.invalid("Invalid '" + param + "': '" + ApiException.clip(window)
                    + "'. Use '24h', 'unlimited', or a whole number followed by m, h or d (for example '30m', '2d').",
                    param, "invalid_value");
        }
        long n = Long.parseLong(m.group(1));
        long s = switch (m.group(2)) {
            case "m" -> n * 60;
            case "h" -> n * 3600;
            default -> n * 86400;
        };
        if (s > MAX_SECONDS) {
            throw ApiException.invalid("Invalid '" + param + "': at most 10 years, or 'unlimited'.", param, "invalid_value");
        }
        return s;
    }
}
