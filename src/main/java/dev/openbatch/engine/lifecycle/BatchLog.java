package dev.openbatch.engine.lifecycle;

import org.jboss.logging.Logger;
import org.jboss.logging.MDC;

import dev.openbatch.api.LogText;

import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/** One log line per batch transition, with the batch id, project and counts (as MDC fields for JSON logs too). */
@ApplicationScoped
public class BatchLog {
    private static final Logger LOG = Logger.getLogger("openbatch.batches");
    private final Pool pool;

    public BatchLog(Pool pool) {
        this.pool = pool;
    }

    public void transition(String batchId, String status) {
        pool.preparedQuery("select project, total, completed, failed, model from batches where id = $1").execute(Tuple.of(batchId))
                .subscribe().with(rows -> {
                    if (rows.size() == 0) {
                        return;
                    }
                    Row r = rows.iterator().next();
                    log(batchId, r.getString(0), status, r.getInteger(1), r.getInteger(2), r.getInteger(3), r.getString(4));
                }, e -> LOG.infof("batch %s -> %s", batchId, status));
    }

    public static void log(String batchId, String project, String status, int total, int completed, int failed, String model) {
        MDC.put("batch_id", batchId);
        MDC.put("project", project);
        MDC.put("status", status);
        MDC.put("total", Integer.toString(total));
        MDC.put("completed", Integer.toString(completed));
        MDC.put("failed", Integer.toString(failed));
        try {
            LOG.info(line(batchId, project, status, total, completed, failed, model));
        } finally {
            MDC.remove("batch_id");
            MDC.remove("project");
            MDC.remove("status");
            MDC.remove("total");
            MDC.remove("completed");
            MDC.remove("failed");
        }
    }

    /** The log line; the model comes from the client's input file and is escaped so it cannot start a line of its own. */
    public static String line(String batchId, String project, String status, int total, int completed, int failed, String model) {
        return String.format("batch %s project=%s -> %s (total=%d completed=%d failed=%d model=%s)", batchId, LogText.of(project), status,
                total, completed, failed, model == null ? null : LogText.of(model));
    }
}
