package dev.openbatch.usage;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
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
 * UsageAccountingTest's): buckets, grouping, filters, prices; and the routes refuse a project's key.
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
    void theRoutesRefuseAProjectsKey() {
        as(KEY_A).get("/v1/organization/usage/batches?start_time=0").then().statusCode(403)
                .body("error.code", equalTo("insufficient_permissions"));
        as(KEY_A).get("/v1/organization/costs?start_time=0").then().statusCode(403)
                .body("error.code", equalTo("insufficient_permissions"));
        as("sk-test-admin").get("/v1/organization/usage/batches?start_time=0&bucket_width=1d&limit=1").then().statusCode(200)
                .body("object", equalTo("page")).body("data[0].object", equalTo("bucket"));
        as("sk-test-admin").get("/v1/organization/costs?start_time=0&limit=1").then().statusCode(200)
                .body("object", equalTo("page"));
    }
}
