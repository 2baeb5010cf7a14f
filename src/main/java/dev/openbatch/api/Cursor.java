package dev.openbatch.api;

import io.quarkus.panache.common.Parameters;

/**
 * Keyset pagination over (createdUs, id), the order every list of the API uses: the clause that
 * continues after an object and the matching order by. One home for files, batches and jobs.
 */
public final class Cursor {
    private Cursor() {
    }

    /** {@code where} (with {@code :us}/{@code :id} added to {@code params}) plus the order, for rows after the cursor. */
    public static String after(String where, Parameters params, boolean ascending, Long afterUs, String afterId) {
        StringBuilder q = new StringBuilder(where);
        if (afterId != null) {
            q.append(ascending
                    ? " and (createdUs > :us or (createdUs = :us and id > :id))"
                    : " and (createdUs < :us or (createdUs = :us and id < :id))");
            params.and("us", afterUs).and("id", afterId);
        }
        return q.append(ascending ? " order by createdUs asc, id asc" : " order by createdUs desc, id desc").toString();
    }
}
