package dev.openbatch.console;

import static dev.openbatch.testing.Api.KEY_A;
import static dev.openbatch.testing.Api.KEY_B;
import static dev.openbatch.testing.Api.as;
import static dev.openbatch.testing.Api.chatLine;
import static dev.openbatch.testing.Api.createBatch;
import static dev.openbatch.testing.Api.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
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
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

import dev.openbatch.testing.Api;
import dev.openbatch.testing.Browser;
import dev.openbatch.testing.FakeUpstreamResource;
import dev.openbatch.testing.ResultsReader;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;

/**
 * The web console in a real browser (headless Chromium), used the way a person uses it: enter a
 * key, upload a file and create a batch, watch its progress bar reach 100%, open a batch with the
 * keyboard and download its files, cancel another batch through its confirmation dialog, and see
 * that another project's key shows none of these batches. Batches run against the fake upstream.
 * Each test leaves a screenshot in {@code target/screenshots}; no test may leave a script error or
 * a Content-Security-Policy violation in the browser's console.
 * <p>
 * The methods run in a fixed order only so that the last screenshot (the list, used in the README)
 * shows batches in several states; each test makes the batches it checks.
 */
@QuarkusTest
@WithTestResource(FakeUpstreamResource.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserTest {
    private static final Duration PATIENCE = Browser.PATIENCE;
    private static final Pattern RATE = Pattern.compile("\\d[\\d,]*(\\.\\d)? lines/s");
    private static Browser browser;

    @TestHTTPResource("/")
    URL root;

    @BeforeAll
    static void startBrowser() {
        browser = Browser.start("console");
    }

    @AfterAll
    static void stopBrowser() {
        if (browser != null) {
            browser.close();
        }
    }

    /** Every test starts in a tab that has no key yet. */
    @BeforeEach
    void freshTab() {
        browser.freshTab(root.toString());
    }

    @AfterEach
    void screenshotAndConsole(TestInfo test) {
        browser.assertCleanEnd(test.getTestMethod().orElseThrow().getName());
    }

    private void signIn(String key) {
        browser.enterKey(key);
        browser.shown("#batches");
        browser.await("the list's first answer", d -> !browser.find("#list-updated").getText().isBlank());
    }

    private static Path jsonl(String name, List<String> lines) throws IOException {
        Path dir = Files.createDirectories(Path.of("target", "console-files").toAbsolutePath());
        Path file = dir.resolve(name);
        Files.writeString(file, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return file;
    }

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** The state of a batch's row in the list, read in one go. */
    private Map<String, Object> rowState(String id) {
        return browser.script("""
                const tr = document.querySelector('tr[data-batch-id="' + arguments[0] + '"]');
                if (!tr) return null;
                const bar = tr.querySelector('[role=progressbar]');
                return { status: tr.querySelector('.badge').dataset.status, percent: Number(bar.getAttribute('aria-valuenow')),
                  label: bar.getAttribute('aria-valuetext'), text: tr.querySelector('.progress-text').textContent,
                  rate: tr.querySelector('.rate').textContent, eta: tr.querySelector('.eta').textContent,
                  tokens: tr.querySelector('.tokens').textContent, deadline: tr.querySelector('.deadline').textContent,
                  job: tr.querySelector('.job').textContent };""", id);
    }

    @Test
    @Order(1)
    void aKeyIsEnteredOnceKeptForTheTabOnlyAndNeverPutInAUrl() {
        assertEquals("api-key", browser.focused(), "the key field has the focus");
        browser.find("#api-key").sendKeys("sk-not-a-key", Keys.ENTER);
        WebElement error = browser.await("the refusal", d -> {
            WebElement e = browser.find("#api-key-error");
            return e.getText().contains("refused") ? e : null;
        });
        assertEquals("alert", error.getAttribute("role"));
        assertEquals("true", browser.find("#api-key").getAttribute("aria-invalid"));
        assertNull(browser.script("return sessionStorage.getItem('openbatch.key')"), "a refused key is not kept");

        signIn(KEY_A);
        String url = browser.driver.getCurrentUrl();
        assertFalse(url.contains(KEY_A), url);
        assertEquals(root + "#/", url);
        assertEquals(KEY_A, browser.script("return sessionStorage.getItem('openbatch.key')"));
        assertEquals(0L, (Long) browser.script("return localStorage.length"), "nothing outlives the tab");
        assertEquals("", browser.script("return document.cookie"));
        assertTrue(browser.find("#session-key").getText().endsWith(KEY_A.substring(KEY_A.length() - 4)));
        assertFalse(browser.find("#session-key").getText().contains(KEY_A), "the key itself is not shown");

        // kept for the tab: a reload does not ask again
        browser.driver.navigate().refresh();
        browser.shown("#batches");
        assertTrue(browser.findAll("#api-key").isEmpty());

        browser.find("#forget-key").click();
        browser.shown("#api-key");
        assertNull(browser.script("return sessionStorage.getItem('openbatch.key')"));
        assertEquals("api-key", browser.focused());
    }

    @Test
    @Order(2)
    void validationErrorsAreShownByLineUnderTheForm() throws IOException {
        signIn(KEY_A);
        String valid = "{\"custom_id\":\"ok\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{\"model\":\"fake-model\",\"input\":\"x\"}}";
        Path file = jsonl("invalid.jsonl", List.of(valid,
                "{\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{\"model\":\"fake-model\",\"input\":\"y\"}}",
                "{not json",
                valid.replace("\"ok\"", "\"ok-2\"")));
        browser.find("#create-form input[type=file]").sendKeys(file.toString());
        Select endpoint = new Select(browser.find("#create-form select[name=endpoint]"));
        browser.await("the endpoint read from the file's first line", d -> "/v1/embeddings".equals(endpoint.getFirstSelectedOption().getAttribute("value")));

        // a value the API refuses: its message, next to the field that holds it
        WebElement window = browser.find("#create-form input[name=completion_window]");
        window.sendKeys("soon");
        browser.find("#create-batch").click();
        browser.await("the API's refusal", d -> browser.find("#create-errors").getText().contains("completion_window"));
        assertEquals("true", window.getAttribute("aria-invalid"));
        assertEquals(window.getAttribute("id"), browser.focused(), "the field to fix has the focus");

        window.clear();
        browser.find("#create-batch").click();
        WebElement table = browser.await("the validation errors", d -> browser.findAll("#create-errors table.validation-errors").stream()
                .findFirst().orElse(null));
        List<List<String>> rows = table.findElements(By.cssSelector("tbody tr")).stream()
                .map(tr -> tr.findElements(By.tagName("td")).stream().map(WebElement::getText).toList()).toList();
        List<String> lines = rows.stream().map(r -> r.get(0)).toList();
        assertTrue(lines.contains("2") && lines.contains("3"), "errors by line: " + rows);
        assertTrue(rows.stream().anyMatch(r -> r.get(0).equals("2") && r.get(1).equals("custom_id")), rows.toString());
        assertFalse(lines.contains("1") || lines.contains("4"), "good lines are not named: " + rows);
        assertTrue(browser.find("#create-errors").getText().contains("failed validation"));
        assertEquals("true", browser.find("#create-form input[type=file]").getAttribute("aria-invalid"));

        // the same errors on the batch's page
        browser.find("#create-errors a").click();
        WebElement onPage = browser.shown("#validation-errors table");
        assertTrue(onPage.getText().contains("custom_id"), onPage.getText());
        browser.await("the batch failed", d -> browser.findAll("h1 .badge[data-status=failed]").size() == 1);
    }

    @Test
    @Order(3)
    void aBatchIsOpenedWithTheKeyboardAndItsFilesDownloaded() throws IOException {
        String prefix = unique("dl");
        List<String> lines = IntStream.rangeClosed(1, 6).mapToObj(i -> chatLine(prefix + "-" + i, "fake-model",
                i == 4 ? "{\"statuses\":[400]}" : null)).toList();
        String fileId = upload(KEY_A, String.join("\n", lines) + "\n");
        String id = createBatch(KEY_A, fileId, "/v1/chat/completions", "24h").getString("id");
        JsonPath done = Api.awaitStatus(KEY_A, id, "completed", PATIENCE);

        signIn(KEY_A);
        WebElement link = browser.await("the batch in the list", d -> browser.findAll("tr[data-batch-id='" + id + "'] a.batch-link")
                .stream().findFirst().orElse(null));
        link.sendKeys(Keys.ENTER);
        browser.await("the batch's page", d -> browser.findAll(".batch-page[data-batch-id='" + id + "']").size() == 1);
        assertEquals("h1", browser.driver.switchTo().activeElement().getTagName(), "focus moves to the new page's heading");
        assertTrue(browser.driver.getCurrentUrl().endsWith("#/batches/" + id));
        browser.await("the counts", d -> "5".equals(browser.find("[data-fact=completed]").getText()));
        assertEquals("1", browser.find("[data-fact=failed]").getText());
        assertEquals("6", browser.find("[data-fact=total]").getText());
        assertEquals("0", browser.find("[data-fact=remaining]").getText());
        assertEquals(done.getLong("usage.input_tokens") + " / " + done.getLong("usage.output_tokens") + " / " + done.getLong("usage.total_tokens"),
                browser.find("[data-fact=tokens]").getText());
        assertEquals("100", browser.find("#section-progress [role=progressbar]").getAttribute("aria-valuenow"));

        // the timeline: every step reached, ended as completed
        for (String step : List.of("created", "in_progress", "finalizing", "ended")) {
            assertTrue(browser.find("li[data-step=" + step + "]").getAttribute("class").contains("reached"), step);
        }
        assertTrue(browser.find("li[data-step=ended]").getText().startsWith("Completed"));
        assertFalse(browser.find("li[data-step=cancelling]").isDisplayed());

        // the first failed request, from the error file
        WebElement failed = browser.shown("#failed-requests table");
        assertTrue(failed.getText().contains(prefix + "-4") && failed.getText().contains("HTTP 400"), failed.getText());
        assertEquals(1, failed.findElements(By.cssSelector("tbody tr")).size());

        // downloads: the same bytes as the API's, under the file's own name
        String outputId = done.getString("output_file_id");
        String errorId = done.getString("error_file_id");
        browser.shown("#download-output").sendKeys(Keys.ENTER);
        Path output = awaitDownload(id + "_output.jsonl");
        assertEquals(Api.content(KEY_A, outputId), Files.readString(output));
        String saved = Files.readString(output);
        for (int i : List.of(1, 2, 3, 5, 6)) {
            assertTrue(saved.contains("\"custom_id\":\"" + prefix + "-" + i + "\""), saved);
        }
        assertFalse(saved.contains(prefix + "-4\""));
        browser.await("the saved message", d -> browser.find("li[data-file=output] [role=status]").getText().startsWith("Saved"));

        browser.find("#download-error").click();
        Path errors = awaitDownload(id + "_error.jsonl");
        assertEquals(Api.content(KEY_A, errorId), Files.readString(errors));
        assertTrue(Files.readString(errors).contains(prefix + "-4"));
        browser.shown("#download-input");
        assertFalse(browser.find("#action-cancel").isDisplayed(), "no cancel for an ended batch");
        assertTrue(browser.find("#action-retry").isDisplayed(), "its failed line can be retried");
    }

    private Path awaitDownload(String name) {
        Path file = browser.downloads.resolve(name);
        return browser.await("the download of " + name, d -> {
            try (var partial = Files.list(browser.downloads)) {
                boolean busy = partial.anyMatch(p -> p.getFileName().toString().endsWith(".crdownload"));
                return !busy && Files.isRegularFile(file) && Files.size(file) > 0 ? file : null;
            } catch (IOException e) {
                return null;
            }
        });
    }

    @Test
    @Order(4)
    void anotherBatchIsCancelledOnlyAfterTheConfirmation() {
        // lines the upstream asks to retry in ten minutes: the batch stays in progress until cancelled
        String prefix = unique("cancel");
        List<String> lines = IntStream.rangeClosed(1, 3).mapToObj(i -> chatLine(prefix + "-" + i, "fake-model",
                "{\"statuses\":[503],\"retry_after\":600}")).toList();
        String id = createBatch(KEY_A, upload(KEY_A, String.join("\n", lines) + "\n"), "/v1/chat/completions", "24h").getString("id");
        Api.awaitStatus(KEY_A, id, "in_progress", PATIENCE);

        signIn(KEY_A);
        browser.driver.get(root + "#/batches/" + id); // a link to the batch works once the tab has a key
        WebElement cancel = browser.shown("#action-cancel");
        cancel.click();
        WebElement dialog = browser.shown("#confirm-dialog");
        assertEquals("confirm-no", browser.focused(), "the safe choice has the focus");
        assertTrue(dialog.getText().contains(id));
        browser.screenshot("cancel-confirmation");
        assertEquals(List.of(), browser.accessibilityProblems(), "the dialog");

        // Escape says no
        browser.driver.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        browser.await("the dialog closed", d -> browser.findAll("#confirm-dialog").isEmpty());
        assertEquals("action-cancel", browser.focused(), "focus returns to the button");
        assertEquals("in_progress", Api.batch(KEY_A, id).getString("status"));

        browser.find("#action-cancel").click();
        browser.shown("#confirm-yes").click();
        browser.await("the batch cancelled on the page", d -> browser.findAll("h1 .badge[data-status=cancelled]").size() == 1);
        assertEquals("cancelled", Api.batch(KEY_A, id).getString("status"));
        browser.await("the change read out", d -> browser.find("#announcer").getAttribute("textContent").equals("Batch " + id + " is cancelled."));
        assertEquals("polite", browser.find("#announcer").getAttribute("aria-live"));
        assertTrue(browser.find("#action-message").getText().startsWith("Done: the batch is"), browser.find("#action-message").getText());
        assertFalse(browser.find("#action-cancel").isDisplayed());
        assertTrue(browser.find("li[data-step=cancelling]").isDisplayed());
        assertTrue(browser.find("li[data-step=ended]").getText().startsWith("Cancelled"));
        // its three lines, never answered, are in the error file
        browser.await("the failed count", d -> "3".equals(browser.find("[data-fact=failed]").getText()));
    }

    @Test
    @Order(5)
    void liveResultsShowTheLatestLinesAndFailedLinesAreRetriedInANewBatch() {
        // 60 lines, three of which the upstream refuses (400: not retried by the engine); answers of
        // 300 ms through 16 slots, so that the page reads results while the batch runs
        String prefix = unique("live");
        int n = 60;
        List<Integer> failing = List.of(7, 31, 52);
        List<String> lines = IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(prefix + "-" + i, "fake-model",
                failing.contains(i) ? "{\"statuses\":[400],\"latency_ms\":300}" : "{\"latency_ms\":300}")).toList();
        String id = createBatch(KEY_A, upload(KEY_A, String.join("\n", lines) + "\n"), "/v1/chat/completions", "24h").getString("id");

        signIn(KEY_A);
        browser.driver.get(root + "#/batches/" + id);
        browser.shown("#section-results");
        assertEquals("Live results", browser.find("#section-results-title").getText());
        assertEquals("polite", browser.find("#results-count").getAttribute("aria-live"));
        browser.await("every line received", d -> browser.find("#results-count").getText().equals("60 lines received, all of them."));
        Api.awaitStatus(KEY_A, id, "completed", PATIENCE);

        // the table: the last 50 lines of the stream, newest first, each as the API has it
        List<Map<String, Object>> rows = browser.script("""
                return [...document.querySelectorAll('#results-table tbody tr')].map((tr) => {
                  const td = tr.querySelectorAll('td');
                  return { id: td[0].textContent, outcome: td[1].textContent, code: td[2].textContent, answer: td[3].textContent };
                });""");
        List<String> stream = new ResultsReader(KEY_A, id, "").readToEnd(PATIENCE, Duration.ofMillis(200)).lines();
        assertEquals(n, stream.size());
        List<String> newestFirst = new ArrayList<>();
        for (int i = stream.size() - 1; i >= stream.size() - 50; i--) {
            newestFirst.add(new JsonPath(stream.get(i)).getString("custom_id"));
        }
        assertEquals(newestFirst, rows.stream().map(r -> r.get("id")).toList(), "the last 50, newest first");
        for (Map<String, Object> r : rows) {
            int line = Integer.parseInt(((String) r.get("id")).substring(prefix.length() + 1));
            if (failing.contains(line)) {
                assertEquals(List.of("Failed", "HTTP 400"), List.of(r.get("outcome"), r.get("code")), r.toString());
            } else {
                assertEquals(List.of("Succeeded", "HTTP 200", "echo " + r.get("id")), List.of(r.get("outcome"), r.get("code"), r.get("answer")),
                        r.toString());
            }
        }
        assertEquals("Settled lines, newest first (the last 50)", browser.find("#results-table caption").getText());
        browser.script("document.getElementById('section-results').scrollIntoView()");
        browser.screenshot("live-results");

        // retry: asked first, then the new batch's page opens
        browser.await("the failed count", d -> "3".equals(browser.find("[data-fact=failed]").getText()));
        browser.shown("#action-retry").click();
        WebElement dialog = browser.shown("#confirm-dialog");
        assertTrue(dialog.getText().contains(id) && dialog.getText().contains("3 failed"), dialog.getText());
        browser.driver.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        browser.await("the dialog closed", d -> browser.findAll("#confirm-dialog").isEmpty());
        List<String> before = as(KEY_A).get("/v1/batches?limit=100").then().statusCode(200).extract().jsonPath().getList("data.id");

        browser.find("#action-retry").click();
        browser.shown("#confirm-yes").click();
        String retried = browser.await("the new batch's page", d -> {
            String shown = browser.<String>script("const p = document.querySelector('.batch-page'); return p && p.dataset.batchId;");
            return shown != null && !shown.equals(id) ? shown : null;
        });
        assertFalse(before.contains(retried), retried);
        assertTrue(browser.driver.getCurrentUrl().endsWith("#/batches/" + retried));
        browser.await("its id in the heading", d -> browser.find("h1").getText().contains(retried));
        JsonPath made = Api.batch(KEY_A, retried);
        assertEquals(id, made.getString("metadata.retry_of"));
        assertEquals(3, made.getInt("request_counts.total"));
        // the new batch's own lines: its three, failed again, in its live results
        browser.await("the retried lines received", d -> browser.find("#results-count").getText().equals("3 lines received, all of them."));
        List<String> ids = browser.findAll("#results-table tbody td:first-child").stream().map(WebElement::getText).sorted().toList();
        assertEquals(failing.stream().map(i -> prefix + "-" + i).sorted().toList(), ids);
        browser.screenshot("retried-batch");
    }

    @Test
    @Order(6)
    void anotherProjectsKeySeesNoneOfTheseBatches() {
        String a = createBatch(KEY_A, upload(KEY_A, chatLine(unique("a"), "fake-model", null) + "\n"), "/v1/chat/completions", "24h")
                .getString("id");
        String b = createBatch(KEY_B, upload(KEY_B, chatLine(unique("b"), "fake-model", null) + "\n"), "/v1/chat/completions", "24h")
                .getString("id");
        List<String> projectA = as(KEY_A).get("/v1/batches?limit=100").then().statusCode(200).extract().jsonPath().getList("data.id");
        assertTrue(projectA.contains(a));

        signIn(KEY_B);
        browser.await("project B's batch", d -> rowState(b) != null);
        List<String> shown = browser.findAll("tr[data-batch-id]").stream().map(tr -> tr.getAttribute("data-batch-id")).toList();
        for (String id : projectA) {
            assertFalse(shown.contains(id), "project A's " + id + " in project B's list " + shown);
        }
        // and not by its address either
        browser.driver.get(root + "#/batches/" + a);
        browser.await("not found", d -> browser.find("#batch-problem").getText().contains("There is no batch " + a));
        assertTrue(browser.findAll("#section-progress").isEmpty());
    }

    @Test
    @Order(7)
    void theRateAndTimeToFinishComeFromSuccessiveCounts() {
        signIn(KEY_A);
        Map<String, Object> r = browser.asyncScript("""
                const done = arguments[arguments.length - 1];
                Promise.all([import(new URL('console/progress.js', document.baseURI)), import(new URL('console/format.js', document.baseURI))])
                  .then(([p, f]) => {
                    const t = new p.Throughput(30000);
                    const out = {};
                    out.none = t.rate('b');
                    t.add('b', 0, 0); out.one = t.rate('b');
                    t.add('b', 2000, 20); out.two = t.rate('b');
                    t.add('b', 4000, 60); out.three = t.rate('b');
                    t.add('b', 40000, 100); out.windowed = t.rate('b');
                    t.add('b', 41000, 5); out.restarted = t.rate('b');
                    const batch = { id: 'c', status: 'in_progress', in_progress_at: 1000, expires_at: 5000,
                      request_counts: { total: 100, completed: 15, failed: 5 } };
                    out.sinceStart = p.rateOf(batch, t, 1010);
                    out.eta = p.etaSeconds(batch, 2);
                    out.etaStalled = p.etaSeconds(batch, 0);
                    out.deadline = p.deadlineLeft(batch, 1010);
                    out.ended = p.rateOf({ ...batch, status: 'completed' }, t, 1010);
                    out.noDeadline = p.deadlineLeft({ ...batch, status: 'completed' }, 1010);
                    out.percent = p.fractions({ request_counts: { total: 3, completed: 2, failed: 0 } }).percent;
                    out.full = p.fractions({ request_counts: { total: 3, completed: 2, failed: 1 } }).percent;
                    out.durations = [f.duration(45), f.duration(200), f.duration(7500), f.duration(90000), f.duration(null)];
                    out.rates = [f.rate(2.345), f.rate(1234.4), f.rate(null)];
                    done(out);
                  }).catch((e) => done({ error: String(e) }));""");
        assertNull(r.get("error"), String.valueOf(r.get("error")));
        assertNull(r.get("none"));
        assertNull(r.get("one"), "one sample gives no rate");
        assertEquals(10.0, ((Number) r.get("two")).doubleValue(), 1e-9);
        assertEquals(15.0, ((Number) r.get("three")).doubleValue(), 1e-9);
        assertEquals(40.0 / 36.0, ((Number) r.get("windowed")).doubleValue(), 1e-9, "the last 30 s (and the sample just before them)");
        assertNull(r.get("restarted"), "counts that went back start a new measurement");
        assertEquals(2.0, ((Number) r.get("sinceStart")).doubleValue(), 1e-9, "before two samples: the average since it started");
        assertEquals(40.0, ((Number) r.get("eta")).doubleValue(), 1e-9, "80 lines left at 2 lines/s");
        assertNull(r.get("etaStalled"));
        assertEquals(3990.0, ((Number) r.get("deadline")).doubleValue(), 1e-9);
        assertNull(r.get("ended"));
        assertNull(r.get("noDeadline"));
        assertEquals(66L, ((Number) r.get("percent")).longValue(), "rounded down: 100% only when every line is settled");
        assertEquals(100L, ((Number) r.get("full")).longValue());
        assertEquals(List.of("45 s", "3 min 20 s", "2 h 5 min", "1 d 1 h", "—"), r.get("durations"));
        assertEquals(List.of("2.3 lines/s", "1,234 lines/s", "—"), r.get("rates"));
    }

    @Test
    @Order(8)
    void anUploadedFileBecomesABatchWhoseProgressBarReaches100() throws IOException {
        signIn(KEY_A);
        // 96 answers of 1.5 s each through the upstream's 16 slots: six waves, about 9 s, so that the
        // list shows the batch while it runs (each answer stays under the tests' 2 s request timeout)
        String prefix = unique("progress");
        int n = 96;
        List<String> lines = IntStream.rangeClosed(1, n).mapToObj(i -> chatLine(prefix + "-" + i, "fake-model",
                "{\"latency_ms\":1500}")).toList();
        Path file = jsonl("progress.jsonl", lines);
        browser.find("#create-form input[type=file]").sendKeys(file.toString());
        browser.find("#create-batch").sendKeys(Keys.ENTER);
        // the status line is rewritten as the batch goes on: read its link in one step
        String id = browser.await("the new batch", d -> browser.<String>script("const a = document.querySelector('#create-status a'); return a && a.textContent;"));
        assertTrue(id.startsWith("batch-"), id);

        // watch the row: it must show the batch running, with a rate and a time to finish, then reach 100%
        List<Map<String, Object>> seen = new ArrayList<>();
        boolean shot = false;
        long end = System.currentTimeMillis() + PATIENCE.toMillis() * 2;
        Map<String, Object> state = null;
        while (System.currentTimeMillis() < end) {
            state = rowState(id);
            if (state != null) {
                seen.add(state);
                long percent = ((Number) state.get("percent")).longValue();
                if (!shot && "in_progress".equals(state.get("status")) && percent > 0 && percent < 100 && RATE.matcher((String) state.get("rate")).matches()) {
                    browser.screenshot("console-list");
                    shot = true;
                }
                if ("completed".equals(state.get("status")) && percent == 100) {
                    break;
                }
            }
            sleep(100);
        }
        assertTrue(state != null && "completed".equals(state.get("status")), "the batch completed on the page: " + state);
        assertEquals(100L, ((Number) state.get("percent")).longValue());
        assertEquals("96 / 96 · 100%", state.get("text"));
        assertEquals("96 of 96 lines settled (100%): 96 completed, 0 failed", state.get("label"));
        assertEquals("960", state.get("tokens"), "10 tokens per answer of the fake upstream");
        assertEquals("—", state.get("rate"));
        assertEquals("—", state.get("eta"));

        List<Map<String, Object>> running = seen.stream().filter(s -> "in_progress".equals(s.get("status"))).toList();
        assertTrue(running.stream().anyMatch(s -> {
            long p = ((Number) s.get("percent")).longValue();
            return p > 0 && p < 100;
        }), "the bar moved while the batch ran: " + summary(seen));
        assertTrue(running.stream().anyMatch(s -> RATE.matcher((String) s.get("rate")).matches() && !"—".equals(s.get("eta"))),
                "lines per second and a time to finish while it ran: " + summary(seen));
        assertTrue(running.stream().allMatch(s -> ((String) s.get("deadline")).matches("(23 h|1 d).*")), "a 24h window: " + summary(seen));
        List<Long> percents = seen.stream().map(s -> ((Number) s.get("percent")).longValue()).toList();
        for (int i = 1; i < percents.size(); i++) {
            assertTrue(percents.get(i) >= percents.get(i - 1), "the bar never goes back: " + percents);
        }
        assertTrue(shot, "a screenshot of the list while the batch ran");

        // the form said how validation went
        browser.await("the form's message", d -> browser.find("#create-status").getText().contains(" lines."));
        assertTrue(browser.find("#create-status").getText().matches("Batch " + id + " is (in progress|completed): 96 lines\\."),
                browser.find("#create-status").getText());
        JsonPath api = Api.batch(KEY_A, id);
        assertEquals("completed", api.getString("status"));
        assertEquals(n, api.getInt("request_counts.completed"));
    }

    private static String summary(List<Map<String, Object>> seen) {
        return seen.stream().map(s -> s.get("status") + " " + s.get("percent") + "% " + s.get("rate") + " eta " + s.get("eta"))
                .distinct().collect(Collectors.joining("; "));
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
