package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.net.UnknownHostException;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.Test;

/** When an upstream is drained and when it comes back. */
class DrainTest {

    @Test
    void threeConnectionFailuresInARowDrainOnce() {
        Drain d = new Drain();
        assertFalse(d.connectionFailed());
        assertFalse(d.connectionFailed());
        assertTrue(d.connectionFailed(), "the third in a row drains it");
        assertTrue(d.drained());
        assertFalse(d.connectionFailed(), "already drained: told once");
        assertEquals(1, d.drains());
    }

    @Test
    void anAnswerBetweenFailuresStartsTheCountAgain() {
        Drain d = new Drain();
        d.connectionFailed();
        d.connectionFailed();
        d.answered();
        assertFalse(d.connectionFailed());
        assertFalse(d.connectionFailed());
        assertFalse(d.drained());
    }

    @Test
    void aProbeThatFindsItUpBringsItBackOnce() {
        Drain d = new Drain();
        assertFalse(d.up(), "not drained: nothing to bring back");
        assertTrue(d.healthFailed());
        assertFalse(d.healthFailed(), "already drained");
        assertTrue(d.up());
        assertFalse(d.drained());
        assertFalse(d.up());
        // and it takes three failures again to drain it
        assertFalse(d.connectionFailed());
        assertFalse(d.connectionFailed());
        assertTrue(d.connectionFailed());
        assertEquals(2, d.drains());
    }

    @Test
    void onlyAConnectionNeverMadeIsARequestNeverSent() {
        assertTrue(Drain.neverConnected(new ConnectException("Connection refused")));
        assertTrue(Drain.neverConnected(new RuntimeException("wrapped", new ConnectException("Connection refused"))));
        assertTrue(Drain.neverConnected(new UnknownHostException("nowhere")));
        assertFalse(Drain.neverConnected(new TimeoutException("timed out")));
        assertFalse(Drain.neverConnected(new java.nio.channels.ClosedChannelException()));
        assertFalse(Drain.neverConnected(null));
        // a connection closed before the answer counts towards draining, but its attempt is spent (it may have arrived)
        assertTrue(Drain.connectionLost(new java.nio.channels.ClosedChannelException()));
        assertTrue(Drain.connectionLost(new ConnectException("Connection refused")));
        assertFalse(Drain.connectionLost(new TimeoutException("timed out")), "a slow server is not a dead one");
    }
}
