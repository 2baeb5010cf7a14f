package dev.openbatch.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Level;

import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A real browser for the console's tests: Debian's {@code chromium} driven by its
 * {@code chromium-driver}, headless, with downloads going to a directory of the test's own.
 * Nothing is downloaded: the browser and its driver are the ones the system has
 * ({@code .ci/run} installs them with apt), at {@code /usr/bin/chromium} and
 * {@code /usr/bin/chromedriver} unless {@code -Dopenbatch.test.chromium} /
 * {@code -Dopenbatch.test.chromedriver} say otherwise.
 */
public final class Browser implements AutoCloseable {
    /** Waits are generous: the tests share two cores with builds of other people. */
    public static final Duration PATIENCE = Duration.ofSeconds(90);
    public static final Path SCREENSHOTS = Path.of("target", "screenshots");

    public final ChromeDriver driver;
    public final Path downloads;

    private Browser(ChromeDriver driver, Path downloads) {
        this.driver = driver;
        this.downloads = downloads;
    }

    public static Browser start(String name) {
        String chromium = System.getProperty("openbatch.test.chromium", "/usr/bin/chromium");
        String chromedriver = System.getProperty("openbatch.test.chromedriver", "/usr/bin/chromedriver");
        if (!new File(chromium).canExecute() || !new File(chromedriver).canExecute()) {
            throw new IllegalStateException("The console's browser tests need Debian's chromium and chromium-driver (" + chromium + ", "
                    + chromedriver + "): apt-get install -y chromium chromium-driver (.ci/run does it)");
        }
        try {
            Path downloads = Path.of("target", "downloads", name).toAbsolutePath();
            if (Files.isDirectory(downloads)) { // a file saved twice would get a " (1)" name
                try (var old = Files.list(downloads)) {
                    for (Path f : old.toList()) {
                        Files.delete(f);
                    }
                }
            }
            Files.createDirectories(downloads);
            ChromeOptions options = new ChromeOptions();
            options.setBinary(chromium);
            options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1366,1000",
                    "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync", "--lang=en-US");
            options.setExperimentalOption("prefs", Map.of(
                    "download.default_directory", downloads.toString(),
                    "download.prompt_for_download", false,
                    "download.directory_upgrade", true));
            LoggingPreferences logs = new LoggingPreferences();
            logs.enable(LogType.BROWSER, Level.ALL);
            options.setCapability("goog:loggingPrefs", logs);
            ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(chromedriver))
                    .usingAnyFreePort().build();
            ChromeDriver driver = new ChromeDriver(service, options);
            // headless: downloads go to the test's directory without asking
            driver.executeCdpCommand("Browser.setDownloadBehavior", Map.of("behavior", "allow", "downloadPath", downloads.toString()));
            driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
            driver.manage().timeouts().pageLoadTimeout(PATIENCE);
            return new Browser(driver, downloads);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public <T> T await(String what, Function<WebDriver, T> condition) {
        return new WebDriverWait(driver, PATIENCE, Duration.ofMillis(100)).withMessage(what).until(condition);
    }

    public WebElement find(String css) {
        return driver.findElement(By.cssSelector(css));
    }

    public List<WebElement> findAll(String css) {
        return driver.findElements(By.cssSelector(css));
    }

    /** Waits until an element matching {@code css} is shown. */
    public WebElement shown(String css) {
        return await(css + " shown", d -> d.findElements(By.cssSelector(css)).stream().filter(WebElement::isDisplayed).findFirst().orElse(null));
    }

    @SuppressWarnings("unchecked")
    public <T> T script(String js, Object... args) {
        return (T) ((JavascriptExecutor) driver).executeScript(js, args);
    }

    @SuppressWarnings("unchecked")
    public <T> T asyncScript(String js, Object... args) {
        return (T) ((JavascriptExecutor) driver).executeAsyncScript(js, args);
    }

    /** The id of the element that has the keyboard focus. */
    public String focused() {
        return driver.switchTo().activeElement().getAttribute("id");
    }

