package dev.openbatch.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Map;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

/** One gauge out of a Prometheus text page: what counts, what is skipped. */
class PrometheusTextTest {
    private static final String VLLM = """
            # HELP vllm:num_requests_running Number of requests in model execution batches.
            # TYPE vllm:num_requests_running gauge
            vllm:num_requests_running{engine="0",model_name="llama"} 12.0
            # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
            # TYPE vllm:num_requests_waiting gauge
            vllm:num_requests_waiting{engine="0",model_name="llama"} 3.0
            vllm:num_requests_waiting{engine="1",model_name="llama"} 2.0
            vllm:num_requests_waiting{engine="0",model_name="qwen"} 7.0
            vllm:num_requests_waiting_by_reason{reason="capacity"} 100.0

            # a comment of no kind
            sglang:num_queue_reqs{model_name="llama",tp_rank="0"} 4
            """;

    private static OptionalLong sum(String text, String metric, String model) {
        return PrometheusText.sum(text, metric, model);
    }

    @Test
    void sumsOverLabelSetsOrOneModel() {
        assertEquals(OptionalLong.of(12), sum(VLLM, "vllm:num_requests_waiting", null), "every engine and model; not a longer name");
        assertEquals(OptionalLong.of(5), sum(VLLM, "vllm:num_requests_waiting", "llama"));
        assertEquals(OptionalLong.of(7), sum(VLLM, "vllm:num_requests_waiting", "qwen"));
        assertEquals(OptionalLong.of(4), sum(VLLM, "sglang:num_queue_reqs", null));
    }

    @Test
    void aMissingMetricOrModelIsEmpty() {
        assertEquals(OptionalLong.empty(), sum(VLLM, "vllm:num_requests_swapped", null));
        assertEquals(OptionalLong.empty(), sum(VLLM, "vllm:num_requests_waiting", "mistral"));
        assertEquals(OptionalLong.empty(), sum("", "x", null));
        assertEquals(OptionalLong.empty(), sum("# HELP x a gauge\n# TYPE x gauge\n", "x", null), "described but no sample");
        assertEquals(OptionalLong.empty(), sum("vllm:num_requests_waiting", "vllm:num_requests_waiting", null), "no value");
    }

    @Test
    void labelValuesWithEscapes() {
        String text = "q{model_name=\"a \\\"quoted\\\" \\\\ name\\n\",x=\"}{,=\"} 3\nq{model_name=\"b\"} 1\n";
        assertEquals(OptionalLong.of(3), sum(text, "q", "a \"quoted\" \\ name\n"));
        assertEquals(OptionalLong.of(4), sum(text, "q", null));
        String trailing = "q{model_name=\"b\",} 1";
        assertEquals(Map.of("model_name", "b"), PrometheusText.sample(trailing, 0, trailing.length()).labels(), "a trailing comma");
    }

    @Test
    void numbers() {
        assertEquals(OptionalLong.of(15), sum("w 1.5e+01\n", "w", null));
        assertEquals(OptionalLong.of(2), sum("w 1.2E0 1712345678000\n", "w", null), "a fraction rounds up; a timestamp is ignored");
        assertEquals(OptionalLong.of(3), sum("w{a=\"1\"} NaN\nw{a=\"2\"} 3\n", "w", null), "NaN is left out");
        assertEquals(OptionalLong.empty(), sum("w NaN\n", "w", null), "only NaN: nothing known");
        assertEquals(OptionalLong.of(Long.MAX_VALUE), sum("w{a=\"1\"} +Inf\nw{a=\"2\"} 3\n", "w", null));
        assertEquals(OptionalLong.of(2), sum("w{a=\"1\"} -Inf\nw{a=\"2\"} -4\nw{a=\"3\"} 2\n", "w", null), "negative counts as 0");
        assertEquals(OptionalLong.of(0), sum("w 0\n", "w", null));
        assertEquals(OptionalLong.of(1), sum("w 1d\nw 0x10\nw one\nw 1\n", "w", null), "Java's extras and words are not numbers");
    }

    @Test
    void oddLinesAndLayouts() {
        String text = "  w{a=\"1\"}\t2\r\nw {a=\"2\"} 1\r\n{\"w\",a=\"3\"} 4\n{a=\"4\"} 9\nw{a=\"5\" 7\nw{a=5} 8\n# EOF\n";
        assertEquals(OptionalLong.of(7), sum(text, "w", null), "CRLF, tabs, a space before the labels, a quoted name; broken lines skipped");
        assertEquals(OptionalLong.of(4), sum("{\"my.metric\", model_name=\"m\"} 4\n", "my.metric", "m"));
        assertNull(PrometheusText.sample("# TYPE w gauge", 0, 14));
    }
}
