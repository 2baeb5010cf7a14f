package dev.openbatch.ops;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;

/**
 * {@code k8s/grafana/openbatch.json} is a dashboard Grafana can import (the fields its schema
 * needs, panels on its 24-column grid without overlaps, every query on the dashboard's Prometheus
 * data source variable), and every PromQL expression in it names only metrics this service
 * exports, with labels they have: checked against the running service's own {@code /q/metrics}
 * (management port) after a batch with a retry ran, so that the lazily created series exist too.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class GrafanaDashboardTest {
    static final Path DASHBOARD = Path.of("k8s", "grafana", "openbatch.json");
    /** Labels Prometheus gives every series it scrapes; a metric's own label of the same name is kept as exported_<name>. */
    private static final Set<String> TARGET_LABELS = Set.of("instance", "job");
    private static final Set<String> PANEL_TYPES = Set.of("timeseries", "stat", "row", "gauge", "bargauge", "table", "text");
    private static final Pattern SERIES = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})?\\s");
    private static final Pattern SERIES_LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"");
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{?(\\w+)");
    private static final Pattern LEGEND = Pattern.compile("\\{\\{\\s*(\\w+)\\s*\\}\\}");

    @TestHTTPResource(value = "/", management = true)
    URL management;

    @Test
    void theDashboardHasWhatGrafanaNeedsToImportIt() throws IOException {
        JsonNode d = new ObjectMapper().readTree(DASHBOARD.toFile());
        assertFalse(d.path("title").asText().isBlank());
        String uid = d.path("uid").asText();
        assertTrue(uid.matches("[a-zA-Z0-9_-]{1,40}"), "uid: " + uid);
        int schema = d.path("schemaVersion").asInt();
        assertTrue(schema >= 36 && schema <= 41, "schemaVersion " + schema);
        assertTrue(d.path("id").isNull(), "no id: Grafana gives one on import");
        assertTrue(d.path("time").has("from") && d.path("time").has("to"));

        // the data source is a variable of type datasource for Prometheus, and every query uses it
        Map<String, JsonNode> variables = new HashMap<>();
        for (JsonNode v : d.path("templating").path("list")) {
            variables.put(v.path("name").asText(), v);
        }
        JsonNode ds = variables.get("datasource");
        assertNotNull(ds, "a data source variable");
        assertEquals("datasource", ds.path("type").asText());
        assertEquals("prometheus", ds.path("query").asText());

        JsonNode panels = d.path("panels");
        assertTrue(panels.isArray() && panels.size() > 5);
        Set<Integer> ids = new HashSet<>();
        List<int[]> cells = new ArrayList<>();
        int queries = 0;
        for (JsonNode p : panels) {
            String title = p.path("title").asText();
            assertTrue(p.path("id").isInt() && ids.add(p.path("id").asInt()), "a unique integer id: " + title);
            assertTrue(PANEL_TYPES.contains(p.path("type").asText()), title + ": " + p.path("type"));
            assertFalse(title.isBlank());
            JsonNode g = p.path("gridPos");
            int x = g.path("x").asInt(-1);
            int y = g.path("y").asInt(-1);
            int w = g.path("w").asInt(-1);
            int h = g.path("h").asInt(-1);
            assertTrue(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24, title + ": gridPos " + g);
            for (int[] c : cells) {
                boolean overlap = x < c[0] + c[2] && c[0] < x + w && y < c[1] + c[3] && c[1] < y + h;
                assertFalse(overlap, title + " overlaps another panel");
            }
            cells.add(new int[] { x, y, w, h });
            if ("row".equals(p.path("type").asText())) {
                continue;
            }
            assertEquals("${datasource}", p.path("datasource").path("uid").asText(), title);
            assertEquals("prometheus", p.path("datasource").path("type").asText(), title);
            Set<String> refIds = new HashSet<>();
            assertTrue(p.path("targets").size() > 0, title + " has queries");
            for (JsonNode t : p.path("targets")) {
                assertTrue(refIds.add(t.path("refId").asText()), title + ": unique refIds");
                assertFalse(t.path("expr").asText().isBlank(), title);
                assertEquals("${datasource}", t.path("datasource").path("uid").asText(), title);
                Matcher m = VARIABLE.matcher(t.path("expr").asText());
                while (m.find()) {
                    String name = m.group(1);
                    assertTrue(name.startsWith("__") || variables.containsKey(name), title + " uses an undefined variable $" + name);
                }
                queries++;
            }
        }
        assertTrue(queries >= 10, "queries: " + queries);
    }

    @Test
    void everyQueryNamesMetricsTheServiceExportsWithTheirLabels() throws IOException {
        // a batch with a retry, so that the series made on first use (lines finished by outcome, upstream latency) exist
        String line = chatLine("dash-" + System.nanoTime(), "fake-model", "{\"statuses\":[503,200]}");
        String id = createBatch(KEY_A, upload(KEY_A, line + "\n"), "/v1/chat/completions", "24h").getString("id");
        Api.awaitStatus(KEY_A, id, "completed", Duration.ofSeconds(90));

        String scrape = given().get("http://" + management.getHost() + ":" + management.getPort() + "/q/metrics").then().statusCode(200)
                .extract().asString();
        Map<String, Set<String>> exported = exported(scrape);
        assertTrue(exported.containsKey("openbatch_lines_finished_total"), "the scrape: " + exported.keySet());

        JsonNode d = new ObjectMapper().readTree(DASHBOARD.toFile());
        Set<String> named = new LinkedHashSet<>();
        List<String> problems = new ArrayList<>();
        for (JsonNode p : d.path("panels")) {
            for (JsonNode t : p.path("targets")) {
                String expr = t.path("expr").asText();
                String where = p.path("title").asText() + " [" + t.path("refId").asText() + "]: ";
                problems.addAll(check(where, expr, t.path("legendFormat").asText(""), exported));
                PromQl.parse(expr).selectors().forEach(s -> named.add(s.metric()));
            }
        }
        for (JsonNode v : d.path("templating").path("list")) {
            if ("query".equals(v.path("type").asText())) {
                String q = v.path("definition").asText();
                Matcher m = Pattern.compile("label_values\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*,\\s*(\\w+)\\s*\\)").matcher(q);
                assertTrue(m.matches(), "variable " + v.path("name") + ": " + q);
                problems.addAll(check("variable " + v.path("name").asText() + ": ", m.group(1) + "{" + m.group(2) + "=\"x\"}", "", exported));
                named.add(m.group(1));
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        // what the issue asks the dashboard to show
        for (String metric : List.of("openbatch_lines_finished_total", "openbatch_upstream_in_flight", "openbatch_upstream_concurrency_limit",
                "openbatch_claim_duration_seconds_bucket", "openbatch_write_duration_seconds_bucket", "openbatch_lines_waiting",
                "openbatch_batches", "openbatch_leases_taken_over_total", "openbatch_upstream_limit", "openbatch_upstream_share",
                "openbatch_upstream_queue", "openbatch_upstream_drained", "openbatch_upstream_drains_total",
                "openbatch_upstream_request_duration_seconds_bucket")) {
            assertTrue(named.contains(metric), "the dashboard shows " + metric + "; it names " + named);
        }
    }

    /** What is wrong with one query: metrics not exported, labels the metric does not have, legends naming lost labels. */
    static List<String> check(String where, String expr, String legend, Map<String, Set<String>> exported) {
        List<String> problems = new ArrayList<>();
        PromQl.Parsed parsed;
        try {
            parsed = PromQl.parse(expr);
        } catch (IllegalArgumentException e) {
            return List.of(where + e.getMessage());
        }
        if (parsed.selectors().isEmpty()) {
            problems.add(where + "names no metric: " + expr);
        }
        Set<String> available = new HashSet<>(TARGET_LABELS);
        for (PromQl.Selector s : parsed.selectors()) {
            if (!s.metric().startsWith("openbatch_")) {
                problems.add(where + s.metric() + " is not one of openbatch's metrics");
            }
            Set<String> labels = exported.get(s.metric());
            if (labels == null) {
                problems.add(where + s.metric() + " is not exported by the service");
                continue;
            }
            for (String l : labels) {
                available.add(l);
                if (TARGET_LABELS.contains(l)) {
                    available.add("exported_" + l);
                }
            }
            for (String l : s.labels()) {
                if (!TARGET_LABELS.contains(l) && !labels.contains(l) && !(l.startsWith("exported_") && labels.contains(l.substring(9)))) {
                    problems.add(where + s.metric() + " has no label " + l + " (it has " + labels + ")");
                }
            }
        }
        for (String l : parsed.grouping()) {
            if (!available.contains(l)) {
                problems.add(where + "groups by " + l + ", which its metrics do not have");
            }
        }
        Matcher m = LEGEND.matcher(legend);
        while (m.find()) {
            String l = m.group(1);
            if (!parsed.grouping().isEmpty() ? !parsed.grouping().contains(l) : !available.contains(l)) {
                problems.add(where + "the legend names " + l + ", which the query's result does not have");
            }
        }
        return problems;
    }

    /** Metric names in a Prometheus text scrape, each with the label names its series carry. */
    static Map<String, Set<String>> exported(String scrape) {
        Map<String, Set<String>> out = new HashMap<>();
        for (String line : scrape.split("\n")) {
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            Matcher m = SERIES.matcher(line);
            if (!m.find()) {
                continue;
            }
            Set<String> labels = out.computeIfAbsent(m.group(1), k -> new HashSet<>());
            if (m.group(3) != null) {
                Matcher l = SERIES_LABEL.matcher(m.group(3));
                while (l.find()) {
                    labels.add(l.group(1));
                }
            }
        }
        return out;
    }

    @Test
    void theCheckFindsWhatIsWrong() {
        Map<String, Set<String>> exported = Map.of(
                "openbatch_lines_finished_total", Set.of("upstream", "outcome"),
                "openbatch_claim_duration_seconds_bucket", Set.of("le"),
                "openbatch_housekeeping_failures_total", Set.of("job"));
        assertEquals(List.of(), check("", "sum by (upstream, outcome) (rate(openbatch_lines_finished_total{outcome!=\"retried\",instance=~\"$instance\"}[$__rate_interval]))",
                "{{upstream}} {{outcome}}", exported));
        assertEquals(List.of(), check("", "histogram_quantile(0.99, sum by (le) (rate(openbatch_claim_duration_seconds_bucket[5m])))", "p99", exported));
        assertEquals(List.of(), check("", "sum by (exported_job) (increase(openbatch_housekeeping_failures_total[1h]))", "{{exported_job}}", exported));
        assertEquals(List.of(), check("", "sum(rate(openbatch_lines_finished_total[5m])) / on(instance) group_left sum(rate(openbatch_lines_finished_total[5m] offset 1h)) > bool 0.5e1",
                "", exported));
        // a metric the service does not export, one that is not openbatch's, a label it does not have, a legend of a label the sum removed
        assertTrue(check("", "sum(rate(openbatch_lines_done_total[5m]))", "", exported).get(0).contains("not exported"));
        assertTrue(check("", "up", "", exported).get(0).contains("not one of openbatch's metrics"));
        assertTrue(check("", "openbatch_lines_finished_total{outcom=\"failed\"}", "", exported).get(0).contains("no label outcom"));
        assertTrue(check("", "sum by (upstream) (openbatch_lines_finished_total)", "{{outcome}}", exported).get(0).contains("legend"));
        assertTrue(check("", "sum by (reason) (openbatch_lines_finished_total)", "", exported).get(0).contains("groups by reason"));
        assertThrows(IllegalArgumentException.class, () -> PromQl.parse("{__name__=\"openbatch_batches\"}"));
        assertEquals(Set.of("openbatch_a", "openbatch_b"), Set.copyOf(PromQl.parse("max(openbatch_a{x=\"1 {y}\"}) + openbatch_b[5m:1m]")
                .selectors().stream().map(PromQl.Selector::metric).toList()));
        Map<String, Set<String>> parsed = exported("# HELP x y\nopenbatch_batches{status=\"completed\",a=\"b,\\\"c\"} 1.0\nopenbatch_lines_waiting 0.0\n");
        assertEquals(Map.of("openbatch_batches", Set.of("status", "a"), "openbatch_lines_waiting", Set.of()), parsed);
    }
}
