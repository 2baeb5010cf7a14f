package dev.openbatch.batches;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import dev.openbatch.quotas.Quotas;
import dev.openbatch.api.ApiException;
import dev.openbatch.api.Ids;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.status.LineState;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * A batch's lines as the API reads them, while it runs and after: the results stream
 * ({@code GET /v1/batches/{id}/results}) and the lines' states ({@code GET /v1/batches/{id}/requests}).
 * It checks the query and that the batch is the project's; {@link BatchLines} reads the lines.
 */
@ApplicationScoped
public class BatchLinesService {
    /** Most lines per page of GET /v1/batches/{id}/requests, and the default. */
    static final int MAX_LINES_PAGE = 1000;
    static final int DEFAULT_LINES_PAGE = 100;

    private final Owned owned;
    private final BatchLines lines;

    private final Quotas quotas;

    public BatchLinesService(Owned owned, BatchLines lines, Quotas quotas) {
        this.quotas = quotas;
        this.owned = owned;
        this.lines = lines;
    }

    /** The next settled lines of the batch after the cursor {@code after}, for GET /v1/batches/{id}/results. */
    public Uni<BatchLines.Results> results(String project, String id, String after, String outcome, Integer limit) {
        BatchLines.Position from = BatchLines.Position.parse(Params.text("after", after));
        BatchLines.Outcome which = BatchLines.Outcome.of(outcome);
        int n = limit == null ? BatchLines.DEFAULT_RESULTS : limit;
        if (n < 1 || n > BatchLines.MAX_RESULTS) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and " + BatchLines.MAX_RESULTS + ".", "limit", "invalid_value");
        }
        return quotas.admitResultsRead(project)
                .chain(() -> Panache.withSession(() -> owned.batch(project, id)))
                .chain(b -> lines.results(b.id, b.lineKey, from, which, n));
    }

    /** A page of the batch's lines in line order, for GET /v1/batches/{id}/requests. */
    public Uni<ListPage<LineView>> requests(String project, String id, String after, Integer limit, String state, String errorCode) {
        int n = limit == null ? DEFAULT_LINES_PAGE : limit;
        if (n < 1 || n > MAX_LINES_PAGE) {
            throw ApiException.invalid("Invalid 'limit': must be between 1 and " + MAX_LINES_PAGE + ".", "limit", "invalid_value");
        }
        Set<LineState> states = EnumSet.noneOf(LineState.class);
        for (String s : list("state", state)) {
            try {
                states.add(LineState.of(s));
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("Invalid 'state': '" + ApiException.clip(s)
                        + "'. Use queued, running, succeeded, failed, expired or cancelled (or several, comma-separated).", "state", "invalid_value");
            }
        }
        List<String> codes = list("error_code", errorCode);
        return Panache.withSession(() -> owned.batch(project, id)).chain(b -> {
            int afterLine = 0;
            if (after != null) {
                Integer line = new Ids.LineIds(b.lineKey).line(after);
                if (line == null) {
                    throw ApiException.invalid("Invalid 'after': '" + ApiException.clip(after) + "' is not the id of one of this batch's lines.",
                            "after", "invalid_value");
                }
                afterLine = line;
            }
            return lines.states(b.id, b.lineKey, afterLine, states, codes, n + 1);
        }).map(rows -> ListPage.of(rows, n, LineView::id));
    }

    /** A comma-separated query value as its items (none when absent); a blank item or a NUL is a 400 naming {@code param}. */
    private static List<String> list(String param, String value) {
        List<String> out = new ArrayList<>();
        if (value == null) {
            return out;
        }
        for (String item : Params.text(param, value).split(",", -1)) {
            String v = item.trim();
            if (v.isEmpty()) {
                throw ApiException.invalid("Invalid '" + param + "': an empty value.", param, "invalid_value");
            }
            out.add(v);
        }
        return out;
    }
}
