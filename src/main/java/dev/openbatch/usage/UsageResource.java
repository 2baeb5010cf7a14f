package dev.openbatch.usage;

import java.util.ArrayList;
import java.util.List;

import org.jboss.resteasy.reactive.RestQuery;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.Time;
import dev.openbatch.auth.CurrentProject;
import dev.openbatch.usage.UsageViews.BatchUsage;
import dev.openbatch.usage.UsageViews.Cost;
import dev.openbatch.usage.UsageViews.Page;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/**
 * {@code GET /v1/organization/usage/batches} and {@code GET /v1/organization/costs}: usage and
 * costs across projects, in the shape of OpenAI's usage and costs API. The operator's admin key
 * reads every project's; a project's key reads its own only (as if it had asked for
 * {@code project_ids=<its id>}; naming another project is a 403). List parameters may repeat ({@code models=a&models=b}), be comma-separated,
 * or carry {@code []} after their name.
 */
@Path("/v1/organization")
@Produces(MediaType.APPLICATION_JSON)
public class UsageResource {
    private final UsageService usage;
    private final CurrentProject project;
    private final Time time;

    public UsageResource(UsageService usage, CurrentProject project, Time time) {
        this.usage = usage;
        this.project = project;
        this.time = time;
    }

    @GET
    @Path("usage/batches")
    public Uni<Page<BatchUsage>> usage(@RestQuery("start_time") String startTime, @RestQuery("end_time") String endTime,
            @RestQuery("bucket_width") String bucketWidth, @RestQuery("group_by") List<String> groupBy,
            @RestQuery("group_by[]") List<String> groupByBrackets, @RestQuery("project_ids") List<String> projectIds,
            @RestQuery("project_ids[]") List<String> projectIdsBrackets, @RestQuery("models") List<String> models,
            @RestQuery("models[]") List<String> modelsBrackets, @RestQuery String limit, @RestQuery String page) {
        return usage.usage(UsageQuery.parse(startTime, endTime, bucketWidth, both(groupBy, groupByBrackets), visible(both(projectIds, projectIdsBrackets)),
                both(models, modelsBrackets), limit, page, time.seconds(), UsageService.USAGE_GROUPS));
    }

    @GET
    @Path("costs")
    public Uni<Page<Cost>> costs(@RestQuery("start_time") String startTime, @RestQuery("end_time") String endTime,
            @RestQuery("bucket_width") String bucketWidth, @RestQuery("group_by") List<String> groupBy,
            @RestQuery("group_by[]") List<String> groupByBrackets, @RestQuery("project_ids") List<String> projectIds,
            @RestQuery("project_ids[]") List<String> projectIdsBrackets, @RestQuery String limit, @RestQuery String page) {
        return usage.costs(UsageQuery.parse(startTime, endTime, bucketWidth, both(groupBy, groupByBrackets), visible(both(projectIds, projectIdsBrackets)),
                List.of(), limit, page, time.seconds(), UsageService.COST_GROUPS));
    }

    /**
     * The projects the query may read: those asked for, for the admin key; for a project's key its
     * own project only (403 when {@code project_ids} names another).
     */
    private List<String> visible(List<String> asked) {
        if (project.admin()) {
            return asked;
        }
        String own = project.id();
        for (String raw : asked) {
            for (String id : raw.split(",")) {
                if (!id.isBlank() && !id.trim().equals(own)) {
                    throw ApiException.forbidden("A project key reads its own project's usage and costs only.");
                }
            }
        }
        return List.of(own);
    }

    private static List<String> both(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>();
        if (a != null) {
            out.addAll(a);
        }
        if (b != null) {
            out.addAll(b);
        }
        return out;
    }
}
