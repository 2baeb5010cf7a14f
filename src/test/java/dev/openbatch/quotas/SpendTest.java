package dev.openbatch.quotas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.quotas.Spend.ModelSums;
import dev.openbatch.quotas.Spend.Period;
import dev.openbatch.quotas.Spend.Spent;
import dev.openbatch.usage.Prices;

/** The spend arithmetic: UTC periods, tokens and dollars summed over models, and which cap holds a project. */
class SpendTest {
    /** 2024-12-31T18:30:00Z: the last day of a month and of a year. */
    private static final long NEW_YEARS_EVE = Instant.parse("2024-12-31T18:30:00Z").getEpochSecond();
    private static final Prices PRICES = new Prices(Map.of(
            "big", new Prices.Price(new BigDecimal("2"), new BigDecimal("8"), new BigDecimal("0.5")),
            "small", new Prices.Price(new BigDecimal("0.1"), new BigDecimal("0.4"), BigDecimal.ZERO)));

    private static long at(String instant) {
        return Instant.parse(instant).getEpochSecond();
    }

    @Test
    void periodsAreUtcDaysAndCalendarMonths() {
        assertEquals(at("2024-12-31T00:00:00Z"), Period.DAY.start(NEW_YEARS_EVE));
        assertEquals(at("2025-01-01T00:00:00Z"), Period.DAY.end(NEW_YEARS_EVE));
        assertEquals(at("2024-12-01T00:00:00Z"), Period.MONTH.start(NEW_YEARS_EVE));
        assertEquals(at("2025-01-01T00:00:00Z"), Period.MONTH.end(NEW_YEARS_EVE));
        long leap = at("2024-02-29T23:59:59Z");
        assertEquals(at("2024-02-01T00:00:00Z"), Period.MONTH.start(leap));
        assertEquals(at("2024-03-01T00:00:00Z"), Period.MONTH.end(leap));
        assertEquals(at("2024-03-01T00:00:00Z"), Period.DAY.end(leap));
        long midnight = at("2025-01-01T00:00:00Z");
        assertEquals(midnight, Period.DAY.start(midnight), "a period includes its first second");
        assertEquals(midnight, Period.MONTH.start(midnight));
    }

    @Test
    void spendSumsTokensAndPricesEachModelAtItsOwnPrice() {
        Spent s = Spent.of(List.of(new ModelSums("big", 1_000_000, 500_000, 3_000_000, 1_000_000),
                new ModelSums("small", 2_000_000, 0, 2_000_000, 1_000_000),
                new ModelSums("unpriced", 7, 3, 70, 30)), PRICES);
        assertEquals(1_000_000 + 500_000 + 2_000_000 + 10, s.dayTokens());
        assertEquals(3_000_000 + 1_000_000 + 2_000_000 + 1_000_000 + 100, s.monthTokens());
        // big: (1 x $2 + 0.5 x $8) x (1 - 0.5) = $3; small: 2 x $0.1 = $0.2; unpriced: free
        assertEquals(0, new BigDecimal("3.2").compareTo(s.dayUsd()), s.dayUsd().toString());
        // big: (3 x $2 + 1 x $8) x 0.5 = $7; small: 2 x $0.1 + 1 x $0.4 = $0.6
        assertEquals(0, new BigDecimal("7.6").compareTo(s.monthUsd()), s.monthUsd().toString());
        assertEquals(3_200_000L, s.stored(Quota.SPEND_USD_PER_DAY), "dollars as kept: millionths");
        assertEquals(new BigDecimal("7.6"), s.wire(Quota.SPEND_USD_PER_MONTH));
        assertEquals(s.dayTokens(), s.stored(Quota.SPEND_TOKENS_PER_DAY));
        assertEquals(s.monthTokens(), s.wire(Quota.SPEND_TOKENS_PER_MONTH));
    }

    @Test
    void aFractionOfAMillionthOfADollarCountsAsAWholeOne() {
        // 1 input token at $0.1 per million: $0.0000001
        Spent s = Spent.of(List.of(new ModelSums("small", 1, 0, 1, 0)), PRICES);
        assertEquals(1L, s.stored(Quota.SPEND_USD_PER_DAY));
        assertEquals(new BigDecimal("0.0000001"), s.wire(Quota.SPEND_USD_PER_DAY), "the headroom shows it exactly");
    }

