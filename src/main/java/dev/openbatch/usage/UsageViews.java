package dev.openbatch.usage;

import java.math.BigDecimal;
import java.util.List;

import io.quarkus.runtime.annotations.RegisterForReflection;

/** The shapes of OpenAI's usage and costs API, as openbatch answers them. */
public final class UsageViews {
    private UsageViews() {
    }

    /** {@code {"object":"page","data":[buckets],"has_more","next_page"}}. */
    @RegisterForReflection
    public record Page<T>(String object, List<Bucket<T>> data, boolean has_more, String next_page) {
        static <T> Page<T> of(List<Bucket<T>> data, String nextPage) {
            return new Page<>("page", data, nextPage != null, nextPage);
        }
    }

    /** One time bucket: {@code [start_time, end_time)} in unix seconds, and its results. */
    @RegisterForReflection
    public record Bucket<T>(String object, long start_time, long end_time, List<T> results) {
        static <T> Bucket<T> of(long start, long end, List<T> results) {
            return new Bucket<>("bucket", start, end, results);
        }
    }

    /**
     * What one bucket counted, for one project and model when grouped by them (null otherwise):
     * {@code num_model_requests} are the lines settled (succeeded + failed), {@code lines_failed}
     * every line that settled without a success (failed, expired, cancelled).
     */
    @RegisterForReflection
    public record BatchUsage(String object, String project_id, String model, long num_model_requests, long lines_succeeded,
            long lines_failed, long input_tokens, long output_tokens) {
        static final String OBJECT = "organization.usage.batches.result";
    }

    /** What one bucket cost, for one project and one line item (a model) when grouped by them. */
    @RegisterForReflection
    public record Cost(String object, Amount amount, String line_item, String project_id) {
        static final String OBJECT = "organization.costs.result";
    }

    /** An amount of money. */
    @RegisterForReflection
    public record Amount(BigDecimal value, String currency) {
    }
}
