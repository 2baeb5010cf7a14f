package dev.openbatch.usage;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Params;

/**
 * The query parameters of {@code GET /v1/organization/usage/batches} and {@code GET
 * /v1/organization/costs}, checked, and the page of buckets they ask for. Buckets are UTC hours
 * or days ({@code bucket_width} {@code 1h} or {@code 1d}); {@code start_time} snaps down to the
 * start of its bucket, and {@code end_time} (exclusive; default now) ends the last one. Usage is
 * counted by the hour its lines settled in, so that is the finest resolution. A page holds up to
 * {@code limit} buckets, empty ones too; {@code next_page} is the start of the next bucket.
 *
 * @param from       the first bucket's start (unix seconds)
 * @param to         where this page's rows end: the end of its last bucket, or end_time if sooner
 * @param width      the bucket width in seconds
 * @param buckets    how many buckets this page has
 * @param nextPage   the cursor of the next page, null when this is the last
 */
public record UsageQuery(long from, long to, long width, int buckets, boolean byProject, boolean byModel, List<String> projects,
        List<String> models, String nextPage) {

    static final long HOUR = 3600;
    static final long DAY = 86_400;

    /**
     * Checks and reads the parameters; {@code groupKeys} are the {@code group_by} values allowed,
     * the first naming the project and the second the model (usage) or line item (costs).
     */
    public static UsageQuery parse(String startTime, String endTime, String bucketWidth, List<String> groupBy, List<String> projectIds,
            List<String> models, String limit, String page, long now, List<String> groupKeys) {
        Long start = seconds("start_time", startTime);
        if (start == null) {
            throw ApiException.invalid("Missing required parameter: 'start_time'.", "start_time", "missing_required_parameter");
        }
        Long end = seconds("end_time", endTime);
        long until = end == null ? now : end;
        String w = bucketWidth == null || bucketWidth.isBlank() ? "1d" : bucketWidth.trim();
        long width = switch (w) {
            case "1h" -> HOUR;
            case "1d" -> DAY;
            default -> throw ApiException.invalid("Invalid 'bucket_width': expected '1h' or '1d', got '" + ApiException.clip(w) + "'.",
                    "bucket_width", "invalid_value");
        };
        int max = width == HOUR ? 168 : 31;
        Integer n = Params.integer("limit", limit);
        int perPage = n == null ? (width == HOUR ? 24 : 7) : n;
        if (perPage < 1 || perPage > max) {
            throw ApiException.invalid("Invalid 'limit': with bucket_width " + w + " it must be between 1 and " + max + ".", "limit", "invalid_value");
        }
        List<String> groups = values("group_by", groupBy);
        for (String g : groups) {
            if (!groupKeys.contains(g)) {
                throw ApiException.invalid("Invalid 'group_by': '" + ApiException.clip(g) + "' is not one of " + groupKeys + ".", "group_by",
                        "invalid_value");
            }
        }
        long first = Math.floorDiv(start, width) * width;
        if (page != null && !page.isBlank()) {
            Long p = seconds("page", page);
            if (p == null || p % width != 0 || p < first) {
                throw ApiException.invalid("Invalid 'page': not a page of this query.", "page", "invalid_value");
            }
            first = p;
        }
        long pageEnd = first + perPage * width;
        long buckets = Math.max(0, Math.min(perPage, (until - first + width - 1) / width));
        boolean more = pageEnd < until;
        return new UsageQuery(first, Math.min(pageEnd, Math.max(first, until)), width, (int) buckets, groups.contains(groupKeys.get(0)),
                groups.contains(groupKeys.get(1)), values("project_ids", projectIds), values("models", models),
                more ? Long.toString(pageEnd) : null);
    }

    private static Long seconds(String name, String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            long v = Long.parseLong(value.trim());
            if (v < 0 || v > 253_402_300_799L) { // up to the year 9999
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw ApiException.invalid("Invalid '" + name + "': expected unix seconds, got '" + ApiException.clip(value) + "'.", name,
                    "invalid_value");
        }
    }

    /** A list parameter, repeated ({@code models=a&models=b}) or comma-separated, or with {@code []} after its name. */
    private static List<String> values(String name, List<String> raw) {
        Set<String> out = new LinkedHashSet<>();
        if (raw != null) {
            for (String v : raw) {
                for (String s : Params.text(name, v).split(",")) {
                    if (!s.isBlank()) {
                        out.add(s.trim());
                    }
                }
            }
        }
        return List.copyOf(out);
    }

    /** The start of each bucket of the page. */
    List<Long> bucketStarts() {
        List<Long> out = new ArrayList<>(buckets);
        for (int i = 0; i < buckets; i++) {
            out.add(from + i * width);
        }
        return out;
    }
}
