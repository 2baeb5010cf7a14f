package dev.openbatch.files;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Transaction;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class FilesApiTest {
    static final int LIMIT = 8 * 1024 * 1024;

    @Inject
    Pool pool;

    static String run() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    static Response upload(String key, byte[] content, String filename, String purpose) {
        return as(key).multiPart("file", filename, content, "application/octet-stream").multiPart("purpose", purpose).post("/v1/files");
    }

    static String line(String customId) {
        return Api.chatLine(customId, "fake-model", null) + "\n";
    }

    @Test
    void uploadAnswersTheFileObject() {
        byte[] content = (line(run() + "-1") + line(run() + "-2")).getBytes(StandardCharsets.UTF_8);
        long before = System.currentTimeMillis() / 1000;
        Response r = upload(KEY_A, content, "input.jsonl", "batch");
        r.then().statusCode(200);
        JsonPath f = r.jsonPath();
        assertEquals(Set.of("id", "object", "bytes", "created_at", "expires_at", "filename", "purpose", "status"), f.getMap("$").keySet());
        assertTrue(f.getString("id").matches("file-[0-9A-Za-z]{24}"), f.getString("id"));
        assertEquals("file", f.getString("object"));
        assertEquals(content.length, f.getLong("bytes"));
        assertTrue(f.getLong("created_at") >= before && f.getLong("created_at") <= before + 5);
        // no expires_after: the default retention of files (openbatch.retention.files, 30 days), as OpenAI's batch files
        assertEquals(f.getLong("created_at") + 30 * 86400, f.getLong("expires_at"));
        assertEquals("input.jsonl", f.getString("filename"));
        assertEquals("batch", f.getString("purpose"));
        assertEquals("processed", f.getString("status"));
    }

    @Test
    void uploadWithExpiresAfterSetsExpiresAt() {
        Response r = as(KEY_A).multiPart("file", "e.jsonl", line(run()).getBytes(StandardCharsets.UTF_8), "application/jsonl")
                .multiPart("purpose", "batch").multiPart("expires_after[anchor]", "created_at").multiPart("expires_after[seconds]", "3600")
                .post("/v1/files");
        r.then().statusCode(200);
        assertEquals(r.jsonPath().getLong("created_at") + 3600, r.jsonPath().getLong("expires_at"));
    }

    @Test
    void uploadRejectsMissingOrInvalidParts() {
        byte[] c = line(run()).getBytes(StandardCharsets.UTF_8);
        assertEnvelope(as(KEY_A).multiPart("purpose", "batch").post("/v1/files"), 400, "file", "missing_required_parameter");
        assertEnvelope(as(KEY_A).multiPart("file", "a.jsonl", c, "application/jsonl").post("/v1/files"), 400, "purpose", "missing_required_parameter");
        assertEnvelope(upload(KEY_A, c, "a.jsonl", "batch_output"), 400, "purpose", "invalid_value");
        assertEnvelope(upload(KEY_A, c, "a.jsonl", "nonsense"), 400, "purpose", "invalid_value");
        assertEnvelope(as(KEY_A).multiPart("file", "a.jsonl", c, "application/jsonl").multiPart("file", "b.jsonl", c, "application/jsonl")
                .multiPart("purpose", "batch").post("/v1/files"), 400, "file", "invalid_value");
        assertEnvelope(as(KEY_A).multiPart("file", "a.jsonl", c, "application/jsonl").multiPart("purpose", "batch")
                .multiPart("expires_after[anchor]", "created_at").multiPart("expires_after[seconds]", "soon").post("/v1/files"),
                400, "expires_after[seconds]", "invalid_type");
        assertEnvelope(as(KEY_A).multiPart("file", "a.jsonl", c, "application/jsonl").multiPart("purpose", "batch")
                .multiPart("expires_after[anchor]", "created_at").multiPart("expires_after[seconds]", "60").post("/v1/files"),
                400, "expires_after[seconds]", "invalid_value");
        assertEnvelope(as(KEY_A).multiPart("file", "a.jsonl", c, "application/jsonl").multiPart("purpose", "batch")
                .multiPart("expires_after[anchor]", "last_used").multiPart("expires_after[seconds]", "3600").post("/v1/files"),
                400, "expires_after[anchor]", "invalid_value");
    }

    /** The OpenAI SDKs send bytes as a part without a filename: it is a file all the same, spooled, not a form field. */
    @Test
    void filePartWithoutFilenameIsStoredWhole() throws Exception {
        byte[] content = new byte[300 * 1024]; // over quarkus.http.limits.max-form-attribute-size
        new Random(5).nextBytes(content);
        HttpResponse<String> r = postMultipart(content, null);
        assertEquals(200, r.statusCode(), r.body());
        JsonPath f = JsonPath.from(r.body());
        assertEquals(content.length, f.getLong("bytes"));
        assertEquals("upload", f.getString("filename"));
        assertArrayEquals(content, as(KEY_A).get("/v1/files/" + f.getString("id") + "/content").then().statusCode(200).extract().asByteArray());
    }

    @Test
    void otherPurposesAreStored() {
        Response r = upload(KEY_A, "{\"a\":1}".getBytes(StandardCharsets.UTF_8), "data.json", "user_data");
        r.then().statusCode(200);
        assertEquals("user_data", r.jsonPath().getString("purpose"));
    }

    @Test
    void retrieveAnswersTheSameObjectAndOnlyToItsProject() {
        Response created = upload(KEY_A, line(run()).getBytes(StandardCharsets.UTF_8), "r.jsonl", "batch");
        String id = created.jsonPath().getString("id");
        Response got = as(KEY_A).get("/v1/files/" + id);
        got.then().statusCode(200);
        assertEquals(created.jsonPath().getMap("$"), got.jsonPath().getMap("$"));

        String m = assertEnvelope(as(KEY_B).get("/v1/files/" + id), 404, null, "not_found");
        assertTrue(m.contains(id), m);
        assertEnvelope(as(KEY_A).get("/v1/files/file-doesnotexist"), 404, null, "not_found");
    }

    @Test
    void contentIsStreamedBackByteForByteWhateverAcceptSays() {
        // every byte value, and more than two 1 MiB chunks so that the chunk boundaries are crossed
        byte[] content = new byte[2 * 1024 * 1024 + 12345];
        new Random(7).nextBytes(content);
        for (int i = 0; i < 256; i++) {
            content[i] = (byte) i;
        }
        String id = upload(KEY_A, content, "blob.bin", "user_data").then().statusCode(200).extract().path("id");
        for (String accept : List.of("application/binary", "*/*", "application/json", "text/plain", "application/octet-stream")) {
            Response r = as(KEY_A).header("Accept", accept).get("/v1/files/" + id + "/content");
            assertEquals(200, r.statusCode(), accept);
            assertArrayEquals(content, r.asByteArray(), accept);
            assertEquals("application/octet-stream", r.contentType(), accept);
        }
        assertEnvelope(as(KEY_B).header("Accept", "application/binary").get("/v1/files/" + id + "/content"), 404, null, "not_found");
        assertEnvelope(as(KEY_A).header("Accept", "application/binary").get("/v1/files/file-nope/content"), 404, null, "not_found");
    }

    @Test
    void jsonlContentIsServedAsJsonl() {
        String text = line(run() + "-a") + line(run() + "-b");
        String id = Api.upload(KEY_A, text);
        Response r = as(KEY_A).get("/v1/files/" + id + "/content");
        r.then().statusCode(200);
        assertEquals("application/jsonl", r.contentType());
        assertEquals(text, r.asString());
    }

    @Test
    void fileBytesLiveInPostgres() {
        byte[] content = new byte[1024 * 1024 + 1];
        new Random(3).nextBytes(content);
        String id = upload(KEY_A, content, "pg.bin", "user_data").then().statusCode(200).extract().path("id");
        var row = pool.preparedQuery("select count(*), sum(length(data)) from file_chunks where file_id = $1")
                .execute(Tuple.of(id)).await().atMost(Duration.ofSeconds(10)).iterator().next();
        assertEquals(2, row.getLong(0));
        assertEquals(content.length, row.getLong(1));
    }

    @Test
    void uploadAtTheLimitIsStoredAndOverItIs413() throws Exception {
        byte[] exact = new byte[LIMIT];
        new Random(11).nextBytes(exact);
        String id = upload(KEY_A, exact, "limit.bin", "user_data").then().statusCode(200).extract().path("id");
        assertArrayEquals(exact, as(KEY_A).get("/v1/files/" + id + "/content").then().statusCode(200).extract().asByteArray());

        // one byte over: passes the Content-Length check (multipart framing has room), refused after spooling
        String m = assertEnvelope(upload(KEY_A, new byte[LIMIT + 1], "over.bin", "user_data"), 413, "file", "file_too_large");
        assertTrue(m.startsWith("File is " + (LIMIT + 1) + " bytes") && m.contains(String.valueOf(LIMIT)), m);
        // far over, sent chunked (as rest-assured and the SDK do): measured after spooling
        assertEnvelope(upload(KEY_A, new byte[LIMIT + 1024 * 1024], "far.bin", "user_data"), 413, "file", "file_too_large");
        // far over with a Content-Length: refused from it, before the body is stored
        HttpResponse<String> early = postMultipart(new byte[LIMIT + 1024 * 1024], "big.bin");
        assertEquals(413, early.statusCode(), early.body());
        assertEquals("file_too_large", JsonPath.from(early.body()).getString("error.code"));
        assertEquals("file", JsonPath.from(early.body()).getString("error.param"));
        assertTrue(JsonPath.from(early.body()).getString("error.message").startsWith("The upload is "), early.body());
        // and the server goes on serving
        as(KEY_A).get("/v1/files/" + id).then().statusCode(200);
    }

    /** A multipart upload with a Content-Length header (java.net.http sends one for a byte array); filename may be null. */
    static HttpResponse<String> postMultipart(byte[] content, String filename) throws Exception {
        String boundary = "b" + UUID.randomUUID();
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n--" + boundary
                + "\r\nContent-Disposition: form-data; name=\"file\"" + (filename == null ? "" : "; filename=\"" + filename + "\"")
                + "\r\nContent-Type: application/octet-stream\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] body = new byte[head.length + content.length + tail.length];
        System.arraycopy(head, 0, body, 0, head.length);
        System.arraycopy(content, 0, body, head.length, content.length);
        System.arraycopy(tail, 0, body, head.length + content.length, tail.length);
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + RestAssured.port + "/v1/files"))
                .header("Authorization", "Bearer " + KEY_A).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(request, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void listFiltersOrdersAndPages() {
        String tag = run();
        String f1 = upload(KEY_A, tag.getBytes(StandardCharsets.UTF_8), "1.txt", "evals").then().statusCode(200).extract().path("id");
        String f2 = upload(KEY_A, tag.getBytes(StandardCharsets.UTF_8), "2.txt", "evals").then().statusCode(200).extract().path("id");
        String f3 = upload(KEY_A, tag.getBytes(StandardCharsets.UTF_8), "3.txt", "evals").then().statusCode(200).extract().path("id");

        JsonPath desc = as(KEY_A).queryParam("purpose", "evals").queryParam("limit", 3).get("/v1/files").then().statusCode(200).extract().jsonPath();
        assertEquals(Set.of("object", "data", "first_id", "last_id", "has_more"), desc.getMap("$").keySet());
        assertEquals("list", desc.getString("object"));
        assertEquals(List.of(f3, f2, f1), desc.getList("data.id"));
        assertEquals(f3, desc.getString("first_id"));
        assertEquals(f1, desc.getString("last_id"));
        assertTrue(desc.getList("data.purpose").stream().allMatch("evals"::equals));

        JsonPath asc = as(KEY_A).queryParam("purpose", "evals").queryParam("order", "asc").queryParam("after", f1).queryParam("limit", 1)
                .get("/v1/files").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(f2), asc.getList("data.id"));
        assertEquals(f2, asc.getString("first_id"));
        assertEquals(f2, asc.getString("last_id"));
        assertTrue(asc.getBoolean("has_more"));

        JsonPath last = as(KEY_A).queryParam("purpose", "evals").queryParam("order", "asc").queryParam("after", f2).queryParam("limit", 5)
                .get("/v1/files").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(f3), last.getList("data.id"));
        assertFalse(last.getBoolean("has_more"));

        JsonPath older = as(KEY_A).queryParam("purpose", "evals").queryParam("after", f2).queryParam("limit", 1)
                .get("/v1/files").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(f1), older.getList("data.id"));

        JsonPath none = as(KEY_A).queryParam("purpose", "evals").queryParam("order", "asc").queryParam("after", f3)
                .get("/v1/files").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(), none.getList("data"));
        assertNull(none.get("first_id"));
        assertNull(none.get("last_id"));
        assertFalse(none.getBoolean("has_more"));

        // without a purpose, every purpose of the project
        List<String> all = as(KEY_A).queryParam("limit", 10000).get("/v1/files").then().statusCode(200).extract().jsonPath().getList("data.id");
        assertTrue(all.containsAll(List.of(f1, f2, f3)));
        // and nothing of another project
        List<String> ofB = as(KEY_B).queryParam("limit", 10000).get("/v1/files").then().statusCode(200).extract().jsonPath().getList("data.id");
        assertFalse(ofB.contains(f1) || ofB.contains(f2) || ofB.contains(f3));
    }

    @Test
    void listRejectsBadParameters() {
        String own = upload(KEY_A, "x".getBytes(StandardCharsets.UTF_8), "x.txt", "evals").then().statusCode(200).extract().path("id");
        assertEnvelope(as(KEY_A).queryParam("limit", "abc").get("/v1/files"), 400, "limit", "invalid_type");
        assertEnvelope(as(KEY_A).queryParam("limit", 0).get("/v1/files"), 400, "limit", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("limit", 10001).get("/v1/files"), 400, "limit", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("order", "newest").get("/v1/files"), 400, "order", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("purpose", "nonsense").get("/v1/files"), 400, "purpose", "invalid_value");
        assertEnvelope(as(KEY_A).queryParam("after", "file-unknown").get("/v1/files"), 400, "after", "invalid_value");
        // another project's file is no cursor either
        assertEnvelope(as(KEY_B).queryParam("after", own).get("/v1/files"), 400, "after", "invalid_value");
        as(KEY_A).queryParam("limit", 10000).get("/v1/files").then().statusCode(200);
        as(KEY_A).queryParam("limit", 1).queryParam("purpose", "batch_output").get("/v1/files").then().statusCode(200);
    }

    @Test
    void deleteAnswersDeletedAndTheFileIsGone() {
        String id = Api.upload(KEY_A, line(run()));
        assertEnvelope(as(KEY_B).delete("/v1/files/" + id), 404, null, "not_found");
        as(KEY_A).get("/v1/files/" + id).then().statusCode(200);

        Response r = as(KEY_A).delete("/v1/files/" + id);
        r.then().statusCode(200);
        assertEquals(Map.of("id", id, "object", "file", "deleted", true), r.jsonPath().getMap("$"));
        assertEnvelope(as(KEY_A).get("/v1/files/" + id), 404, null, "not_found");
        assertEnvelope(as(KEY_A).get("/v1/files/" + id + "/content"), 404, null, "not_found");
        assertEnvelope(as(KEY_A).delete("/v1/files/" + id), 404, null, "not_found");
        long chunks = pool.preparedQuery("select count(*) from file_chunks where file_id = $1").execute(Tuple.of(id))
                .await().atMost(Duration.ofSeconds(10)).iterator().next().getLong(0);
        assertEquals(0, chunks);
    }

    @Test
    void deleteIs409WhileALiveBatchReadsTheFile() {
        String run = run();
        String text = Api.chatLine(run + "-slow", "fake-model", "{\"latency_ms\":1500}") + "\n";
        String id = Api.upload(KEY_A, text);
        String batch = Api.createBatch(KEY_A, id, "/v1/chat/completions", null).getString("id");
        String m = assertEnvelope(as(KEY_A).delete("/v1/files/" + id), 409, null, "file_in_use");
        assertTrue(m.contains(batch), m);
        as(KEY_A).get("/v1/files/" + id).then().statusCode(200);

        Api.awaitStatus(KEY_A, batch, "completed", Duration.ofSeconds(30));
        as(KEY_A).delete("/v1/files/" + id).then().statusCode(200);
        // the finished batch still answers, naming a file that is gone
        assertEquals(id, Api.batch(KEY_A, batch).getString("input_file_id"));
    }

    /**
     * A DELETE that comes while a batch is being made from the file (its transaction holds the
     * file's row, as a create and a retry do) waits for it, then sees the batch: 409, and the file
     * stays. Checking before deleting would have let the file go under the new batch.
     */
    @Test
    void deleteWaitsForABatchBeingMadeFromTheFileThenIs409() throws Exception {
        String run = run();
        String id = Api.upload(KEY_A, line(run + "-a"));
        String other = Api.createBatch(KEY_A, Api.upload(KEY_A, line(run + "-b")), "/v1/chat/completions", null).getString("id");
        String made = "batch_" + run + "race";
        Duration wait = Duration.ofSeconds(30);
        SqlConnection c = pool.getConnection().await().atMost(wait);
        try {
            Transaction tx = c.begin().await().atMost(wait);
            c.preparedQuery("select 1 from files where id = $1 for key share").execute(Tuple.of(id)).await().atMost(wait);
            CompletableFuture<Response> delete = CompletableFuture.supplyAsync(() -> as(KEY_A).delete("/v1/files/" + id));
            Thread.sleep(1000);
            assertFalse(delete.isDone(), "the delete waits for the batch being made");
            // the batch: a copy of another of the project's batches, reading this file, in_progress
            // with one line unsettled and no line row (the engine has nothing to do for it)
            c.preparedQuery("insert into batches select * from jsonb_populate_record(null::batches, (select to_jsonb(b)"
                    + " || jsonb_build_object('id', $2::text, 'input_file_id', $3::text, 'status', 'in_progress', 'validated', true, 'total', 1, 'completed', 0, 'failed', 0, 'idempotency_key', null)"
                    + " from batches b where b.id = $1))").execute(Tuple.of(other, made, id)).await().atMost(wait);
            tx.commit().await().atMost(wait);
            String m = assertEnvelope(delete.get(30, TimeUnit.SECONDS), 409, null, "file_in_use");
            assertTrue(m.contains(made), m);
        } finally {
            c.close().await().atMost(wait);
        }
        as(KEY_A).get("/v1/files/" + id).then().statusCode(200);
        // without that batch (a stand-in, not one to run) the file goes
        pool.preparedQuery("delete from batches where id = $1").execute(Tuple.of(made)).await().atMost(wait);
        as(KEY_A).delete("/v1/files/" + id).then().statusCode(200);
    }
}
