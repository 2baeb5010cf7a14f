package dev.openbatch.api;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.util.List;
import java.util.function.Function;

/** The OpenAI list shape: {@code {"object":"list","data","first_id","last_id","has_more"}}. */
@RegisterForReflection
public record ListPage<T>(String object, List<T> data, String first_id, String last_id, boolean has_more) {

    /**
     * Builds a page from up to {@code limit + 1} rows: the extra row only tells that more exist.
     */
    public static <T> ListPage<T> of(List<T> rows, int limit, Function<T, String> id) {
        boolean more = rows.size() > limit;
        List<T> data = more ? rows.subList(0, limit) : rows;
        return new ListPage<>("list", data,
                data.isEmpty() ? null : id.apply(data.get(0)),
                data.isEmpty() ? null : id.apply(data.get(data.size() - 1)),
                more);
    }
}
