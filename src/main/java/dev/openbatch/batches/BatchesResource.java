package dev.openbatch.batches;

import java.util.List;
import java.util.Map;

import org.jboss.resteasy.reactive.RestHeader;
import org.jboss.resteasy.reactive.RestMulti;
import org.jboss.resteasy.reactive.RestQuery;
import org.jboss.resteasy.reactive.RestResponse;

import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.auth.CurrentProject;
import dev.openbatch.validation.ValidationReport;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.buffer.Buffer;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/**
 * {@code /v1/batches}: JSON in and out, but for the results stream (JSONL, whatever Accept says, as a
 * file's content). Each call goes to the service of what it serves: the batches themselves
 * ({@link BatchService}), their lines ({@link BatchLinesService}), retries ({@link RetryService}) and
 * dry runs ({@link DryRunService}).
 */
@Path("/v1/batches")
public class BatchesResource {
    private final BatchService batches;
    private final BatchLinesService lines;
    private final RetryService retries;
    private final DryRunService dryRuns;
    private final CurrentProject project;

    public BatchesResource(BatchService batches, BatchLinesService lines, RetryService retries, DryRunService dryRuns,
            CurrentProject project) {
        this.batches = batches;
        this.lines = lines;
        this.retries = retries;
        this.dryRuns = dryRuns;
        this.project = project;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<BatchView> create(CreateBatch body, @RestHeader("Idempotency-Key") String idempotencyKey) {
        return batches.create(project.id(), body, idempotencyKey);
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<ListPage<BatchView>> list(@RestQuery String limit, @RestQuery String after) {
        return batches.list(project.id(), Params.integer("limit", limit), after);
    }

    @GET
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<RestResponse<BatchView>> get(@PathParam("id") String id) {
        String p = project.id();
        return batches.get(p, id).chain(b -> batches.paused(p, b).map(why -> why == null ? RestResponse.ok(b)
                : RestResponse.ResponseBuilder.ok(b).header(PAUSED, why).build()));
    }

    /** The header of a batch's GET that says why it sends no lines now (see {@link BatchService#paused}). */
    public static final String PAUSED = "openbatch-paused";

    @POST
    @Path("{id}/cancel")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<BatchView> cancel(@PathParam("id") String id) {
        return batches.cancel(project.id(), id);
    }

    /** The header that carries the cursor to pass back as {@code after}. */
    public static final String CURSOR = "Openbatch-Cursor";
    /** {@code true} when more settled lines can be read at once (call again without waiting). */
    public static final String HAS_MORE = "Openbatch-Has-More";
    /** {@code true} when the batch has ended and every line it settled has been read up to this cursor. */
    public static final String COMPLETE = "Openbatch-Complete";

    /**
     * The lines settled since the cursor {@code after} (all without one), as JSONL in the output and
     * error files' format, while the batch runs; {@code outcome} = {@code succeeded} or {@code failed}
     * keeps those of one file. The cursor to continue from is in the {@link #CURSOR} header.
     */
    @GET
    @Path("{id}/results")
    public RestMulti<Buffer> results(@PathParam("id") String id, @RestQuery String after, @RestQuery String outcome,
            @RestQuery String limit) {
        return RestMulti.fromUniResponse(lines.results(project.id(), id, after, outcome, Params.integer("limit", limit)),
                r -> r.body(),
                r -> Map.of("Content-Type", List.of("application/jsonl"), CURSOR, List.of(r.cursor()),
                        HAS_MORE, List.of(Boolean.toString(r.hasMore())), COMPLETE, List.of(Boolean.toString(r.complete()))));
    }

    /** Every line of the batch in line order, with its state, attempts and last answer; filters {@code state}, {@code error_code}. */
    @GET
    @Path("{id}/requests")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<ListPage<LineView>> requests(@PathParam("id") String id, @RestQuery String after, @RestQuery String limit,
            @RestQuery String state, @RestQuery("error_code") String errorCode) {
        return lines.requests(project.id(), id, after, Params.integer("limit", limit), state, errorCode);
    }

    /** A new batch over the failed, expired and cancelled lines of an ended batch. */
    @POST
    @Path("{id}/retry")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<BatchView> retry(@PathParam("id") String id, RetryService.RetryBatch body, @RestHeader("Idempotency-Key") String idempotencyKey) {
        return retries.retry(project.id(), id, body, idempotencyKey);
    }

    /** The same without a JSON body (every field left out), as {@code cancel} is called; a body of another type is a 415. */
    @POST
    @Path("{id}/retry")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<BatchView> retryWithoutBody(@PathParam("id") String id, String body, @RestHeader("Idempotency-Key") String idempotencyKey) {
        if (body != null && !body.isBlank()) {
            throw new NotSupportedException();
        }
        return retries.retry(project.id(), id, null, idempotencyKey);
    }

    /** What the validation of a batch created with this body would find, without creating anything. */
    @POST
    @Path("validate")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<ValidationReport> validate(CreateBatch body) {
        return dryRuns.validate(project.id(), body);
    }
}
