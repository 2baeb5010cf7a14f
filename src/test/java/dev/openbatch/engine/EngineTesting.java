package dev.openbatch.engine;

import static dev.openbatch.testing.Api.chatLine;

import java.util.stream.Collectors;
import java.util.stream.IntStream;

/** What the tests that start engines by hand share: input lines, and waiting for lines in flight. */
final class EngineTesting {
    private EngineTesting() {
    }

    /** n chat lines {@code r-1 … r-n} for the fake model, with the fake's knobs ({@code null} for none). */
    static String lines(String r, int n, String fake) {
        return IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(r + "-" + i, "fake-model", fake)).collect(Collectors.joining("\n"));
    }

    /** Waits (10 s at most) until the engine has at least {@code n} lines in flight; returns how many it has. */
    static int awaitInFlight(Engine e, int n) {
        long deadline = System.currentTimeMillis() + 10_000;
        while (e.inFlight() < n && System.currentTimeMillis() < deadline) {
            sleep(10);
        }
        return e.inFlight();
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
