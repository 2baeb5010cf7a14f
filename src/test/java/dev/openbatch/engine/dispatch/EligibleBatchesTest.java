package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.openbatch.store.BatchStore.Eligible;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;

/** When a dispatcher reads its list of batches again, and which batches it sets aside meanwhile. */
class EligibleBatchesTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    private static Eligible batch(String id) {
        return new Eligible(id, "p", "j", "/v1/chat/completions", null, null, 0, 1);
    }

    /** A fake store: answers each read with {@link #next}, at once or when the test says. */
    private static final class Reads {
        List<Eligible> next = List.of();
        RuntimeException failure;
        boolean hold;
        final List<Long> at = new ArrayList<>();
        final List<UniEmitter<? super List<Eligible>>> held = new ArrayList<>();

        Uni<List<Eligible>> read(long now) {
            at.add(now);
            if (hold) {
                return Uni.createFrom().emitter(held::add);
            }
            return failure != null ? Uni.createFrom().failure(failure) : Uni.createFrom().item(next);
        }
    }

    private final Reads reads = new Reads();
    private final EligibleBatches list = new EligibleBatches("u", reads::read, Runnable::run);

    private static List<String> ids(EligibleBatches.Choice c) {
        return c.open().await().atMost(WAIT).stream().map(Eligible::id).toList();
    }

    /** Reads the list at {@code now}, as the first claim does. */
    private void readAt(long now, String... ids) {
        reads.next = Arrays.stream(ids).map(EligibleBatchesTest::batch).toList();
        EligibleBatches.Choice c = list.choose(now);
        assertTrue(c.fresh());
        assertEquals(List.of(ids), ids(c));
    }

    @Test
    void theFirstClaimWaitsForARead() {
        assertTrue(list.exhausted(), "an empty list has nothing to take from");
        readAt(1000, "a", "b");
        assertEquals(List.of(1000L), reads.at);
        assertFalse(list.exhausted());
    }

    @Test
    void aReadThatFindsNothingSaysSo() {
        EligibleBatches.Choice c = list.choose(1000);
        assertTrue(c.fresh(), "nothing in a fresh list: the dispatcher may go idle");
        assertEquals(List.of(), ids(c));
        assertTrue(list.choose(1001).fresh(), "and the next claim reads again");
        assertEquals(2, reads.at.size());
    }

    @Test
    void aBusyListIsTrustedForFiveSecondsThenReadAgainInTheBackground() {
        readAt(1000, "a", "b");
        EligibleBatches.Choice c = list.choose(1000 + EligibleBatches.TTL_MS - 1);
        assertFalse(c.fresh());
        assertEquals(List.of("a", "b"), ids(c));
        assertEquals(1, reads.at.size(), "not read again within the five seconds");

        reads.hold = true;
        c = list.choose(1000 + EligibleBatches.TTL_MS);
        assertFalse(c.fresh(), "the claim does not wait for the read");
        assertEquals(List.of("a", "b"), ids(c), "it takes from the list it has");
        assertEquals(List.of(1000L, 6000L), reads.at);

        list.choose(6500);
        assertEquals(2, reads.at.size(), "one background read at a time");

        reads.held.get(0).complete(List.of(batch("c")));
        assertFalse(list.stale(6500), "the read's time is the time it was asked at");
        assertEquals(List.of("c"), ids(list.choose(6500)));
        assertEquals(2, reads.at.size());
    }

    @Test
    void aFailedBackgroundReadKeepsTheListAndIsTriedAgain() {
        readAt(1000, "a");
        reads.failure = new IllegalStateException("connection refused");
        assertEquals(List.of("a"), ids(list.choose(7000)));
        assertTrue(list.stale(7000));
        reads.failure = null;
        reads.hold = true;
        assertEquals(List.of("a"), ids(list.choose(7001)), "the claim still takes from the list it had");
        assertEquals(List.of(1000L, 7000L, 7001L), reads.at, "the failed read did not stop the next");
        reads.held.get(0).complete(List.of(batch("b")));
        assertEquals(List.of("b"), ids(list.choose(7002)), "the second read replaced it");
    }

    @Test
    void aFailedReadBeforeAClaimFailsTheClaim() {
        reads.failure = new IllegalStateException("connection refused");
        EligibleBatches.Choice c = list.choose(1000);
        assertThrows(IllegalStateException.class, () -> c.open().await().atMost(WAIT));
        assertTrue(list.exhausted());
    }

    @Test
    void aBatchThatGaveFewerLinesThanAskedIsSetAsideUntilTheNextRead() {
        readAt(1000, "a", "b", "c", "d");
        list.claimed(Map.of("a", 5, "b", 5, "c", 2), Map.of("a", 5, "b", 3));
        assertEquals(List.of("a", "d"), ids(list.choose(1001)), "b gave less than asked and c nothing: both set aside");
        assertFalse(list.exhausted());

        list.claimed(Map.of("a", 4, "d", 1), Map.of("a", 1, "d", 1));
        assertFalse(list.exhausted(), "d gave all it was asked: it stays");
        list.claimed(Map.of("d", 2), Map.of());
        assertTrue(list.exhausted(), "every batch set aside");

        reads.next = List.of(batch("a"), batch("b"), batch("c"), batch("d"));
        EligibleBatches.Choice c = list.choose(1002);
        assertTrue(c.fresh(), "a claim with nothing left to take from waits for a new list, stale or not");
        assertEquals(List.of("a", "b", "c", "d"), ids(c), "a read sets nothing aside");
    }

    @Test
    void aStartedBatchJoinsOnceAndIsNoLongerSetAside() {
        readAt(1000, "a", "b");
        list.claimed(Map.of("a", 1, "b", 1), Map.of());
        assertTrue(list.exhausted());

        list.started(batch("b"));
        list.started(batch("c"));
        list.started(batch("c"));
        EligibleBatches.Choice c = list.choose(1001);
        assertFalse(c.fresh(), "no read: the started batches are there to take from");
        assertEquals(List.of("b", "c"), ids(c), "a is still set aside; c joined once, at the end");
        assertEquals(1, reads.at.size());
    }

    @Test
    void aBatchStartedBeforeAnyReadIsTakenFromWhileTheListIsRead() {
        reads.hold = true;
        list.started(batch("a"));
        EligibleBatches.Choice c = list.choose(1000);
        assertFalse(c.fresh());
        assertEquals(List.of("a"), ids(c));
        assertEquals(List.of(1000L), reads.at, "never read: stale, so read in the background");
    }

    @Test
    void aWakeUpMakesTheListStale() {
        readAt(1000, "a");
        assertFalse(list.stale(1001));
        list.invalidate();
        assertTrue(list.stale(1001));
        assertFalse(list.exhausted(), "the list itself stays");
        assertEquals(List.of("a"), ids(list.choose(1001)));
        assertEquals(List.of(1000L, 1001L), reads.at);
    }
}
