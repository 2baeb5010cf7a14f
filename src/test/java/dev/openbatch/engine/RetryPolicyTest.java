package dev.openbatch.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

import org.junit.jupiter.api.Test;

import dev.openbatch.upstream.UpstreamResponse;

/** What an answer means for a line: success, a retry when, or a failure. */
class RetryPolicyTest {
    private static final long NOW = 1_800_000_000_000L;
    private static final long MAX_RETRY_AFTER = 15 * 60_000;
    private final RetryPolicy policy = new RetryPolicy(5, 1000, 60_000, MAX_RETRY_AFTER);

    private static Claimed line(int attempts, Long deadline) {
        return new Claimed("batch_x", 1, 7, attempts, "{}", "/v1/chat/completions", "p", "job", deadline);
    }

    private static UpstreamResponse answer(int status, String retryAfter) {
        return new UpstreamResponse(status, "{\"error\":{\"message\":\"busy\"}}", "req_1", retryAfter);
    }

    @Test
    void backoffGrowsWithJitterUpToItsCeiling() {
        for (int attempt = 1; attempt <= 10; attempt++) {
            long step = Math.min(60_000, 1000L << (attempt - 1));
            long d = policy.delay(attempt, null);
            assertTrue(d >= step / 2 && d <= step, "attempt " + attempt + ": " + d);
        }
        assertEquals(7000, policy.delay(3, 7000L));
    }

    @Test
    void retryableAreTimeoutsThrottlingAndServerErrors() {
        assertTrue(RetryPolicy.retryable(429) && RetryPolicy.retryable(408) && RetryPolicy.retryable(500) && RetryPolicy.retryable(503));
        assertFalse(RetryPolicy.retryable(400) || RetryPolicy.retryable(401) || RetryPolicy.retryable(404) || RetryPolicy.retryable(422));
    }

    @Test
    void hugeOrInfiniteRetryAfterNeverOverflowsIntoThePast() {
        for (String h : new String[] { "1e17", "Infinity", "9223372036854775807", "1e308" }) {
            Result r = policy.decide(line(1, null), answer(429, h), null, NOW, "up");
            assertEquals(LineState.QUEUED, r.state(), h);
            assertEquals(NOW + MAX_RETRY_AFTER, r.notBefore(), "Retry-After: " + h + " waits the ceiling, not less");
        }
    }

    @Test
    void aRetryAfterOfTenYearsIsCutToTheCeiling() {
        Result r = policy.decide(line(1, null), answer(503, "315360000"), null, NOW, "up");
        assertEquals(NOW + MAX_RETRY_AFTER, r.notBefore());
    }

    @Test
    void unreadableOrNegativeRetryAfterFallsBackToTheBackoff() {
        for (String h : new String[] { "NaN", "-5", "soon", "" }) {
            Result r = policy.decide(line(1, null), answer(429, h), null, NOW, "up");
            assertTrue(r.notBefore() >= NOW + 500 && r.notBefore() <= NOW + 1000, h + ": " + (r.notBefore() - NOW));
        }
    }

    @Test
    void anHttpDateIsReadAgainstTheInjectedClockNotTheSystemOne() {
        String inNinetySeconds = DateTimeFormatter.RFC_1123_DATE_TIME.format(Instant.ofEpochMilli(NOW + 90_000).atOffset(ZoneOffset.UTC));
        assertEquals(90_000L, RetryPolicy.retryAfterMillis(inNinetySeconds, NOW));
        String past = DateTimeFormatter.RFC_1123_DATE_TIME.format(Instant.ofEpochMilli(NOW - 90_000).atOffset(ZoneOffset.UTC));
        assertEquals(0L, RetryPolicy.retryAfterMillis(past, NOW));
        assertEquals(2500L, RetryPolicy.retryAfterMillis("2.5", NOW));
        assertNull(RetryPolicy.retryAfterMillis(null, NOW));
    }

    @Test
    void noRetryPastTheDeadlineOrTheLastAttempt() {
        Result late = policy.decide(line(1, NOW + 100), answer(500, "5"), null, NOW, "up");
        assertEquals(LineState.FAILED, late.state());
        assertEquals(500, late.statusCode());
        Result spent = policy.decide(line(5, null), answer(500, null), null, NOW, "up");
        assertEquals(LineState.FAILED, spent.state());
        Result unreachable = policy.decide(line(5, null), null, new java.net.ConnectException("Connection refused"), NOW, "up");
        assertEquals("upstream_unreachable", unreachable.errorCode());
        assertTrue(unreachable.errorMessage().contains("connection refused"), unreachable.errorMessage());
    }

    @Test
    void aSuccessCarriesItsUsageAndOneLineOfJson() {
        UpstreamResponse ok = new UpstreamResponse(200, "{\"a\":\n1,\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}", null, null);
        Result r = policy.decide(line(1, null), ok, null, NOW, "up");
        assertEquals(LineState.SUCCEEDED, r.state());
        assertEquals(new Answers.Usage(3, 2, 5), r.usage());
        assertFalse(r.response().contains("\n"));
        assertTrue(r.requestId() != null && !r.requestId().isEmpty(), "a request id is made up when the upstream gives none");
    }

    @Test
    void aLineGivenBackUnsentGetsItsAttemptBack() {
        assertTrue(Result.released(line(3, null), false).refund());
        assertFalse(Result.released(line(3, null), true).refund());
        assertEquals("released", Result.released(line(3, null), false).outcome());
    }
}