    /** Saves what the browser shows as {@code target/screenshots/<name>.png}. */
    public Path screenshot(String name) {
        try {
            Files.createDirectories(SCREENSHOTS);
            Path file = SCREENSHOTS.resolve(name + ".png");
            Files.write(file, ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * What an automated look finds wrong with the page as it is now (inside the open modal dialog,
     * if there is one): text below the WCAG AA contrast ratio against its actual background (4.5:1,
     * or 3:1 for large text; disabled controls are exempt), form fields without a label, buttons
     * and links without a name, duplicate ids. Empty when nothing is.
     */
    public List<String> accessibilityProblems() {
        return script("""
                const problems = [];
                const root = document.querySelector('dialog[open]') || document.body;
                const rgba = (s) => { const m = /rgba?\\(([^)]+)\\)/.exec(s); if (!m) return null;
                  const p = m[1].split(',').map((x) => parseFloat(x)); return { rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1 }; };
                const lum = (rgb) => { const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
                  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
                const background = (el) => { const layers = [];
                  for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor);
                    if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
                  let rgb = [255, 255, 255];
                  for (let i = layers.length - 1; i >= 0; i--) { const c = layers[i]; rgb = rgb.map((v, k) => c.rgb[k] * c.a + v * (1 - c.a)); }
                  return rgb; };
                const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden' && !el.closest('.visually-hidden');
                const name = (el) => (el.getAttribute('aria-label') || el.textContent || '').trim();
                for (const el of root.querySelectorAll('*')) {
                  if (!visible(el) || el.disabled) continue;
                  const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
                  if (text) {
                    const st = getComputedStyle(el);
                    const fg = rgba(st.color);
                    const bg = background(el);
                    const f = fg.rgb.map((v, k) => v * fg.a + bg[k] * (1 - fg.a));
                    const l1 = lum(f); const l2 = lum(bg);
                    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
                    const size = parseFloat(st.fontSize); const bold = parseInt(st.fontWeight, 10) >= 700;
                    const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
                    if (ratio < need) problems.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': <' + el.tagName.toLowerCase() + ' class="' + el.className + '">' + el.textContent.trim().slice(0, 40));
                  }
                  if (el.matches('input:not([type=hidden]), select, textarea') && el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
                    problems.push('no label: ' + el.outerHTML.slice(0, 80));
                  if (el.matches('button, a[href]') && name(el) === '') problems.push('no name: ' + el.outerHTML.slice(0, 80));
                }
                const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
                for (const id of new Set(ids)) if (ids.indexOf(id) !== ids.lastIndexOf(id)) problems.push('duplicate id ' + id);
                return problems;""");
    }

    /** The start of a console test: the console at {@code root} in a tab with no key yet, earlier messages forgotten. */
    public void freshTab(String root) {
        driver.get(root);
        script("sessionStorage.clear()");
        driver.navigate().refresh();
        shown("#api-key");
        consoleMessages(); // forget the earlier tests' messages
    }

    /** Types {@code key} into the console's key field and sends the form from the keyboard. */
    public void enterKey(String key) {
        WebElement input = shown("#api-key");
        input.clear();
        input.sendKeys(key, Keys.ENTER);
    }

    /**
     * The end of a console test: a screenshot named after it, then no script error in the browser's
     * console (a blocked script, an uncaught exception) and no accessibility problem on the page it
     * ended on.
     */
    public void assertCleanEnd(String name) {
        screenshot(name);
        List<String> bad = new java.util.ArrayList<>();
        for (LogEntry e : consoleMessages()) {
            String m = e.getMessage();
            if (m.contains("Content Security Policy") || m.contains("Uncaught") || m.contains("TypeError") || m.contains("SyntaxError")
                    || m.contains("ReferenceError")) {
                bad.add(m);
            }
        }
        org.junit.jupiter.api.Assertions.assertTrue(bad.isEmpty(), "the browser's console: " + bad);
        org.junit.jupiter.api.Assertions.assertEquals(List.of(), accessibilityProblems(), "the page the test ended on");
    }

    public List<LogEntry> consoleMessages() {
        return driver.manage().logs().get(LogType.BROWSER).getAll();
    }

    @Override
    public void close() {
        driver.quit();
    }
}
