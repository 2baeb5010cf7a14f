package dev.openbatch.jobs;

import java.util.Map;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Metadata;
import dev.openbatch.api.Params;
import dev.openbatch.api.Time;
import dev.openbatch.store.JobStore;
import dev.openbatch.store.Transactions;
import io.quarkus.hibernate.reactive.panache.common.WithTransaction;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * A project's jobs: made, read and listed through Hibernate, and the project's default job made on
 * first use (one statement of {@link JobStore}, safe when requests race).
 */
@ApplicationScoped
public class JobService {
    public static final String DEFAULT_WINDOW = "24h";

    private final JobRepository jobs;
    private final Time time;
    private final Transactions transactions;

    public JobService(JobRepository jobs, Time time, Transactions transactions) {
        this.jobs = jobs;
        this.time = time;
        this.transactions = transactions;
    }

    /** The body of POST /v1/jobs. */
    @RegisterForReflection
    public record CreateJob(String name, String model, String completion_window, Integer priority,
            Integer max_concurrency, Map<String, Object> metadata) {
    }

    @WithTransaction
    public Uni<JobView> create(String project, CreateJob req) {
        if (req == null) {
            throw ApiException.invalid("The request body must be a JSON object.", null, "invalid_json");
        }
        Params.text("name", req.name());
        Params.text("model", req.model());
        if (req.name() != null && req.name().length() > 256) {
            throw ApiException.invalid("Invalid 'name': at most 256 characters.", "name", "invalid_value");
        }
        String window = req.completion_window() == null ? DEFAULT_WINDOW : req.completion_window();
        CompletionWindow.seconds(window, "completion_window");
        if (req.max_concurrency() != null && req.max_concurrency() < 1) {
            throw ApiException.invalid("Invalid 'max_concurrency': must be at least 1, or null for no cap.", "max_concurrency", "invalid_value");
        }
        if (req.model() != null && req.model().isBlank()) {
            throw ApiException.invalid("Invalid 'model': must not be empty.", "model", "invalid_value");
        }
        JobEntity j = new JobEntity();
        j.id = Ids.job();
        j.project = project;
        j.name = req.name() == null ? j.id : req.name();
        j.model = req.model();
        j.completionWindow = window;
        j.priority = req.priority() == null ? 0 : req.priority();
        j.maxConcurrency = req.max_concurrency();
        j.metadata = Metadata.toJson(Metadata.check(req.metadata()));
        j.createdAt = time.seconds();
        j.createdUs = time.orderingMicros();
        return jobs.persist(j).map(JobEntity::view);
    }

    public Uni<JobView> get(String project, String id) {
        return owned(project, id).map(JobEntity::view);
    }

    public Uni<JobEntity> owned(String project, String id) {
        return jobs.findOwned(project, id).onItem().ifNull().failWith(() -> ApiException.notFound("job", id));
    }

    public Uni<ListPage<JobView>> list(String project, Integer limit, String after) {
        int n = limit == null ? 20 : limit;
        if (n < 1 || n > 100) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and 100.", "limit", "invalid_value");
        }
        Uni<Void> ensure = ensureDefault(project);
        Uni<JobEntity> cursor = after == null ? Uni.createFrom().nullItem()
                : jobs.findOwned(project, after).onItem().ifNull()
                        .failWith(() -> ApiException.invalid("Invalid 'after': no job with id '" + ApiException.clip(after) + "'.", "after", "invalid_value"));
        return ensure.chain(() -> cursor).chain(c -> jobs.page(project, c, n + 1))
                .map(rows -> ListPage.of(rows.stream().map(JobEntity::view).toList(), n, JobView::id));
    }

    /**
     * Makes sure the project has its default job; safe when many requests race (one insert wins).
     * Runs as its own statement, outside any Hibernate session.
     */
    public Uni<Void> ensureDefault(String project) {
        return JobStore.ensureDefault(transactions.autoCommit(), Ids.job(), project, DEFAULT_WINDOW, time.seconds(), time.orderingMicros());
    }
}
