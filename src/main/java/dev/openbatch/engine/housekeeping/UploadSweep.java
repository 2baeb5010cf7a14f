package dev.openbatch.engine.housekeeping;

import org.jboss.logging.Logger;

import dev.openbatch.api.Time;
import dev.openbatch.store.FileStore;
import io.smallrye.mutiny.Uni;

/**
 * Deletes the uploads that a process left unfinished when it died (or lost its database while it
 * deleted a failed one): rows of {@code files} still in progress past their {@code upload_until},
 * with the chunks and line index they had written. Each process writes that time into its uploads'
 * rows itself (its own {@code openbatch.limits.upload-deadline} and a margin for the last writes)
 * and cuts every upload at its deadline, so a row past it has no live writer, whichever process
 * started it and whether that process ran an engine (an API-only process has no heartbeat to
 * judge it by). A few uploads per transaction, each skipped by the other processes while one
 * deletes it (and while its writer still writes it).
 */
public final class UploadSweep implements Job {
    private static final Logger LOG = Logger.getLogger(UploadSweep.class);
    /** Uploads deleted per transaction: each is at most the largest upload, its index one row per line. */
    static final int UPLOADS_PER_TRANSACTION = 8;

    private final FileStore files;
    private final Time time;

    public UploadSweep(FileStore files, Time time) {
        this.files = files;
        this.time = time;
    }

    @Override
    public String name() { return "abandoned uploads"; }

    @Override
    public long periodMillis() { return 60_000; }

    /** Deletes until no abandoned upload is left; how many. */
    @Override
    public Uni<Long> run() {
        long now = time.millis();
        return Steps.untilDone(() -> files.deleteAbandonedUploads(now, UPLOADS_PER_TRANSACTION), n -> n == 0, n -> n)
                .invoke(n -> {
                    if (n > 0) {
                        LOG.infof("deleted %d upload(s) a process left unfinished", n);
                    }
                });
    }
}
