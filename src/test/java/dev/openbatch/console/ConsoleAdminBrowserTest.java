package dev.openbatch.console;

import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.net.URL;
import java.text.NumberFormat;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.Browser;
import dev.openbatch.testing.FakeUpstreamResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;

/**
 * The console's Usage page and the operator's pages in a real browser (headless Chromium): a
 * project's key sees its tokens and cost per day as charts and its quotas with what remains; the
 * admin key creates a project, creates a key (its secret shown once), sees the key work and then,
 * once revoked, refused; changes a quota; renames and archives the project. Batches run against
 * the fake upstream, whose {@code fake-model-2} the test profile prices at $1,000 / $2,000 per
 * million input / output tokens (so a line of 7 + 3 tokens costs $0.013).
 * <p>
 * Each test leaves a screenshot in {@code target/screenshots} ({@code console-usage.png} and
 * {@code console-admin.png} are the README's); no test may leave a script error, a
 * Content-Security-Policy violation or an accessibility problem that {@link Browser} finds.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleAdminBrowserTest {
    private static final Duration PATIENCE = Browser.PATIENCE;
    private static final String ADMIN = "sk-test-admin"; // the test profile's openbatch.auth.admin-key
    private static final String PRICED = "fake-model-2";
    private static final long DAY = 86_400;
    private static Browser browser;

    @TestHTTPResource("/")
    URL root;

    @Inject
    Pool pool;

    @BeforeAll
    static void startBrowser() {
        browser = Browser.start("console-admin");
        // the page may write to the clipboard, and the test read it back
        browser.driver.executeCdpCommand("Browser.grantPermissions",
                Map.of("permissions", List.of("clipboardReadWrite", "clipboardSanitizedWrite")));
    }

    @AfterAll
    static void stopBrowser() {
        if (browser != null) {
            browser.close();
        }
    }

    @BeforeEach
    void freshTab() {
        browser.freshTab(root.toString());
    }

    @AfterEach
    void screenshotAndConsole(TestInfo test) {
        browser.assertCleanEnd(test.getTestMethod().orElseThrow().getName());
    }

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static JsonPath post(String key, String path, String json) {
        return as(key).contentType("application/json").body(json).post(path).then().statusCode(200).extract().jsonPath();
    }

    /** "$0.078" as the page writes US dollars: cents from a dollar up, up to six decimals below. */
    private static String money(BigDecimal v) {
        NumberFormat f = NumberFormat.getCurrencyInstance(Locale.US);
        f.setMinimumFractionDigits(2);
        f.setMaximumFractionDigits(v.signum() != 0 && v.abs().compareTo(BigDecimal.ONE) < 0 ? 6 : 2);
        return f.format(v);
    }

    private static String count(long n) {
        return NumberFormat.getIntegerInstance(Locale.US).format(n);
    }

    /** The API's usage and cost of one project per UTC day from {@code start}: day -> [lines, failed, input, output, cost]. */
    private static Map<String, List<Object>> apiDays(String key, String project, long start) {
        String q = "?start_time=" + start + "&bucket_width=1d&limit=30" + (project == null ? "" : "&project_ids=" + project);
        JsonPath usage = as(key).get("/v1/organization/usage/batches" + q).then().statusCode(200).extract().jsonPath();
        JsonPath costs = as(key).get("/v1/organization/costs" + q).then().statusCode(200).extract().jsonPath();
        Map<String, List<Object>> out = new HashMap<>();
        List<Map<String, Object>> buckets = usage.getList("data");
        List<Map<String, Object>> costBuckets = costs.getList("data");
        for (int i = 0; i < buckets.size(); i++) {
            long lines = 0;
            long failed = 0;
            long in = 0;
            long outTokens = 0;
            for (Map<String, Object> r : results(buckets.get(i))) {
                lines += ((Number) r.get("num_model_requests")).longValue();
                failed += ((Number) r.get("lines_failed")).longValue();
                in += ((Number) r.get("input_tokens")).longValue();
                outTokens += ((Number) r.get("output_tokens")).longValue();
            }
            BigDecimal cost = BigDecimal.ZERO;
            for (Map<String, Object> r : results(costBuckets.get(i))) {
                @SuppressWarnings("unchecked")
                Map<String, Object> amount = (Map<String, Object>) r.get("amount");
                cost = cost.add(new BigDecimal(amount.get("value").toString()));
            }
            long day = ((Number) buckets.get(i).get("start_time")).longValue();
            out.put(LocalDate.ofInstant(Instant.ofEpochSecond(day), ZoneOffset.UTC).toString(), List.of(lines, failed, in, outTokens, cost));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> results(Map<String, Object> bucket) {
        return (List<Map<String, Object>>) bucket.get("results");
    }

    @Test
    @Order(1)
    void theUsagePageShowsTokensAndCostPerDayAndTheQuotasLeft() {
        // a project of its own, with a key, two quotas set, a batch that completed today and one that waits
        String project = post(ADMIN, "/v1/organization/projects", "{\"name\":\"" + unique("usage page") + "\"}").getString("id");
        String key = post(ADMIN, "/v1/organization/projects/" + project + "/api_keys", "{\"name\":\"reader\"}").getString("value");
        post(ADMIN, "/v1/organization/projects/" + project + "/quotas", "{\"live_batches\":3,\"enqueued_lines\":1000}");
        String prefix = unique("usage");
        String done = createBatch(key, upload(key, String.join("\n", IntStream.rangeClosed(1, 6)
                .mapToObj(i -> chatLine(prefix + "-" + i, PRICED, null)).toList()) + "\n"), "/v1/chat/completions", "24h").getString("id");
        JsonPath completed = Api.awaitStatus(key, done, "completed", PATIENCE);
        assertEquals(42, completed.getInt("usage.input_tokens"));
        // answers the upstream defers by ten minutes: the batch stays live, its two lines enqueued
        String waiting = createBatch(key, upload(key, chatLine(prefix + "-w1", PRICED, "{\"statuses\":[503],\"retry_after\":600}") + "\n"
                + chatLine(prefix + "-w2", PRICED, "{\"statuses\":[503],\"retry_after\":600}") + "\n"), "/v1/chat/completions", "24h").getString("id");
        Api.awaitStatus(key, waiting, "in_progress", PATIENCE);
        // and earlier days, as the engine would have counted them (its counting is UsageAccountingTest's)
        long today = Instant.now().getEpochSecond() / DAY * DAY;
        for (int d = 1; d <= 12; d++) {
            long lines = 20L + (d * 37L) % 50;
            pool.preparedQuery("insert into usage_hourly values ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .execute(Tuple.of(project, PRICED, today - d * DAY + 3600, lines, lines - d % 3, (long) d % 3).addLong(lines * 7).addLong(lines * 3))
                    .await().atMost(Duration.ofSeconds(10));
        }

        try {
            browser.enterKey(key);
            browser.shown("#batches");
            assertEquals("Project " + project, browser.find("#session-who").getText());
            assertEquals("page", browser.find("#nav-list").getAttribute("aria-current"));
            browser.find("#nav-usage").sendKeys(Keys.ENTER);
            browser.await("the usage page", d -> browser.driver.getCurrentUrl().endsWith("#/usage"));
            assertEquals("h1", browser.driver.switchTo().activeElement().getTagName(), "focus moves to the new page's heading");
            assertEquals("page", browser.find("#nav-usage").getAttribute("aria-current"));
            assertEquals(project, browser.find("#usage-project").getText());
            browser.await("the figures", d -> !browser.find("[data-fact=lines]").getText().isBlank()
                    && browser.findAll("#quotas-table tbody tr").size() > 0);

            // the chart: one bar a day for 30 days, the same figures as the API's, drawn to scale
            List<Map<String, Object>> bars = browser.script("""
                    return [...document.querySelectorAll('#tokens-chart .bar-day')].map((g) => ({ day: g.dataset.day,
                      total: Number(g.dataset.total), rects: [...g.querySelectorAll('rect')].map((r) => ({ cls: r.getAttribute('class'),
                      value: Number(r.dataset.value), height: Number(r.getAttribute('height')) })), title: g.querySelector('title').textContent }));""");
            assertEquals(30, bars.size());
            String first = (String) bars.get(0).get("day");
            long start = LocalDate.parse(first).atStartOfDay(ZoneOffset.UTC).toEpochSecond();
            Map<String, List<Object>> api = apiDays(key, null, start);
            assertEquals(api, apiDays(ADMIN, project, start), "the project key reads its own figures, as the admin reads them");
            long lines = 0;
            long in = 0;
            long out = 0;
            BigDecimal cost = BigDecimal.ZERO;
            double perToken = -1;
            int drawn = 0;
            for (Map<String, Object> bar : bars) {
                List<Object> expected = api.get((String) bar.get("day"));
                assertNotNull(expected, "a day the API has: " + bar.get("day"));
                long tokens = (long) expected.get(2) + (long) expected.get(3);
                assertEquals(tokens, ((Number) bar.get("total")).longValue(), "tokens of " + bar.get("day"));
                lines += (long) expected.get(0);
                in += (long) expected.get(2);
                out += (long) expected.get(3);
                cost = cost.add((BigDecimal) expected.get(4));
                @SuppressWarnings("unchecked")
                List<Map<String, Object>> rects = (List<Map<String, Object>>) bar.get("rects");
                if (tokens == 0) {
                    assertEquals(List.of(), rects, "nothing drawn on a day without usage");
                    continue;
                }
                drawn++;
                assertEquals(List.of("series-input", "series-output"), rects.stream().map(r -> r.get("cls")).toList());
                assertEquals((long) expected.get(2), ((Number) rects.get(0).get("value")).longValue());
                assertEquals((long) expected.get(3), ((Number) rects.get(1).get("value")).longValue());
                assertTrue(((String) bar.get("title")).startsWith(bar.get("day") + ": " + count((long) expected.get(2)) + " input tokens, "),
                        (String) bar.get("title"));
                for (Map<String, Object> r : rects) { // every bar at the same scale: height in proportion to its value
                    double ratio = ((Number) r.get("height")).doubleValue() / ((Number) r.get("value")).doubleValue();
                    if (perToken < 0) {
                        perToken = ratio;
                    }
                    assertEquals(perToken, ratio, perToken * 0.02, "to scale: " + bar);
                }
            }
            assertEquals(13, drawn, "today and the twelve days before");
            assertEquals(6 + IntStream.rangeClosed(1, 12).mapToLong(d -> 20L + (d * 37L) % 50).sum(), lines);
            assertEquals(count(lines), browser.find("[data-fact=lines]").getText());
            assertEquals(count(in), browser.find("[data-fact=input]").getText());
            assertEquals(count(out), browser.find("[data-fact=output]").getText());
            assertEquals(money(cost), browser.find("[data-fact=cost]").getText());
            assertEquals(0, new BigDecimal("0.013").multiply(BigDecimal.valueOf(lines)).compareTo(cost), "$0.013 a line: " + cost);

            // the cost chart, and the table of the same figures, day by day
            List<Map<String, Object>> costBars = browser.script("""
                    return [...document.querySelectorAll('#cost-chart .bar-day')].map((g) => ({ day: g.dataset.day, total: g.dataset.total }));""");
            assertEquals(30, costBars.size());
            for (Map<String, Object> bar : costBars) {
                BigDecimal expected = (BigDecimal) api.get((String) bar.get("day")).get(4);
                assertEquals(0, expected.compareTo(new BigDecimal((String) bar.get("total"))), "cost of " + bar);
            }
            assertTrue(browser.find("#tokens-chart title").getAttribute("textContent").contains(count(in) + " input and " + count(out) + " output"));
            WebElement figures = browser.find("#usage-figures summary");
            figures.sendKeys(Keys.ENTER); // the table opens from the keyboard
            browser.shown("#usage-table");
            List<List<String>> table = browser.script("""
                    return [...document.querySelectorAll('#usage-table tbody tr')].map((tr) => [tr.dataset.day,
                      ...[...tr.querySelectorAll('td')].map((td) => td.textContent)]);""");
            assertEquals(30, table.size());
            for (List<String> tr : table) {
                List<Object> expected = api.get(tr.get(0));
                assertEquals(List.of(count((long) expected.get(0)), count((long) expected.get(1)), count((long) expected.get(2)), count((long) expected.get(3)),
                        money((BigDecimal) expected.get(4))), tr.subList(1, tr.size()), tr.get(0));
            }
            figures.sendKeys(Keys.ENTER);

            // quotas: every row of the headroom as the API has it, with what remains
            List<Map<String, Object>> headroom = as(key).get("/v1/organization/projects/" + project + "/quotas").then().statusCode(200)
                    .extract().jsonPath().getList("data");
            List<Map<String, Object>> shown = browser.script("""
                    return [...document.querySelectorAll('#quotas-table tbody tr')].map((tr) => ({ quota: tr.dataset.quota, model: tr.dataset.model,
                      limit: tr.querySelector('.limit').textContent, used: tr.querySelector('.used').textContent,
                      remaining: tr.querySelector('.remaining').textContent }));""");
            assertEquals(headroom.size(), shown.size(), shown.toString());
            for (int i = 0; i < headroom.size(); i++) {
                Map<String, Object> h = headroom.get(i);
                Map<String, Object> s = shown.get(i);
                assertEquals(h.get("quota"), s.get("quota"));
                assertEquals(h.get("model") == null ? "" : h.get("model"), s.get("model"));
            }
            assertEquals(Map.of("quota", "live_batches", "model", "", "limit", "3", "used", "1", "remaining", "2"), row(shown, "live_batches", ""));
            assertEquals(Map.of("quota", "enqueued_lines", "model", PRICED, "limit", "1,000", "used", "2", "remaining", "998"),
                    row(shown, "enqueued_lines", PRICED));
            assertEquals("unlimited", row(shown, "enqueued_input_tokens", PRICED).get("limit"));
            assertEquals("100", row(shown, "webhook_endpoints", "").get("limit"), "the configured default");
            tallScreenshot("console-usage", 1640);
        } finally {
            as(key).post("/v1/batches/" + waiting + "/cancel").then().statusCode(200);
        }
    }

    /** A screenshot of the page from its top, in a window {@code height} pixels tall (for the README). */
    private static void tallScreenshot(String name, int height) {
        Dimension before = browser.driver.manage().window().getSize();
        try {
            browser.driver.manage().window().setSize(new Dimension(before.getWidth(), height));
            browser.script("window.scrollTo(0, 0)");
            browser.screenshot(name);
        } finally {
            browser.driver.manage().window().setSize(before);
        }
    }

    /** The text of the element {@code css} picks, read in one step (the tables are rewritten as their data comes), or null. */
    private static String text(String css) {
        return browser.script("const e = document.querySelector(arguments[0]); return e && e.textContent;", css);
    }

    private static Map<String, Object> row(List<Map<String, Object>> rows, String quota, String model) {
        return rows.stream().filter(r -> quota.equals(r.get("quota")) && model.equals(r.get("model"))).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + quota + "/" + model + " in " + rows));
    }

    @Test
    @Order(2)
    void theAdminCreatesAProjectAndAKeyThatWorksUntilRevokedAndChangesAQuota() {
        browser.enterKey(ADMIN);
        browser.shown("#projects");
        assertEquals("Admin", browser.find("#session-who").getText());
        assertEquals("page", browser.find("#nav-projects").getAttribute("aria-current"));
        assertTrue(browser.findAll("#nav-usage").isEmpty() && browser.findAll("#batches").isEmpty(), "no batches for the admin key");

        // a new project, from the keyboard; its page opens
        String name = unique("team console");
        browser.find("#project-name").sendKeys(name, Keys.ENTER);
        String id = browser.await("the new project's page", d -> browser.<String>script(
                "const p = document.querySelector('.project-page'); return p && p.dataset.projectId;"));
        browser.await("its name in the heading", d -> browser.find("h1").getText().equals("Project " + name));
        assertTrue(browser.driver.getCurrentUrl().endsWith("#/projects/" + id));
        assertEquals(name, as(ADMIN).get("/v1/organization/projects/" + id).then().statusCode(200).extract().path("name"));
        assertEquals("active", browser.find(".project-page .badge").getAttribute("data-status"));
        browser.await("no key yet", d -> browser.find("#keys-empty").isDisplayed());

        // a key: its secret shown once, selected, and copied to the clipboard
        browser.find("#key-name").sendKeys("ci", Keys.ENTER);
        WebElement secretField = browser.shown("#new-key-secret");
        String secret = secretField.getAttribute("value");
        assertTrue(secret.startsWith("sk-"), secret);
        assertEquals("new-key-secret", browser.focused());
        assertEquals("Secret of key ci", browser.find("label[for=new-key-secret]").getText());
        browser.find("#copy-secret").click();
        browser.await("copied", d -> browser.find("#copy-status").getText().equals("Copied to the clipboard."));
        String clipboard = browser.asyncScript("const done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, (e) => done('error ' + e));");
        assertEquals(secret, clipboard);
        WebElement keyRow = browser.await("the key in the list", d -> browser.findAll("#keys tbody tr").stream().findFirst().orElse(null));
        String keyId = keyRow.getAttribute("data-key-id");
        String redacted = keyRow.findElement(By.cssSelector(".redacted")).getText();
        assertEquals(secret.substring(0, "sk-proj-".length()) + "..." + secret.substring(secret.length() - 4), redacted);
        browser.screenshot("new-key");

        // the key works, as any client uses it: an upload, and a batch whose usage the projects list shows
        String prefix = unique("admin");
        String fileId = upload(secret, String.join("\n", IntStream.rangeClosed(1, 4).mapToObj(i -> chatLine(prefix + "-" + i, PRICED, null)).toList()) + "\n");
        as(secret).get("/v1/files/" + fileId).then().statusCode(200);
        String batch = createBatch(secret, fileId, "/v1/chat/completions", "24h").getString("id");
        Api.awaitStatus(secret, batch, "completed", PATIENCE);

        // put away, the secret is nowhere on the page, nor after a reload
        browser.find("#hide-secret").click();
        assertFalse(browser.find("#new-key").isDisplayed());
        assertFalse(browser.<String>script("return document.body.innerHTML + [...document.querySelectorAll('input')].map((i) => i.value).join()")
                .contains(secret));
        browser.driver.navigate().refresh();
        browser.await("the keys again", d -> browser.findAll("#keys tbody tr[data-key-id='" + keyId + "']").size() == 1);
        assertFalse(browser.<String>script("return document.body.innerHTML").contains(secret));
        browser.await("the usage of the batch it ran", d -> "4".equals(text("[data-fact=lines]")));
        tallScreenshot("console-admin", 1900);

        // revoke: asked first (Escape keeps it), then refused by the API
        browser.find("#keys button.revoke").click();
        WebElement dialog = browser.shown("#confirm-dialog");
        assertTrue(dialog.getText().contains("Revoke key ci?") && dialog.getText().contains(redacted), dialog.getText());
        browser.driver.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        browser.await("the dialog closed", d -> browser.findAll("#confirm-dialog").isEmpty());
        as(secret).get("/v1/files/" + fileId).then().statusCode(200);
        browser.find("#keys button.revoke").click();
        browser.shown("#confirm-yes").click();
        browser.await("revoked", d -> browser.find("#keys-message").getText().equals("Key ci is revoked."));
        assertTrue(browser.findAll("#keys tbody tr").isEmpty());
        assertTrue(browser.find("#keys-empty").isDisplayed());
        as(secret).get("/v1/files/" + fileId).then().statusCode(401);
        as(ADMIN).get("/v1/organization/projects/" + id + "/api_keys/" + keyId).then().statusCode(404);

        // a quota: set for this project, shown in the table, then back to the default
        Select quota = new Select(browser.find("#quota-name"));
        quota.selectByValue("live_batches");
        WebElement limit = browser.find("#quota-limit");
        limit.sendKeys("-1", Keys.ENTER);
        browser.await("refused before sending", d -> browser.find("#quota-error").getText().contains("whole number"));
        assertEquals("true", limit.getAttribute("aria-invalid"));
        limit.clear();
        limit.sendKeys("2", Keys.ENTER);
        browser.await("the new limit", d -> "2".equals(text("#quotas-table tr[data-quota=live_batches] .limit")));
        assertEquals("Live batches: the limit is 2 for this project.", browser.find("#quota-message").getText());
        assertEquals(2, quotaLimit(id, "live_batches"));
        as(ADMIN).get("/v1/organization/projects/" + id + "/quotas").then().statusCode(200);
        browser.find("#quota-reset").click();
        browser.await("the default again", d -> "unlimited".equals(text("#quotas-table tr[data-quota=live_batches] .limit")));
        assertNull(quotaLimitOrNull(id, "live_batches"));
        quota.selectByValue("webhook_endpoints");
        limit.clear();
        limit.sendKeys("7", Keys.ENTER);
        browser.await("the new limit", d -> "7".equals(text("#quotas-table tr[data-quota=webhook_endpoints] .limit")));
        assertEquals(7, quotaLimit(id, "webhook_endpoints"));
        // a spend cap in dollars takes cents; a fraction anywhere else is refused before sending
        limit.clear();
        limit.sendKeys("7.5", Keys.ENTER);
        browser.await("refused before sending", d -> browser.find("#quota-error").getText().contains("whole number"));
        quota.selectByValue("spend_usd_per_day");
        limit.clear();
        limit.sendKeys("12.50", Keys.ENTER);
        browser.await("the cap set", d -> browser.find("#quota-message").getText().startsWith("Spend"));
        List<Map<String, Object>> rows = as(ADMIN).get("/v1/organization/projects/" + id + "/quotas").then().statusCode(200)
                .extract().jsonPath().getList("data");
        assertEquals(12.5, ((Number) rows.stream().filter(r -> "spend_usd_per_day".equals(r.get("quota"))).findFirst().orElseThrow()
                .get("limit")).doubleValue());
        browser.find("#quota-reset").click();
        browser.await("the default again", d -> quotaLimitOrNull(id, "spend_usd_per_day") == null);

        // the usage of the batch the key ran, on the project's page
        browser.await("its usage", d -> browser.find("[data-fact=lines]").getText().equals("4"));
        assertEquals("28", browser.find("[data-fact=input]").getText());
        assertEquals("$0.052", browser.find("[data-fact=cost]").getText());

        // rename, then archive (after the confirmation)
        WebElement rename = browser.find("#rename-name");
        rename.clear();
        rename.sendKeys(name + " renamed", Keys.ENTER);
        browser.await("renamed", d -> browser.find("h1").getText().equals("Project " + name + " renamed"));
        assertEquals(name + " renamed", as(ADMIN).get("/v1/organization/projects/" + id).then().extract().path("name"));
        browser.find("#archive-project").click();
        browser.shown("#confirm-yes").click();
        browser.await("archived", d -> "archived".equals(browser.find(".project-page .badge").getAttribute("data-status")));
        assertEquals("archived", as(ADMIN).get("/v1/organization/projects/" + id).then().extract().path("status"));
        assertFalse(browser.find("#key-form").isDisplayed(), "an archived project takes no new key");
        assertFalse(browser.find("#archive-project").isDisplayed());

        // the projects list: the archived project only when asked for, with its usage of the last 30 days
        browser.find("a[href='#/']").click();
        browser.await("the list", d -> !browser.find("#projects-updated").getText().isBlank());
        assertTrue(browser.findAll("#projects tr[data-project-id='" + id + "']").isEmpty(), "archived projects are hidden by default");
        browser.find("#show-archived").sendKeys(Keys.SPACE);
        String rowCss = "#projects tr[data-project-id='" + id + "'] ";
        browser.await("the archived project", d -> text(rowCss + ".project-link") != null);
        assertEquals(name + " renamed", text(rowCss + ".project-link"));
        assertEquals("archived", text(rowCss + ".badge"));
        assertEquals(List.of("4", "40", "$0.052"), List.of(text(rowCss + ".lines"), text(rowCss + ".tokens"), text(rowCss + ".cost")));
    }

    private static long quotaLimit(String project, String quota) {
        Long v = quotaLimitOrNull(project, quota);
        assertNotNull(v, quota);
        return v;
    }

    private static Long quotaLimitOrNull(String project, String quota) {
        List<Map<String, Object>> rows = as(ADMIN).get("/v1/organization/projects/" + project + "/quotas").then().statusCode(200)
                .extract().jsonPath().getList("data");
        Object v = rows.stream().filter(r -> quota.equals(r.get("quota"))).findFirst().orElseThrow().get("limit");
        return v == null ? null : ((Number) v).longValue();
    }

    @Test
    @Order(4)
    void aBatchPausedAtItsProjectsSpendCapSaysSoOnItsPage() {
        // a spend cap of 0 tokens a day: the project is paused at once, its batch waits in_progress with its lines queued
        String project = post(ADMIN, "/v1/organization/projects", "{\"name\":\"" + unique("capped") + "\"}").getString("id");
        String key = post(ADMIN, "/v1/organization/projects/" + project + "/api_keys", "{\"name\":\"capped\"}").getString("value");
        post(ADMIN, "/v1/organization/projects/" + project + "/quotas", "{\"spend_tokens_per_day\":0}");
        String prefix = unique("capped");
        String id = createBatch(key, upload(key, chatLine(prefix + "-1", PRICED, null) + "\n" + chatLine(prefix + "-2", PRICED, null) + "\n"),
                "/v1/chat/completions", "24h").getString("id");
        try {
            Api.awaitStatus(key, id, "in_progress", PATIENCE);
            browser.enterKey(key);
            browser.shown("#batches");
            browser.driver.get(root + "#/batches/" + id);
            WebElement paused = browser.await("the pause shown", d -> {
                WebElement p = browser.find("#batch-paused");
                return p.isDisplayed() && p.getText().startsWith("Paused:") ? p : null;
            });
            assertTrue(paused.getText().contains("spend_tokens_per_day"), paused.getText());
            assertTrue(paused.getText().contains("goes on by itself at"), paused.getText());
            // raised: it goes on, and the page says nothing of a pause any more
            post(ADMIN, "/v1/organization/projects/" + project + "/quotas", "{\"spend_tokens_per_day\":null}");
            Api.awaitStatus(key, id, "completed", PATIENCE);
            browser.await("the pause gone", d -> !browser.find("#batch-paused").isDisplayed());
        } finally {
            as(key).post("/v1/batches/" + id + "/cancel");
        }
    }

    @Test
    @Order(3)
    void aProjectKeyIsToldApartFromTheAdminKeyAndAnOldTabAsksWhoItIs() {
        browser.enterKey(Api.KEY_A);
        browser.shown("#batches");
        assertEquals("Project project-a", browser.find("#session-who").getText());
        // a tab whose key the console has not yet told apart (kept from before): it asks once, then routes
        browser.script("sessionStorage.removeItem('openbatch.identity')");
        browser.driver.get(root + "#/usage");
        browser.driver.navigate().refresh();
        browser.await("the usage page", d -> "project-a".equals(browser.find("#usage-project").getText()));
        assertEquals("page", browser.find("#nav-usage").getAttribute("aria-current"));
        // an admin page's address means nothing to a project key: its batches
        browser.driver.get(root + "#/projects/project-b");
        browser.shown("#batches");
        assertTrue(browser.findAll(".project-page").isEmpty());
        browser.find("#forget-key").click();
        browser.shown("#api-key");
        assertTrue(browser.find("#nav").getAttribute("hidden") != null, "no navigation without a key");
        assertNull(browser.script("return sessionStorage.getItem('openbatch.identity')"));
    }
}
