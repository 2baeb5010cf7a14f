package dev.openbatch.engine.housekeeping;

import java.math.BigInteger;
import java.time.Duration;

import dev.openbatch.api.RetentionConfig;
import io.quarkus.runtime.configuration.MemorySize;

/** The configured retention with other step sizes and index upkeep settings, for the housekeeping jobs' tests. */
record RetentionSettings(RetentionConfig c, int rowsPerTransaction, double reindexBloat, MemorySize reindexMinSize) implements RetentionConfig {
    /** The configured retention with fewer rows per transaction. */
    static RetentionSettings rows(RetentionConfig c, int rows) {
        return new RetentionSettings(c, rows, c.reindexBloat(), c.reindexMinSize());
    }

    /** The configured retention with another bloat factor and a minimum size in KiB. */
    static RetentionSettings upkeep(RetentionConfig c, double bloat, int minKib) {
        return new RetentionSettings(c, c.rowsPerTransaction(), bloat, new MemorySize(BigInteger.valueOf(minKib * 1024L)));
    }

    @Override
    public Duration batchData() { return c.batchData(); }

    @Override
    public Duration files() { return c.files(); }

    @Override
    public Duration webhooks() { return c.webhooks(); }

    @Override
    public Duration interval() { return c.interval(); }
}
