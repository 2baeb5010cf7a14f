package dev.openbatch.engine.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/** {@link HostCpu}: busy at 90 % of all CPUs or more, read at most every 200 ms, never busy when the JVM cannot tell. */
class HostCpuTest {
    @Test
    void busyFromHalfTheCpusReadAtMostEveryTwoHundredMilliseconds() {
        double[] load = { 0.3 };
        AtomicInteger reads = new AtomicInteger();
        HostCpu cpu = new HostCpu(() -> {
            reads.incrementAndGet();
            return load[0];
        });
        long t = 1_000_000_000L;
        assertFalse(cpu.busy(t));
        load[0] = 0.95;
        assertFalse(cpu.busy(t + 100_000_000L), "the last reading stands for 200 ms");
        assertEquals(1, reads.get());
        assertTrue(cpu.busy(t + HostCpu.EVERY_NANOS));
        load[0] = HostCpu.BUSY;
        assertTrue(cpu.busy(t + 2 * HostCpu.EVERY_NANOS));
        load[0] = -1; // the JVM cannot tell
        assertFalse(cpu.busy(t + 3 * HostCpu.EVERY_NANOS));
        assertEquals(4, reads.get());
    }
}
