package dev.openbatch.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import org.junit.jupiter.api.Test;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The design, as rules the build checks on the compiled main classes: no package depends on
 * itself through others, and only the stores speak SQL (the reactive SQL client is theirs alone;
 * everyone else calls a store, and composes a transaction through {@code store.Transactions}).
 * Which status strings may appear where is {@link StatusStringsTest}'s rule.
 */
class ArchitectureTest {
    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.openbatch");

    /** Every package of openbatch is a slice; none may reach itself again through the others. */
    @Test
    void noPackageCycles() {
        check( slices().matching("dev.openbatch.(**)").should().beFreeOfCycles());
    }

    /** The reactive SQL client (pools, connections, rows, tuples) is used in store packages only. */
    @Test
    void onlyStoresSpeakSql() {
        check( noClasses()
            .that().resideOutsideOfPackage("..store..")
            .should().dependOnClassesThat().resideInAnyPackage("io.vertx.mutiny.sqlclient..", "io.vertx.sqlclient..",
                    "io.vertx.mutiny.pgclient..", "io.vertx.pgclient..")
            .because("only stores speak SQL: a change to a column touches one package"));
    }

    /** A class named a store is one: it lives in a store package, beside the others. */
    @Test
    void storesLiveInTheStorePackage() {
        check(classes().that().haveSimpleNameEndingWith("Store").should().resideInAPackage("..store.."));
    }

    private static void check(ArchRule rule) {
        rule.check(MAIN);
    }
}
