package dev.openbatch.engine.dispatch;
import dev.openbatch.status.LineState;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.openbatch.upstream.ResponseTooLargeException;
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
        assertEquals(LineState.FAILED, unreachable.state());
        assertEquals("upstream_unreachable", unreachable.errorCode());
        assertEquals("The upstream server could not be reached. Gave up after 5 attempt(s).", unreachable.errorMessage());
    }

    @Test
    void whyNoAnswerCameIsToldByKindNeverWithTheExceptionsText() {
        String host = "vllm-0.inference.svc.cluster.local";
        record Case(Throwable err, String message) {
        }
        List<Case> cases = List.of(
                new Case(new java.net.UnknownHostException("Failed to resolve '" + host + "' [A(1)] after 2 queries"),
                        "The upstream server could not be reached."),
                new Case(new io.vertx.core.VertxException(new java.net.ConnectException("Connection refused: " + host + "/10.0.3.7:8000")),
                        "The upstream server could not be reached."),
                new Case(new io.netty.channel.ConnectTimeoutException("connection timed out after 10000 ms: " + host + "/10.0.3.7:8000"),
                        "The upstream server did not answer in time."),
                new Case(new java.util.concurrent.TimeoutException("The timeout period of 600000ms has been exceeded while executing POST "
                        + "/v1/chat/completions for server " + host + ":8000"), "The upstream server did not answer in time."),
                new Case(new javax.net.ssl.SSLHandshakeException("No subject alternative DNS name matching " + host + " found."),
                        "A secure (TLS) connection to the upstream server could not be established."),
                new Case(closed(host),
                        "The upstream server closed the connection before it answered."),
                new Case(new IllegalStateException("pool closed: " + host), "The upstream server could not be reached."),
                new Case(null, "The upstream server could not be reached."));
        for (Case k : cases) {
            Result retry = policy.decide(line(1, null), null, k.err(), NOW, "up");
            assertEquals(LineState.QUEUED, retry.state());
            assertEquals("upstream_unreachable", retry.errorCode());
            assertEquals(k.message(), retry.errorMessage(), String.valueOf(k.err()));
            Result last = policy.decide(line(5, null), null, k.err(), NOW, "up");
            assertEquals(k.message() + " Gave up after 5 attempt(s).", last.errorMessage());
            assertFalse(last.errorMessage().contains(host) || last.errorMessage().contains("10.0.3.7"), last.errorMessage());
        }
    }

    private static Throwable closed(String host) {
        return new io.vertx.core.http.HttpClosedException("Connection was closed (" + host + ")");
    }

    @Test
    void refusedCredentialsFailAtOnceWithoutTheUpstreamsAnswer() {
        for (int status : new int[] { 401, 403, 407 }) {
            UpstreamResponse refused = new UpstreamResponse(status,
                    "{\"error\":{\"message\":\"Incorrect API key provided: sk-live-4f2a****9c1e\"}}", "req_9", null);
            Result r = policy.decide(line(1, null), refused, null, NOW, "up");
            assertEquals(LineState.FAILED, r.state(), "not retried: " + status);
            assertEquals("upstream_auth_failed", r.errorCode());
            assertNull(r.response(), "the upstream's answer is not kept for the tenant");
            assertNull(r.statusCode(), "the error file shows \"response\": null");
            assertTrue(r.errorMessage().contains("HTTP " + status), r.errorMessage());
            assertFalse(r.errorMessage().contains("sk-live"), r.errorMessage());
        }
        // other 4xx keep the upstream's status and body (the contract's error line)
        Result notFound = policy.decide(line(1, null), answer(404, null), null, NOW, "up");
        assertEquals(404, notFound.statusCode());
        assertTrue(notFound.response().contains("busy"));
        assertNull(notFound.errorCode());
    }

    @Test
    void anAnswerOverTheCapFailsAtOnceNamingTheCap() {
        for (long declared : new long[] { 50_000_000L, -1 }) {
            Result r = policy.decide(line(1, null), null, new ResponseTooLargeException(200, 16_777_216, declared), NOW, "up");
            assertEquals(LineState.FAILED, r.state(), "not retried");
            assertEquals("response_too_large", r.errorCode());
            assertNull(r.response());
            assertNull(r.statusCode());
            assertTrue(r.errorMessage().contains("16777216") && r.errorMessage().contains("openbatch.engine.max-response-bytes"),
                    r.errorMessage());
        }
    }

    /**
     * An upstream whose answer carries a NUL in {@code x-request-id}: the upstream client refuses
     * the answer (the exception is taken from a real exchange through {@code HttpUpstream}, not
     * written by hand), and the line fails at once with its own code instead of being retried as
     * an unreachable server.
     */
    @Test
    void anAnswerWithAForbiddenHeaderCharacterFailsAtOnceWithItsOwnCode() throws Exception {
        io.vertx.mutiny.core.Vertx vertx = io.vertx.mutiny.core.Vertx.vertx();
        try (java.net.ServerSocket server = new java.net.ServerSocket(0, 10, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (java.net.Socket s = server.accept()) {
                    s.getInputStream().read(new byte[8192]);
                    String body = "{\"object\":\"chat.completion\"}";
                    s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: req\0bad\r\n"
                            + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
                    s.getOutputStream().flush();
                    Thread.sleep(2000);
                } catch (Exception ignored) {
                    // the client may close first
                }
            });
            t.start();
            dev.openbatch.upstream.UpstreamsConfig.Server config = dev.openbatch.testing.TestServer.of("http://127.0.0.1:" + server.getLocalPort() + "/v1");
            dev.openbatch.upstream.HttpUpstream upstream = new dev.openbatch.upstream.HttpUpstream(vertx, "raw", config,
                    java.time.Duration.ofSeconds(10), 1 << 20);
            Throwable err = upstream.send("/chat/completions", "{}").subscribeAsCompletionStage()
                    .handle((ok, e) -> e).get(10, java.util.concurrent.TimeUnit.SECONDS);
            upstream.close();
            assertTrue(err != null, "the answer is refused");
            assertTrue(RetryPolicy.malformedAnswer(err), "recognised: " + RetryPolicy.detail(err));
            Result r = policy.decide(line(1, null), null, err, NOW, "up");
            assertEquals(LineState.FAILED, r.state(), "not retried");
            assertEquals("upstream_invalid_response", r.errorCode());
            assertFalse(r.errorMessage().contains("127.0.0.1") || r.errorMessage().contains("Validation"), r.errorMessage());
        } finally {
            vertx.closeAndAwait();
        }
        // a connection that merely failed is still an unreachable server, retried
        Result r = policy.decide(line(1, null), null, new java.net.ConnectException("Connection refused"), NOW, "up");
        assertEquals(LineState.QUEUED, r.state());
    }

    @Test
    void theOperatorsLogGetsTheDetailWithTheLinesIds() {
        List<java.util.logging.LogRecord> records = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler h = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger(RetryPolicy.class.getName());
        logger.addHandler(h);
        try {
            policy.decide(line(5, null), null, new java.net.UnknownHostException("Failed to resolve 'vllm.internal'"), NOW, "gpu-pool");
            policy.decide(line(1, null), new UpstreamResponse(401, "{\"error\":\"bad key sk-live-4f2a\"}", null, null), null, NOW, "gpu-pool");
            // texts that came from outside (an answer, an exception naming what a tenant sent) cannot add a line to the log
            policy.decide(line(5, null), null, new java.net.ConnectException("refused\n2026-11-29 INFO forged line"), NOW, "gpu-pool");
            policy.decide(line(1, null), new UpstreamResponse(403, "nope\r\n2026-11-29 INFO forged too\u2028", null, null), null, NOW,
                    "gpu-pool");
        } finally {
            logger.removeHandler(h);
        }
        List<String> lines = records.stream().map(r -> r instanceof org.jboss.logmanager.ExtLogRecord e ? e.getFormattedMessage()
                : r.getMessage()).toList();
        assertTrue(lines.stream().anyMatch(m -> m.contains("batch_x line 1 ") && m.contains("gpu-pool")
                && m.contains("Failed to resolve 'vllm.internal'")), lines.toString());
        assertTrue(lines.stream().anyMatch(m -> m.contains("batch_x line 1 ") && m.contains("HTTP 401") && m.contains("sk-live-4f2a")),
                lines.toString());
        assertTrue(lines.stream().anyMatch(m -> m.contains("refused\\n2026-11-29 INFO forged line")), lines.toString());
        assertTrue(lines.stream().anyMatch(m -> m.contains("nope\\r\\n2026-11-29 INFO forged too")), lines.toString());
        assertTrue(lines.stream().noneMatch(m -> m.contains("\n") || m.contains("\r") || m.contains("\u2028")), lines.toString());
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
