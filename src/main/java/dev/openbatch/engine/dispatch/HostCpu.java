package dev.openbatch.engine.dispatch;

import java.lang.management.ManagementFactory;
import java.util.function.DoubleSupplier;

/**
 * Whether this host's CPUs are busy: the share of CPU time the whole machine (or container,
 * as the JVM sees its cgroup) spent busy since the last reading, read at most every
 * {@link #EVERY_NANOS} so that any number of dispatchers may ask on every lag tick. While it is,
 * the adaptive limit reads answers somewhat late as no queue at the server ({@link AdaptiveLimit#hostBusy}).
 * A JVM that cannot tell (a negative reading) is never busy.
 */
final class HostCpu {
    /**
     * Busy at or above this share of all CPUs. Answers come late well before the CPUs are all
     * busy: on a two-core box running openbatch, PostgreSQL and a 50 ms server, 45–65 % busy over
     * each second, a 40,000-line batch's limit swung between 65 and 150 of 200 and the batch got
     * 0.27–0.56 of a bare client's rate at 0.9; at 0.5, 0.65–0.71, as with a fixed limit
     * (bench/README). A server that really slows (four times) is still cut for.
     */
    static final double BUSY = 0.5;
    /** Shortest time between two readings: the reading is the CPU's use over that time. */
    static final long EVERY_NANOS = 200_000_000L;

    private static final HostCpu SYSTEM = new HostCpu(HostCpu::systemLoad);

    private final DoubleSupplier load;
    private long readAt;
    private boolean busy;

    HostCpu(DoubleSupplier load) {
        this.load = load;
    }

    /** The host's CPUs, as the JVM reads them. */
    static HostCpu system() {
        return SYSTEM;
    }

    /** Whether the CPUs were all busy over the last reading's time (read again when it is older than {@link #EVERY_NANOS}). */
    synchronized boolean busy(long nowNanos) {
        if (readAt == 0 || nowNanos - readAt >= EVERY_NANOS) {
            readAt = nowNanos;
            busy = load.getAsDouble() >= BUSY;
        }
        return busy;
    }

    private static double systemLoad() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getCpuLoad();
        }
        return -1;
    }
}
