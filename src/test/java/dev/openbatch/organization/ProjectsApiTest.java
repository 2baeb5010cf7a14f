package dev.openbatch.organization;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Envelope.assertEnvelope;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.openbatch.auth.AuthConfig;
import dev.openbatch.auth.Keys;
import dev.openbatch.store.ProjectStore;
import dev.openbatch.store.Transactions;
import dev.openbatch.testing.Api;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * The admin API: projects and their keys made, listed, renamed, archived and revoked with the
 * admin key; a project key never reaches it; a revoked key stops here at once and on another
 * reader of the database within two seconds; an archived project's keys stop and its data stays
 * readable by the admin.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
class ProjectsApiTest {
    static final String ADMIN = "sk-test-admin";
    static final String PROJECTS = "/v1/organization/projects";
    static final Set<String> PROJECT_KEYS = Set.of("object", "id", "name", "created_at", "archived_at", "status");
    static final Set<String> KEY_KEYS = Set.of("object", "redacted_value", "name", "created_at", "last_used_at", "id", "owner");

    @Inject
    Transactions transactions;
    @Inject
    Pool pool;
    @Inject
    Vertx vertx;

    static Response post(String key, String path, String json) {
        return as(key).contentType("application/json").body(json).post(path);
    }

    static JsonPath project(String name) {
        return post(ADMIN, PROJECTS, "{\"name\":\"" + name + "\"}").then().statusCode(200).extract().jsonPath();
    }

    static JsonPath newKey(String projectId, String name) {
        return post(ADMIN, PROJECTS + "/" + projectId + "/api_keys", "{\"name\":\"" + name + "\"}").then().statusCode(200).extract().jsonPath();
    }

