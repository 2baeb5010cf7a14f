package dev.openbatch;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

/**
 * Starts openbatch. Before anything of Vert.x loads, it hands the checking of header characters
 * from Vert.x's HTTP codec to openbatch ({@code vertx.disableHttpHeadersValidation}): the codec
 * answers a control character in a request header with a bare 400 before any of our code runs,
 * while {@code HttpLayer} refuses it with the error envelope, checks every response header before
 * it is written, and {@code HttpUpstream} refuses such a character in an upstream's answer.
 * <p>
 * The property is read once, when Vert.x's {@code HttpHeaders} class loads, so it has to be set
 * here or on the command line (the tests set it in the POM); {@code HttpLayer} warns at startup
 * when it is not set.
 */
@QuarkusMain
public final class Main {
    public static final String HEADER_CHECKS_PROPERTY = "vertx.disableHttpHeadersValidation";

    private Main() {
    }

    public static void main(String... args) {
        if (System.getProperty(HEADER_CHECKS_PROPERTY) == null) {
            System.setProperty(HEADER_CHECKS_PROPERTY, "true");
        }
        Quarkus.run(args);
    }
}
