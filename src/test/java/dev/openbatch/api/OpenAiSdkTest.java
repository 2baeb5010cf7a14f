package dev.openbatch.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.HttpResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.batches.Batch;
import com.openai.models.batches.BatchCreateParams;
import com.openai.models.batches.BatchListPage;
import com.openai.models.batches.BatchListParams;
import com.openai.models.files.FileCreateParams;
import com.openai.models.files.FileObject;
import com.openai.models.files.FilePurpose;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;

/** The official OpenAI Java SDK, unmodified, pointed at the service: what a user does. */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class OpenAiSdkTest {
    @TestHTTPResource("/v1")
    URL v1;

    OpenAIClient client;

    @BeforeEach
    void connect() {
        client = OpenAIOkHttpClient.builder().baseUrl(v1.toString()).apiKey(Api.KEY_A).maxRetries(0).build();
    }

    @AfterEach
    void close() {
        client.close();
    }

    static byte[] read(HttpResponse r) throws Exception {
        try (r; InputStream in = r.body()) {
            assertEquals(200, r.statusCode());
            return in.readAllBytes();
        }
    }

    @Test
    void uploadCreateRetrieveListContent() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> ids = List.of(run + "-a", run + "-b", run + "-c");
        StringBuilder sb = new StringBuilder();
        for (String id : ids) {
            sb.append(Api.chatLine(id, "fake-model", null)).append('\n');
        }
        byte[] input = sb.toString().getBytes(StandardCharsets.UTF_8);

        FileObject file = client.files().create(FileCreateParams.builder().file(input).purpose(FilePurpose.BATCH).build());
        file.validate();
        assertTrue(file.id().startsWith("file-"));
        assertEquals(input.length, file.bytes());
        assertEquals(FileObject.Purpose.BATCH, file.purpose());
        assertEquals(FileObject.Status.PROCESSED, file.status());
        assertEquals(file.id(), client.files().retrieve(file.id()).validate().id());

        Batch created = client.batches().create(BatchCreateParams.builder().inputFileId(file.id())
                .endpoint(BatchCreateParams.Endpoint.V1_CHAT_COMPLETIONS).completionWindow(BatchCreateParams.CompletionWindow._24H)
                .metadata(BatchCreateParams.Metadata.builder().putAdditionalProperty("run", com.openai.core.JsonValue.from(run)).build())
                .build());
        created.validate();
        assertEquals(Batch.Status.VALIDATING, created.status());
        assertEquals(file.id(), created.inputFileId());
        assertEquals("24h", created.completionWindow());
        assertEquals(created.createdAt() + 86400, created.expiresAt().orElseThrow());

        Batch done = created;
        long end = System.currentTimeMillis() + 30_000;
        while (!Batch.Status.COMPLETED.equals(done.status()) && System.currentTimeMillis() < end) {
            Thread.sleep(100);
            done = client.batches().retrieve(created.id());
            done.validate();
            assertFalse(Set.of(Batch.Status.FAILED, Batch.Status.CANCELLED, Batch.Status.EXPIRED).contains(done.status()), done::toString);
        }
        assertEquals(Batch.Status.COMPLETED, done.status(), done::toString);
        assertEquals(3, done.requestCounts().orElseThrow().total());
        assertEquals(3, done.requestCounts().orElseThrow().completed());
        assertEquals(0, done.requestCounts().orElseThrow().failed());
        assertEquals("fake-model", done.model().orElseThrow());
        assertEquals(30, done.usage().orElseThrow().totalTokens());
        assertTrue(done.errorFileId().isEmpty());
        assertTrue(done.completedAt().isPresent());

        BatchListPage page = client.batches().list(BatchListParams.builder().limit(5).build());
        page.data().forEach(Batch::validate);
        assertEquals(created.id(), page.data().get(0).id());
        // the SDK's pager follows has_more and after
        Set<String> seen = new HashSet<>();
        client.batches().list(BatchListParams.builder().limit(2).build()).autoPager().stream().limit(7)
                .forEach(b -> assertTrue(seen.add(b.id()), "no batch twice: " + b.id()));
        assertTrue(seen.contains(created.id()));

        // the input comes back byte for byte (the SDK asks for application/binary)
        assertArrayEquals(input, read(client.files().content(file.id())));

        ObjectMapper json = new ObjectMapper();
        Set<String> answered = new HashSet<>();
        for (String line : new String(read(client.files().content(done.outputFileId().orElseThrow())), StandardCharsets.UTF_8).split("\n")) {
            JsonNode out = json.readTree(line);
            assertTrue(out.get("id").asText().startsWith("batch_req-"));
            assertEquals(200, out.at("/response/status_code").asInt());
            assertEquals("chat.completion", out.at("/response/body/object").asText());
            assertTrue(out.get("error").isNull());
            answered.add(out.get("custom_id").asText());
        }
        assertEquals(new HashSet<>(ids), answered);
    }

    @Test
    void aRetryBatchIsABatchToTheSdk() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String input = Api.chatLine(run + "-ok", "fake-model", null) + "\n" + Api.chatLine(run + "-bad", "fake-model", "{\"statuses\":[400]}") + "\n";
        FileObject file = client.files().create(FileCreateParams.builder().file(input.getBytes(StandardCharsets.UTF_8)).purpose(FilePurpose.BATCH).build());
        Batch created = client.batches().create(BatchCreateParams.builder().inputFileId(file.id())
                .endpoint(BatchCreateParams.Endpoint.V1_CHAT_COMPLETIONS).completionWindow(BatchCreateParams.CompletionWindow._24H).build());
        Batch done = created;
        long end = System.currentTimeMillis() + 30_000;
        while (!Batch.Status.COMPLETED.equals(done.status()) && System.currentTimeMillis() < end) {
            Thread.sleep(100);
            done = client.batches().retrieve(created.id()).validate();
        }
        assertEquals(Batch.Status.COMPLETED, done.status(), done::toString);
        assertEquals(1, done.requestCounts().orElseThrow().failed());

        // the retry is made over HTTP (the SDK has no such call); its answer, and every object about it later, is a Batch to the SDK
        String answer = Api.as(Api.KEY_A).post("/v1/batches/" + created.id() + "/retry").then().statusCode(200).extract().asString();
        Batch retry = com.openai.core.ObjectMappers.jsonMapper().readValue(answer, Batch.class).validate();
        String retryId = retry.id();
        assertTrue(Set.of(Batch.Status.VALIDATING, Batch.Status.IN_PROGRESS).contains(retry.status()), retry::toString);
        assertEquals(file.id(), retry.inputFileId());
        assertEquals(created.id(), retry.metadata().orElseThrow()._additionalProperties().get("retry_of").asString().orElseThrow());
        assertEquals(retryId, client.batches().retrieve(retryId).validate().id());
        end = System.currentTimeMillis() + 30_000;
        while (!retry.status().equals(Batch.Status.COMPLETED) && System.currentTimeMillis() < end) {
            Thread.sleep(100);
            retry = client.batches().retrieve(retryId).validate();
        }
        assertEquals(Batch.Status.COMPLETED, retry.status(), retry::toString);
        assertEquals(1, retry.requestCounts().orElseThrow().total());
        assertEquals(1, retry.requestCounts().orElseThrow().failed(), "the 400 fails again");
        BatchListPage page = client.batches().list(BatchListParams.builder().limit(2).build());
        page.data().forEach(Batch::validate);
        assertEquals(retryId, page.data().get(0).id());
        assertEquals(created.id(), page.data().get(1).id());
        // its error file reads like any other
        FileObject errors = client.files().retrieve(retry.errorFileId().orElseThrow()).validate();
        assertEquals(FileObject.Purpose.BATCH_OUTPUT, errors.purpose());
        JsonNode line = new ObjectMapper().readTree(new String(read(client.files().content(errors.id())), StandardCharsets.UTF_8).trim());
        assertEquals(run + "-bad", line.get("custom_id").asText());
        assertTrue(line.get("id").asText().startsWith("batch_req-"));
    }

    @Test
    void errorsBecomeTheSdksExceptions() {
        NotFoundException missing = assertThrows(NotFoundException.class, () -> client.batches().retrieve("batch-nope"));
        assertEquals(404, missing.statusCode());
        assertTrue(missing.getMessage().contains("batch-nope"), missing.getMessage());

        BadRequestException bad = assertThrows(BadRequestException.class,
                () -> client.batches().list(BatchListParams.builder().after("batch-nope").build()));
        assertEquals(400, bad.statusCode());
        assertEquals("after", bad.param().orElseThrow());

        OpenAIClient wrong = OpenAIOkHttpClient.builder().baseUrl(v1.toString()).apiKey("sk-wrong").maxRetries(0).build();
        try {
            UnauthorizedException e = assertThrows(UnauthorizedException.class, () -> wrong.batches().list());
            assertEquals(401, e.statusCode());
        } finally {
            wrong.close();
        }
        OpenAIClient other = OpenAIOkHttpClient.builder().baseUrl(v1.toString()).apiKey(Api.KEY_B).maxRetries(0).build();
        try {
            String fileOfA = client.files().create(FileCreateParams.builder()
                    .file((Api.chatLine("sdk-" + UUID.randomUUID(), "fake-model", null) + "\n").getBytes(StandardCharsets.UTF_8))
                    .purpose(FilePurpose.BATCH).build()).id();
            assertThrows(NotFoundException.class, () -> other.files().retrieve(fileOfA));
            assertThrows(NotFoundException.class, () -> other.files().content(fileOfA));
        } finally {
            other.close();
        }
    }
}
