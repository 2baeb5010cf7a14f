package dev.openbatch.usage;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.openbatch.store.UsageStore;
import dev.openbatch.testing.EngineOffProfile;
import dev.openbatch.usage.UsageViews.BatchUsage;
import dev.openbatch.usage.UsageViews.Cost;
import dev.openbatch.usage.UsageViews.Page;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * The usage and costs queries over rows of {@code usage_hourly} (what the engine writes is
 * UsageAccountingTest's): buckets, grouping, filters, prices; and a project's key reads its own project's only.
 */
@QuarkusTest
@TestProfile(EngineOffProfile.class)
class UsageServiceTest {
    private static final long HOUR = 3600;
    private static final long DAY = 86_400;
    private static final long T = 1000 * DAY; // a UTC midnight in 1972: no other test's usage

    @Inject
    Pool pool;
    @Inject
    UsageStore store;
    @Inject
    UsageService service;
    @Inject
    Prices configured;

    private String p1;
    private String p2;

    @BeforeEach
    void rows() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        p1 = "usage-" + run + "-1";
        p2 = "usage-" + run + "-2";
        insert(p1, "m1", T + HOUR, 2, 1, 100, 10);
        insert(p1, "m2", T + 2 * HOUR, 1, 0, 1000, 2000);
        insert(p1, "m1", T + 5 * HOUR, 1, 1, 20, 30);
        insert(p2, "m1", T + DAY + HOUR, 5, 0, 50, 5);
    }

    private void insert(String project, String model, long hour, long ok, long bad, long in, long out) {
        pool.preparedQuery("insert into usage_hourly values ($1, $2, $3, $4, $5, $6, $7, $8)")
                .execute(Tuple.of(project, model, hour, ok + bad, ok, bad).addLong(in).addLong(out)).await().atMost(Duration.ofSeconds(10));
    }

    private UsageQuery q(String width, List<String> groupBy, List<String> models, List<String> groups) {
        return UsageQuery.parse(Long.toString(T), Long.toString(T + 2 * DAY), width, groupBy, List.of(p1, p2), models, null, null, T + 10 * DAY,
                groups);
    }

    @Test
    void usageInDaysByProjectAndModel() {
        Page<BatchUsage> page = service.usage(q("1d", List.of("project_id", "model"), List.of(), UsageService.USAGE_GROUPS))
                .await().atMost(Duration.ofSeconds(10));
        assertEquals("page", page.object());
        assertEquals(2, page.data().size());
        assertEquals(T, page.data().get(0).start_time());
        assertEquals(T + DAY, page.data().get(0).end_time());
        assertEquals(List.of(new BatchUsage(BatchUsage.OBJECT, p1, "m1", 5, 3, 2, 120, 40), new BatchUsage(BatchUsage.OBJECT, p1, "m2", 1, 1, 0, 1000, 2000)),
                page.data().get(0).results());
        assertEquals(List.of(new BatchUsage(BatchUsage.OBJECT, p2, "m1", 5, 5, 0, 50, 5)), page.data().get(1).results());
    }

    @Test
    void usageUngroupedAndInHoursOfOneModel() {
        Page<BatchUsage> all = service.usage(q("1d", List.of(), List.of(), UsageService.USAGE_GROUPS)).await().atMost(Duration.ofSeconds(10));
        assertEquals(List.of(new BatchUsage(BatchUsage.OBJECT, null, null, 6, 4, 2, 1120, 2040)), all.data().get(0).results());
        Page<BatchUsage> hours = service.usage(q("1h", List.of("project_id"), List.of("m1"), UsageService.USAGE_GROUPS))
                .await().atMost(Duration.ofSeconds(10));
        assertEquals(24, hours.data().size(), "a page of 24 hours, empty ones too");
        assertEquals(Long.toString(T + DAY), hours.next_page());
        assertEquals(List.of(), hours.data().get(0).results());
        assertEquals(List.of(new BatchUsage(BatchUsage.OBJECT, p1, null, 3, 2, 1, 100, 10)), hours.data().get(1).results());
        assertEquals(List.of(), hours.data().get(2).results(), "m2's hour, filtered out");
        assertEquals(List.of(new BatchUsage(BatchUsage.OBJECT, p1, null, 2, 1, 1, 20, 30)), hours.data().get(5).results());
    }

    @Test
    void costsPricedPerModelByProjectAndLineItem() {
        Prices prices = new Prices(Map.of("m1", new Prices.Price(new BigDecimal("1"), new BigDecimal("2"), new BigDecimal("0.5"))));
        UsageService costs = new UsageService(store, prices);
        Page<Cost> byItem = costs.costs(q("1d", List.of("project_id", "line_item"), List.of(), UsageService.COST_GROUPS))
                .await().atMost(Duration.ofSeconds(10));
        // p1, m1 on day 1: (120 x 1 + 40 x 2) / 1e6 x 0.5 = 0.0001; m2 has no price: 0
        assertEquals(List.of(new Cost(Cost.OBJECT, new UsageViews.Amount(new BigDecimal("0.0001"), "usd"), "m1", p1),
                new Cost(Cost.OBJECT, new UsageViews.Amount(BigDecimal.ZERO, "usd"), "m2", p1)), byItem.data().get(0).results());
        Page<Cost> byProject = costs.costs(q("1d", List.of("project_id"), List.of(), UsageService.COST_GROUPS)).await().atMost(Duration.ofSeconds(10));
        assertEquals(List.of(new Cost(Cost.OBJECT, new UsageViews.Amount(new BigDecimal("0.0001"), "usd"), null, p1)),
                byProject.data().get(0).results());
        // p2, m1 on day 2: (50 x 1 + 5 x 2) / 1e6 x 0.5 = 0.00003
        assertEquals(List.of(new Cost(Cost.OBJECT, new UsageViews.Amount(new BigDecimal("0.00003"), "usd"), null, p2)),
                byProject.data().get(1).results());
        assertNull(byProject.next_page());
    }

    @Test
    void thePriceTableIsReadFromConfiguration() {
        // (1e6 x 0.2 + 1e6 x 0.6) / 1e6 x (1 - 0.5) = 0.4
        assertEquals(0, new BigDecimal("0.4").compareTo(configured.of("org/model-1.5").cost(1_000_000, 1_000_000)));
    }

    @Test
    void aProjectsKeyReadsItsOwnUsageAndCostsOnly() {
        String admin = "sk-test-admin";
        String own = as(admin).contentType("application/json").body("{\"name\":\"usage boundary\"}").post("/v1/organization/projects")
                .then().statusCode(200).extract().path("id");
        String key = as(admin).contentType("application/json").body("{\"name\":\"reader\"}")
                .post("/v1/organization/projects/" + own + "/api_keys").then().statusCode(200).extract().path("value");
        insert(own, "org/model-1.5", T + 3 * HOUR, 4, 1, 1_000_000, 1_000_000);
        String window = "start_time=" + T + "&end_time=" + (T + 2 * DAY);

        // its own rows, and none of p1's or p2's, grouped or not; the answer names its project
        as(key).get("/v1/organization/usage/batches?" + window + "&group_by=project_id").then().statusCode(200)
                .header("OpenAI-Project", own)
                .body("data[0].results.project_id", equalTo(List.of(own)))
                .body("data[0].results[0].num_model_requests", equalTo(5))
                .body("data[1].results", equalTo(List.of()));
        as(key).get("/v1/organization/usage/batches?" + window).then().statusCode(200)
                .body("data[0].results[0].input_tokens", equalTo(1_000_000)).body("data[1].results", equalTo(List.of()));
        as(key).get("/v1/organization/usage/batches?" + window + "&project_ids=" + own).then().statusCode(200)
                .body("data[0].results[0].lines_succeeded", equalTo(4));
        // (1e6 x 0.2 + 1e6 x 0.6) / 1e6 x 0.5 = 0.4
        as(key).get("/v1/organization/costs?" + window + "&group_by=project_id").then().statusCode(200)
                .body("data[0].results.project_id", equalTo(List.of(own)))
                .body("data[0].results[0].amount.value", equalTo(0.4f)).body("data[1].results", equalTo(List.of()));

        // another project's, named or among others: refused
        for (String other : List.of("project_ids=" + p1, "project_ids=" + own + "," + p2, "project_ids[]=" + own + "&project_ids[]=" + p1)) {
            as(key).get("/v1/organization/usage/batches?" + window + "&" + other).then().statusCode(403)
                    .body("error.code", equalTo("insufficient_permissions"));
            as(key).get("/v1/organization/costs?" + window + "&" + other).then().statusCode(403)
                    .body("error.code", equalTo("insufficient_permissions"));
        }
        // reads only: the rest of the organization API stays closed to it
        as(key).get("/v1/organization/projects").then().statusCode(403);
        as(key).get("/v1/organization/projects/" + p1 + "/quotas").then().statusCode(403);
        as(key).contentType("application/json").body("{}").post("/v1/organization/costs").then().statusCode(403);

        // the admin key reads every project's, and its answers name none
        as(admin).get("/v1/organization/usage/batches?" + window + "&group_by=project_id&project_ids=" + own + "," + p1).then().statusCode(200)
                .header("OpenAI-Project", (String) null)
                .body("data[0].results.project_id", containsInAnyOrder(p1, own));
        as(admin).get("/v1/organization/costs?start_time=0&limit=1").then().statusCode(200).body("object", equalTo("page"));
    }
}
