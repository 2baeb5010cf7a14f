package dev.openbatch.api;

/** Values from clients arrive as text, so a bad value gets our envelope naming the parameter. */
public final class Params {
    private Params() {
    }

    public static Integer integer(String name, String value) {
        if (value == null || value.isEmpty()) {
            return null;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw ApiException.invalid("Invalid '" + name + "': expected an integer, got '" + ApiException.clip(value) + "'.", name, "invalid_type");
        }
    }

    /**
     * PostgreSQL text cannot hold a NUL character: a client value with one is refused, naming its
     * parameter, before it reaches a statement (where it would be a server error).
     */
    public static String text(String name, String value) {
        if (value != null && value.indexOf('\0') >= 0) {
            throw ApiException.invalid("Invalid '" + name + "': must not contain NUL characters.", name, "invalid_value");
        }
        return value;
    }
}
