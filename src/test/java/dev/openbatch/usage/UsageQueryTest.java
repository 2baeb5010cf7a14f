package dev.openbatch.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.api.ApiException;

/** The usage and costs routes' parameters, the page of buckets they ask for, and prices. */
class UsageQueryTest {
    private static final long DAY = 86_400;
    private static final long T = 20_000 * DAY; // a UTC midnight

    private static UsageQuery q(String start, String end, String width, List<String> groupBy, String limit, String page, long now) {
        return UsageQuery.parse(start, end, width, groupBy, List.of(), List.of(), limit, page, now, UsageService.USAGE_GROUPS);
    }

    @Test
    void startTimeSnapsDownToItsBucketAndEndTimeEndsTheLast() {
        UsageQuery q = q(Long.toString(T + 5000), Long.toString(T + 3 * DAY + 10), null, List.of(), null, null, T + 100 * DAY);
        assertEquals(T, q.from(), "1d is the default width; buckets are UTC days");
        assertEquals(DAY, q.width());
        assertEquals(4, q.buckets(), "the day holding end_time is the last bucket");
        assertEquals(List.of(T, T + DAY, T + 2 * DAY, T + 3 * DAY), q.bucketStarts());
        assertEquals(T + 3 * DAY + 10, q.to());
        assertNull(q.nextPage());

        UsageQuery h = q(Long.toString(T + 3599), Long.toString(T + 7200), "1h", List.of(), null, null, 0);
        assertEquals(T, h.from());
        assertEquals(2, h.buckets());
    }

    @Test
    void aPageHoldsLimitBucketsAndNamesTheNext() {
        long now = T + 10 * DAY + 5;
        UsageQuery first = q(Long.toString(T), null, "1d", List.of(), null, null, now);
        assertEquals(7, first.buckets(), "7 buckets of a day by default");
        assertEquals(T + 7 * DAY, first.to());
        assertEquals(Long.toString(T + 7 * DAY), first.nextPage());
        UsageQuery second = q(Long.toString(T), null, "1d", List.of(), null, first.nextPage(), now);
        assertEquals(T + 7 * DAY, second.from());
        assertEquals(4, second.buckets(), "up to the day holding now (end_time's default)");
        assertNull(second.nextPage());
        assertEquals(24, q(Long.toString(T), null, "1h", List.of(), null, null, now).buckets(), "24 buckets of an hour by default");
        assertThrows(ApiException.class, () -> q(Long.toString(T), null, "1d", List.of(), null, Long.toString(T + 5), now),
                "a page that is not a bucket's start");
        assertThrows(ApiException.class, () -> q(Long.toString(T), null, "1d", List.of(), null, Long.toString(T - DAY), now),
                "a page before start_time");
    }

    @Test
    void badParametersAreRefusedNamingThem() {
        assertEquals("start_time", assertThrows(ApiException.class, () -> q(null, null, null, List.of(), null, null, T)).param());
        assertEquals("start_time", assertThrows(ApiException.class, () -> q("yesterday", null, null, List.of(), null, null, T)).param());
        assertEquals("bucket_width", assertThrows(ApiException.class, () -> q("0", null, "1m", List.of(), null, null, T)).param());
        assertEquals("limit", assertThrows(ApiException.class, () -> q("0", null, "1d", List.of(), "32", null, T)).param());
        assertEquals("limit", assertThrows(ApiException.class, () -> q("0", null, "1h", List.of(), "0", null, T)).param());
        assertEquals(168, q("0", null, "1h", List.of(), "168", null, T).buckets());
        assertEquals("group_by", assertThrows(ApiException.class, () -> q("0", null, null, List.of("user_id"), null, null, T)).param());
    }

    @Test
    void groupByAndFiltersAreRead() {
        UsageQuery q = UsageQuery.parse("0", "10", null, List.of("model"), List.of("p1,p2", "p1"), List.of("m"), null, null, T,
                UsageService.USAGE_GROUPS);
        assertFalse(q.byProject());
        assertTrue(q.byModel());
        assertEquals(List.of("p1", "p2"), q.projects());
        assertEquals(List.of("m"), q.models());
        UsageQuery c = UsageQuery.parse("0", "10", null, List.of("project_id,line_item"), List.of(), List.of(), null, null, T,
                UsageService.COST_GROUPS);
        assertTrue(c.byProject() && c.byModel(), "a cost's line item is its model");
        assertThrows(ApiException.class, () -> UsageQuery.parse("0", "10", null, List.of("model"), List.of(), List.of(), null, null, T,
                UsageService.COST_GROUPS));
    }

    @Test
    void pricesArePerMillionTokensLessTheBatchDiscount() {
        Prices p = new Prices(Map.of("m", new Prices.Price(new BigDecimal("2.50"), new BigDecimal("10"), new BigDecimal("0.5"))));
        // (1,000,000 x 2.50 + 200,000 x 10) / 1e6 x 0.5 = 2.25
        assertEquals(0, new BigDecimal("2.25").compareTo(p.of("m").cost(1_000_000, 200_000)));
        assertEquals(0, BigDecimal.ZERO.compareTo(p.of("unpriced").cost(1_000_000, 1_000_000)), "a model without a price costs 0");
        assertEquals("10", UsageService.plain(new BigDecimal("10.000")).toPlainString());
        assertEquals("10", UsageService.plain(new BigDecimal("10.000")).toString(), "never 1E+1");
        assertThrows(IllegalArgumentException.class,
                () -> new Prices(Map.of("m", new Prices.Price(BigDecimal.ONE, BigDecimal.ONE, new BigDecimal("1.5")))));
    }
}
