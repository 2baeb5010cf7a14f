package dev.openbatch.engine.housekeeping;

import org.jboss.logging.Logger;

import dev.openbatch.api.RetentionConfig;
import dev.openbatch.api.Time;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.FileStore;
import io.smallrye.mutiny.Uni;

/**
 * Deletes the files whose {@code expires_at} has passed, with their chunks and line index (every
 * file has one: {@code expires_after}, or {@code openbatch.retention.files} after its creation),
 * except the input of a batch still live. A few files per transaction (a file's chunks and index
 * go with it), each skipped by the other processes while one deletes it.
 */
public final class FileRetention implements Job {
    private static final Logger LOG = Logger.getLogger(FileRetention.class);
    /** Files deleted per transaction: each is at most the largest upload, its index one row per line. */
    static final int FILES_PER_TRANSACTION = 8;

    private final FileStore files;
    private final Time time;
    private final EngineMetrics metrics;
    private final RetentionConfig config;

    public FileRetention(FileStore files, Time time, EngineMetrics metrics, RetentionConfig config) {
        this.files = files;
        this.time = time;
        this.metrics = metrics;
        this.config = config;
    }

    @Override
    public String name() { return "file retention"; }

    @Override
    public long periodMillis() { return config.interval().toMillis(); }

    /** Deletes until no expired file is left; how many. */
    @Override
    public Uni<Long> run() {
        long now = time.seconds();
        return Steps.untilDone(() -> files.deleteExpired(now, FILES_PER_TRANSACTION)
                        .invoke(d -> metrics.purged(EngineMetrics.PURGED_FILES, d.files(), d.bytes())), d -> d.files() == 0, d -> d.files())
                .invoke(n -> {
                    if (n > 0) {
                        LOG.infof("deleted %d expired file(s)", n);
                    }
                })
                .call(() -> files.oldestExpired(time.seconds()).invoke(oldest -> metrics.overdue(EngineMetrics.DUE_FILES,
                        oldest == null ? 0 : time.seconds() - oldest)));
    }
}