    @Test
    void aCapHoldsTheProjectFromTheMomentItsSpendReachesIt() {
        Map<Quota, Long> limits = new EnumMap<>(Quota.class);
        limits.put(Quota.SPEND_TOKENS_PER_DAY, 1000L);
        limits.put(Quota.LIVE_BATCHES, 1L); // not a spend cap: never holds anything here
        assertNull(Spend.reached("p", limits, new Spent(999, BigDecimal.ZERO, 5000, BigDecimal.ZERO), NEW_YEARS_EVE));
        Spend.Reached r = Spend.reached("p", limits, new Spent(1000, BigDecimal.ZERO, 5000, BigDecimal.ZERO), NEW_YEARS_EVE);
        assertEquals(Quota.SPEND_TOKENS_PER_DAY, r.quota());
        assertEquals(1000L, r.limit());
        assertEquals(at("2025-01-01T00:00:00Z"), r.resumesAt());
        assertTrue(r.message().contains("Project p reached its spend cap of 1000 tokens this UTC day (quota: spend_tokens_per_day)"),
                r.message());
        assertTrue(r.message().contains("2025-01-01T00:00:00Z"), r.message());
        assertNull(Spend.reached("p", Map.of(), new Spent(1 << 30, BigDecimal.TEN, 1 << 30, BigDecimal.TEN), NEW_YEARS_EVE),
                "no cap, no pause");
    }

    @Test
    void aCapOfZeroPausesAtOnce() {
        Map<Quota, Long> limits = Map.of(Quota.SPEND_USD_PER_MONTH, 0L);
        Spend.Reached r = Spend.reached("p", limits, Spent.NONE, NEW_YEARS_EVE);
        assertEquals(Quota.SPEND_USD_PER_MONTH, r.quota());
        assertTrue(r.message().contains("spend cap of $0 this UTC month"), r.message());
    }

    @Test
    void ofSeveralCapsReachedTheOneThatEndsLastHoldsIt() {
        Map<Quota, Long> limits = new EnumMap<>(Quota.class);
        limits.put(Quota.SPEND_TOKENS_PER_DAY, 100L);
        limits.put(Quota.SPEND_USD_PER_MONTH, 2_500_000L); // $2.5
        Spent both = new Spent(100, new BigDecimal("1"), 100, new BigDecimal("2.5"));
        long midMonth = at("2024-12-15T12:00:00Z");
        Spend.Reached r = Spend.reached("p", limits, both, midMonth);
        assertEquals(Quota.SPEND_USD_PER_MONTH, r.quota(), "the day ending would not resume it: the month's cap still holds");
        assertEquals(at("2025-01-01T00:00:00Z"), r.resumesAt());
        assertTrue(r.message().contains("spend cap of $2.5 this UTC month (quota: spend_usd_per_month)"), r.message());
        Spend.Reached lastDay = Spend.reached("p", limits, both, NEW_YEARS_EVE);
        assertEquals(Quota.SPEND_USD_PER_MONTH, lastDay.quota(), "both end at midnight: the month's is named");
        assertEquals(at("2025-01-01T00:00:00Z"), lastDay.resumesAt());
        Spent dayOnly = new Spent(100, new BigDecimal("1"), 100, new BigDecimal("2.4999"));
        Spend.Reached day = Spend.reached("p", limits, dayOnly, midMonth);
        assertEquals(Quota.SPEND_TOKENS_PER_DAY, day.quota());
        assertEquals(at("2024-12-16T00:00:00Z"), day.resumesAt());
    }

    @Test
    void limitsInDollarsAreKeptInMillionthsAndShownInDollars() {
        assertEquals(2_500_000L, Quota.Unit.USD.stored(new BigDecimal("2.5")));
        assertEquals(1L, Quota.Unit.USD.stored(new BigDecimal("0.000001")));
        assertThrows(ArithmeticException.class, () -> Quota.Unit.USD.stored(new BigDecimal("0.0000001")));
        assertThrows(ArithmeticException.class, () -> Quota.Unit.TOKENS.stored(new BigDecimal("1.5")));
        assertEquals(new BigDecimal("2.5"), Quota.Unit.USD.wire(2_500_000L));
        assertEquals(new BigDecimal("10"), Quota.Unit.USD.wire(10_000_000L));
        assertEquals(7L, Quota.Unit.TOKENS.wire(7L));
    }
}
