package dev.openbatch.engine.housekeeping;

import org.jboss.logging.Logger;

import dev.openbatch.api.Time;
import dev.openbatch.store.FileStore;
import io.smallrye.mutiny.Uni;

/** Deletes the files whose {@code expires_at} has passed, with their chunks. */
public final class FileRetention implements Job {
    private static final Logger LOG = Logger.getLogger(FileRetention.class);

    private final FileStore files;
    private final Time time;

    public FileRetention(FileStore files, Time time) {
        this.files = files;
        this.time = time;
    }

    @Override
    public String name() { return "file retention"; }

    @Override
    public long periodMillis() { return 60_000; }

    @Override
    public Uni<Integer> run() {
        return files.deleteExpired(time.seconds()).invoke(n -> {
            if (n > 0) {
                LOG.infof("deleted %d expired file(s)", n);
            }
        });
    }
}
