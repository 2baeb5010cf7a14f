package dev.openbatch.api;

/** Query parameters arrive as text, so a bad value gets our envelope naming the parameter. */
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
}
