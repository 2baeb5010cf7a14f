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

    /** The browser's console messages since the last call. */
    public List<LogEntry> consoleMessages() {
        return driver.manage().logs().get(LogType.BROWSER).getAll();
    }

    @Override
    public void close() {
        driver.quit();
    }
}