    static String name() {
        return "team-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Every project, following the cursor {@code limit} at a time. */
    static List<Map<String, Object>> allProjects(int limit, boolean includeArchived) {
        List<Map<String, Object>> out = new ArrayList<>();
        String after = null;
        while (true) {
            var req = as(ADMIN).queryParam("limit", limit).queryParam("include_archived", includeArchived);
            if (after != null) {
                req.queryParam("after", after);
            }
            JsonPath page = req.get(PROJECTS).then().statusCode(200).extract().jsonPath();
            assertEquals("list", page.getString("object"));
            List<Map<String, Object>> data = page.getList("data");
            assertTrue(data.size() <= limit);
            out.addAll(data);
            if (!page.getBoolean("has_more")) {
                return out;
            }
            assertEquals(data.get(data.size() - 1).get("id"), page.getString("last_id"));
            after = page.getString("last_id");
        }
    }

    static void eventually(Duration within, Runnable check) {
        long end = System.nanoTime() + within.toNanos();
        while (true) {
            try {
                check.run();
                return;
            } catch (AssertionError e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
            }
            try {
                Thread.sleep(25);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    @Test
    void theAdminManagesProjectsAndKeys() {
        String name = name();
        JsonPath p = project(name);
        assertEquals(PROJECT_KEYS, p.getMap("$").keySet());
        String id = p.getString("id");
        assertTrue(id.matches("proj_[0-9A-Za-z]{24}"), id);
        assertEquals("organization.project", p.getString("object"));
        assertEquals(name, p.getString("name"));
        assertEquals("active", p.getString("status"));
        assertNull(p.get("archived_at"));

        assertEquals(id, as(ADMIN).get(PROJECTS + "/" + id).then().statusCode(200).extract().path("id"));
        JsonPath renamed = post(ADMIN, PROJECTS + "/" + id, "{\"name\":\"renamed " + name + "\"}").then().statusCode(200).extract().jsonPath();
        assertEquals("renamed " + name, renamed.getString("name"));
        assertEquals("renamed " + name, as(ADMIN).get(PROJECTS + "/" + id).then().extract().path("name"));

        List<Map<String, Object>> listed = allProjects(1, false);
        assertEquals(1, listed.stream().filter(m -> id.equals(m.get("id"))).count());
        assertEquals(listed.size(), listed.stream().map(m -> m.get("id")).distinct().count(), "a cursor never repeats a project");
        // the bootstrap projects are listed under their configured names
        assertTrue(listed.stream().anyMatch(m -> "project-a".equals(m.get("id")) && "project-a".equals(m.get("name"))), listed::toString);

        JsonPath k = newKey(id, "ci");
        String secret = k.getString("value");
        assertTrue(secret.matches("sk-proj-[0-9A-Za-z]{43}"), secret);
        String keyId = k.getString("id");
        assertTrue(keyId.matches("key_[0-9A-Za-z]{24}"), keyId);
        assertNull(k.get("last_used_at"));
        assertEquals("organization.project.api_key", k.getString("object"));
        assertEquals("sk-proj-..." + secret.substring(secret.length() - 4), k.getString("redacted_value"));
        assertEquals("service_account", k.getString("owner.type"));

        // the new key works at once and is its project's
        String file = Api.upload(secret, "{\"a\":1}\n".getBytes(), "d.jsonl", "user_data");
        as(secret).get("/v1/files/" + file).then().statusCode(200);
        assertEnvelope(as(KEY_A).get("/v1/files/" + file), 404, null, "not_found");

        // the secret is shown once: neither a read nor a list shows it
        JsonPath read = as(ADMIN).get(PROJECTS + "/" + id + "/api_keys/" + keyId).then().statusCode(200).extract().jsonPath();
        assertEquals(KEY_KEYS, read.getMap("$").keySet());
        assertFalse(read.prettify().contains(secret));
        String list = as(ADMIN).get(PROJECTS + "/" + id + "/api_keys").then().statusCode(200).extract().asString();
        assertTrue(list.contains(keyId));
        assertFalse(list.contains(secret.substring("sk-proj-".length())), list);

        // the database holds its digest, never the secret
        var row = pool.preparedQuery("select row_to_json(k)::text, sha256 from project_keys k where id = $1").execute(Tuple.of(keyId))
                .await().indefinitely().iterator().next();
        assertFalse(row.getString(0).contains(secret.substring("sk-proj-".length())));
        assertTrue(java.util.Arrays.equals(Keys.sha256(secret), row.getBuffer(1).getBytes()));

        // its use is recorded (each process writes when its keys were last used at its next poll)
        eventually(Duration.ofSeconds(3), () -> assertNotNull(
                as(ADMIN).get(PROJECTS + "/" + id + "/api_keys/" + keyId).then().extract().jsonPath().get("last_used_at")));

        // revoked: refused at once, gone from the list, 404 to read or revoke again
        JsonPath deleted = as(ADMIN).delete(PROJECTS + "/" + id + "/api_keys/" + keyId).then().statusCode(200).extract().jsonPath();
        assertEquals(Map.of("object", "organization.project.api_key.deleted", "id", keyId, "deleted", true), deleted.getMap("$"));
        assertEnvelope(as(secret).get("/v1/files"), 401, null, "invalid_api_key");
        assertEnvelope(as(ADMIN).get(PROJECTS + "/" + id + "/api_keys/" + keyId), 404, null, "not_found");
        assertEnvelope(as(ADMIN).delete(PROJECTS + "/" + id + "/api_keys/" + keyId), 404, null, "not_found");
        assertFalse(as(ADMIN).get(PROJECTS + "/" + id + "/api_keys").then().extract().asString().contains(keyId));
    }

    @Test
    void keysPageWithACursor() {
        String id = project(name()).getString("id");
        List<String> made = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            made.add(newKey(id, "k" + i).getString("id"));
        }
        List<String> seen = new ArrayList<>();
        String after = null;
        while (true) {
            var req = as(ADMIN).queryParam("limit", 2);
            if (after != null) {
                req.queryParam("after", after);
            }
            JsonPath page = req.get(PROJECTS + "/" + id + "/api_keys").then().statusCode(200).extract().jsonPath();
            List<String> ids = page.getList("data.id");
            seen.addAll(ids);
            if (!page.getBoolean("has_more")) {
                break;
            }
            after = page.getString("last_id");
        }
        assertEquals(made, seen, "creation order, each once");
    }

    @Test
    void badRequestsGetTheEnvelope() {
        assertEnvelope(post(ADMIN, PROJECTS, "{\"name\":\"  \"}"), 400, "name", "missing_required_parameter");
        assertEnvelope(post(ADMIN, PROJECTS, "{}"), 400, "name", "missing_required_parameter");
        assertEnvelope(post(ADMIN, PROJECTS, "{\"name\":\"" + "x".repeat(300) + "\"}"), 400, "name", "invalid_value");
        assertEnvelope(as(ADMIN).get(PROJECTS + "/proj_nope"), 404, null, "not_found");
        assertEnvelope(post(ADMIN, PROJECTS + "/proj_nope", "{\"name\":\"x\"}"), 404, null, "not_found");
        assertEnvelope(as(ADMIN).post(PROJECTS + "/proj_nope/archive"), 404, null, "not_found");
        assertEnvelope(post(ADMIN, PROJECTS + "/proj_nope/api_keys", "{\"name\":\"x\"}"), 404, null, "not_found");
        assertEnvelope(as(ADMIN).get(PROJECTS + "/proj_nope/api_keys"), 404, null, "not_found");
        assertEnvelope(as(ADMIN).queryParam("limit", 0).get(PROJECTS), 400, "limit", "invalid_value");
        assertEnvelope(as(ADMIN).queryParam("include_archived", "maybe").get(PROJECTS), 400, "include_archived", "invalid_type");
    }

    /** Every route of the admin API, with a body where it takes one. */
    static List<String[]> adminRoutes(String project, String key) {
        String p = PROJECTS + "/" + project;
        return List.of(new String[] { "GET", PROJECTS, null }, new String[] { "POST", PROJECTS, "{\"name\":\"x\"}" },
                new String[] { "GET", p, null }, new String[] { "POST", p, "{\"name\":\"x\"}" },
                new String[] { "POST", p + "/archive", null }, new String[] { "GET", p + "/api_keys", null },
                new String[] { "POST", p + "/api_keys", "{\"name\":\"x\"}" }, new String[] { "GET", p + "/api_keys/" + key, null },
                new String[] { "DELETE", p + "/api_keys/" + key, null }, new String[] { "GET", PROJECTS + "/", null },
                new String[] { "GET", "/v1//organization/projects", null });
    }

    static Response call(String key, String[] route) {
        var req = as(key);
        if (route[2] != null) {
            req.contentType("application/json").body(route[2]);
        }
        return req.request(route[0], route[1]);
    }

    @Test
    void aProjectKeyNeverReachesTheAdminApi() {
        String id = project(name()).getString("id");
        JsonPath k = newKey(id, "own");
        String secret = k.getString("value");
        int before = allProjects(100, true).size();
        for (String key : List.of(KEY_A, secret)) {
            String own = key.equals(KEY_A) ? "project-a" : id;
            for (String target : List.of(own, "project-b")) {
                for (String[] route : adminRoutes(target, k.getString("id"))) {
                    assertEnvelope(call(key, route), 403, null, "insufficient_permissions");
                }
            }
            // the one organization route a project key reaches: its own quotas (another project's: 403)
            assertNotEquals(403, as(key).get(PROJECTS + "/" + own + "/quotas").statusCode());
            assertEnvelope(as(key).get(PROJECTS + "/project-b/quotas"), 403, null, "insufficient_permissions");
            assertEnvelope(as(key).post(PROJECTS + "/" + own + "/quotas"), 403, null, "insufficient_permissions");
        }
        for (String[] route : adminRoutes(id, k.getString("id"))) {
            assertEnvelope(call("sk-wrong", route), 401, null, "invalid_api_key");
            var anonymous = given();
            if (route[2] != null) {
                anonymous.contentType("application/json").body(route[2]);
            }
            assertEnvelope(anonymous.request(route[0], route[1]), 401, null, "invalid_api_key");
        }
        // nothing changed
        assertEquals(before, allProjects(100, true).size());
        assertEquals("active", as(ADMIN).get(PROJECTS + "/" + id).then().extract().path("status"));
        as(secret).get("/v1/files").then().statusCode(200);
    }

    @Test
    void aRevokedKeyStopsOnAnotherReaderOfTheDatabaseWithinTwoSeconds() {
        String id = project(name()).getString("id");
        JsonPath k = newKey(id, "replicated");
        String secret = k.getString("value");
        // a second replica: its own key table, its own poll of the same database
        Keys other = new Keys(config(), new ProjectStore(transactions), () -> System.currentTimeMillis() / 1000);
        other.refresh().await().indefinitely();
        other.start(vertx);
        try {
            assertEquals(Optional.of(id), other.project(secret));
            JsonPath second = newKey(id, "made later");
            eventually(Duration.ofSeconds(2), () -> assertEquals(Optional.of(id), other.project(second.getString("value"))));

            long revokedAt = System.nanoTime();
            as(ADMIN).delete(PROJECTS + "/" + id + "/api_keys/" + k.getString("id")).then().statusCode(200);
            assertEnvelope(as(secret).get("/v1/files"), 401, null, "invalid_api_key"); // here: at once
            eventually(Duration.ofSeconds(2), () -> assertEquals(Optional.empty(), other.project(secret)));
            assertTrue(System.nanoTime() - revokedAt < Duration.ofSeconds(2).toNanos());
            assertEquals(Optional.of(id), other.project(second.getString("value")), "the other key still works");

            // archiving stops every key of the project there too
            as(ADMIN).post(PROJECTS + "/" + id + "/archive").then().statusCode(200);
            eventually(Duration.ofSeconds(2), () -> assertEquals(Optional.empty(), other.project(second.getString("value"))));
        } finally {
            other.stop();
        }
    }

    @Test
    void anArchivedProjectsKeysStopAndItsDataStaysReadableToTheAdmin() {
        String id = project(name()).getString("id");
        String secret = newKey(id, "soon archived").getString("value");
        String run = UUID.randomUUID().toString().substring(0, 8);
        String file = Api.upload(secret, Api.chatLine(run + "-1", "fake-model", null) + "\n");
        String batch = Api.createBatch(secret, file, "/v1/chat/completions", "24h").getString("id");

        JsonPath archived = as(ADMIN).post(PROJECTS + "/" + id + "/archive").then().statusCode(200).extract().jsonPath();
        assertEquals("archived", archived.getString("status"));
        assertTrue(archived.getLong("archived_at") > 0);
        assertEnvelope(as(secret).get("/v1/batches/" + batch), 401, null, "invalid_api_key");
        assertEnvelope(post(ADMIN, PROJECTS + "/" + id + "/api_keys", "{\"name\":\"x\"}"), 409, null, "project_archived");
        // archived projects are listed only when asked
        assertFalse(allProjects(100, false).stream().anyMatch(m -> id.equals(m.get("id"))));
        assertTrue(allProjects(100, true).stream().anyMatch(m -> id.equals(m.get("id"))));
        // archiving again changes nothing
        assertEquals(archived.getLong("archived_at"), as(ADMIN).post(PROJECTS + "/" + id + "/archive").then().extract().jsonPath().getLong("archived_at"));

        // the admin reads the project's data by naming it, and only reads
        assertEquals(batch, as(ADMIN).header("OpenAI-Project", id).get("/v1/batches/" + batch).then().statusCode(200).extract().path("id"));
        assertEquals(file, as(ADMIN).header("OpenAI-Project", id).get("/v1/files/" + file).then().statusCode(200).extract().path("id"));
        assertTrue(as(ADMIN).header("OpenAI-Project", id).get("/v1/batches").then().statusCode(200).extract().jsonPath()
                .getList("data.id").contains(batch));
        assertEnvelope(as(ADMIN).header("OpenAI-Project", id).post("/v1/batches/" + batch + "/cancel"), 403, null, "insufficient_permissions");
        assertEnvelope(as(ADMIN).header("OpenAI-Project", "project-a").get("/v1/batches/" + batch), 404, null, "not_found");
        assertEnvelope(as(ADMIN).get("/v1/batches/" + batch), 400, "OpenAI-Project", "missing_project");
        assertEnvelope(as(ADMIN).header("OpenAI-Project", "proj_nope").get("/v1/batches"), 404, null, "not_found");
    }

    @Test
    void bootstrapKeysStillWorkAndAProjectKeyIgnoresOpenAiProject() {
        as(KEY_A).get("/v1/batches").then().statusCode(200);
        String file = Api.upload(KEY_A, "{\"a\":1}\n".getBytes(), "d.jsonl", "user_data");
        // a project key's OpenAI-Project header does not take it into another project
        assertEnvelope(as("sk-test-b").header("OpenAI-Project", "project-a").get("/v1/files/" + file), 404, null, "not_found");
        as(KEY_A).header("OpenAI-Project", "project-b").get("/v1/files/" + file).then().statusCode(200);
    }

    static AuthConfig config() {
        return new AuthConfig() {
            @Override
            public Optional<String> keys() { return Optional.of("sk-test-a:project-a"); }

            @Override
            public Optional<String> adminKey() { return Optional.empty(); }

            @Override
            public Optional<String> adminKeySha256() { return Optional.empty(); }

            @Override
            public Duration keyPoll() { return Duration.ofMillis(500); }
        };
    }
}
