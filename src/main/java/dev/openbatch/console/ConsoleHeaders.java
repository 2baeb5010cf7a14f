package dev.openbatch.console;

import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.MultiMap;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * The web console is static files in {@code META-INF/resources}, served at {@code /} by the same
 * HTTP server as the API and without a key (the key is typed into the page and sent by its scripts
 * as {@code Authorization}, like any client's). This filter gives the console's answers their
 * headers: a Content-Security-Policy that lets the page run only its own scripts and styles and
 * talk only to its own origin (no inline script or style, no plugin, no framing), no referrer, no
 * content sniffing, and {@code Cache-Control: no-cache} so that an upgraded service's console is
 * never mixed with cached modules of the previous one (they are revalidated, and answered 304 when
 * unchanged). Answers of the API ({@code /v1/...}) and of {@code /q/...} keep their own headers.
 * <p>
 * No CORS is configured: the console is served from the API's own origin and needs none, and a page
 * of another origin cannot read the API's answers in a browser.
 */
@ApplicationScoped
public class ConsoleHeaders {
    /** Only the page's own files; the API on the same origin; downloads are made from blobs the page creates. */
    public static final String POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    /** Runs after {@code HttpLayer}'s checks. */
    private static final int ORDER = 9_000;

    void filters(@Observes Filters filters) {
        filters.register(this::headers, ORDER);
    }

    private void headers(RoutingContext ctx) {
        String path = ctx.normalizedPath();
        if (!isConsole(path)) {
            ctx.next();
            return;
        }
        // set when the answer's headers go out, so that they win over the static handler's own
        ctx.addHeadersEndHandler(v -> {
            MultiMap headers = ctx.response().headers();
            headers.set("Content-Security-Policy", POLICY);
            headers.set("X-Content-Type-Options", "nosniff");
            headers.set("Referrer-Policy", "no-referrer");
            headers.set("X-Frame-Options", "DENY");
            headers.set("Cache-Control", "no-cache");
        });
        ctx.next();
    }

    /** Everything but the API and the {@code /q/} endpoints: the page, its modules, its stylesheet, its icon. */
    static boolean isConsole(String path) {
        return path != null && !path.startsWith("/v1/") && !"/v1".equals(path) && !path.startsWith("/q/") && !"/q".equals(path);
    }
}
