package dev.openbatch.api;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/** A failure of our own is a 500 with a fixed message: never the exception's text, which can name hosts and data. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class InternalErrorTextTest {
    @Inject
    Pool pool;

    @Test
    void aServerFailureShowsNoneOfTheExceptionsText() {
        String id = createBatch(KEY_A, upload(KEY_A, chatLine("c-1", "fake-model", null) + "\n"), "/v1/chat/completions", "24h")
                .getString("id");
        // a stored value the service cannot read (Jackson's message would quote it): reading the batch fails inside the service
        errors(id, "[\"pg-primary.db.internal:5432\"]");
        try {
            Response r = as(KEY_A).get("/v1/batches/" + id);
            String body = r.asString();
            String message = assertEnvelope(r, 500, null, "internal_error");
            assertTrue(message.startsWith("The server had an error while processing your request."), message);
            assertFalse(body.contains("pg-primary") || body.contains("not JSON") || body.contains("deserialize"), body);
        } finally {
            errors(id, null); // the other tests list this project's batches
        }
    }

    private void errors(String batchId, String value) {
        pool.preparedQuery("update batches set errors = $2 where id = $1").execute(Tuple.of(batchId, value))
                .await().atMost(Duration.ofSeconds(5));
    }
}
