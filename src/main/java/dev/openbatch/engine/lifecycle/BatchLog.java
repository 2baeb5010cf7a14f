package dev.openbatch.engine.lifecycle;

import java.util.Locale;

import org.jboss.logging.Logger;
import org.jboss.logging.MDC;

import dev.openbatch.api.LogText;
import dev.openbatch.store.BatchStore;
import jakarta.enterprise.context.ApplicationScoped;

/** One log line per batch transition, with the batch id, project and counts (as MDC fields for JSON logs too). */
@ApplicationScoped
public class BatchLog {
    private static final Logger LOG = Logger.getLogger("openbatch.batches");

    /** The MDC fields of a transition's line, named as JSON logs show them: each constant's name in lower case. */
    private enum Field {
        BATCH_ID, PROJECT, STATUS, TOTAL, COMPLETED, FAILED;

        final String key = name().toLowerCase(Locale.ROOT);
    }

    private final BatchStore batches;

    public BatchLog(BatchStore batches) {
        this.batches = batches;
    }

    public void transition(String batchId, String status) {
        batches.counts(batchId).subscribe().with(c -> {
            if (c != null) {
                log(batchId, c.project(), status, c.total(), c.completed(), c.failed(), c.model());
            }
        }, e -> LOG.infof("batch %s -> %s", batchId, status));
    }

    public static void log(String batchId, String project, String status, int total, int completed, int failed, String model) {
        MDC.put(Field.BATCH_ID.key, batchId);
        MDC.put(Field.PROJECT.key, project);
        MDC.put(Field.STATUS.key, status);
        MDC.put(Field.TOTAL.key, Integer.toString(total));
        MDC.put(Field.COMPLETED.key, Integer.toString(completed));
        MDC.put(Field.FAILED.key, Integer.toString(failed));
        try {
            LOG.info(line(batchId, project, status, total, completed, failed, model));
        } finally {
            for (Field f : Field.values()) {
                MDC.remove(f.key);
            }
        }
    }

    /** The log line; the model comes from the client's input file and is escaped so it cannot start a line of its own. */
    public static String line(String batchId, String project, String status, int total, int completed, int failed, String model) {
        return String.format("batch %s project=%s -> %s (total=%d completed=%d failed=%d model=%s)", batchId, LogText.of(project), status,
                total, completed, failed, model == null ? null : LogText.of(model));
    }
}
