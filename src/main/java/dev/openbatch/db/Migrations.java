package dev.openbatch.db;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flywaydb.core.Flyway;
import org.jboss.logging.Logger;

import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.Priority;
import jakarta.inject.Singleton;
import jakarta.enterprise.inject.Instance;

/**
 * Brings the database up to date before anything else runs: creates the database when it is
 * missing (a fresh machine has only PostgreSQL), then applies the Flyway migrations. JDBC is
 * used here and nowhere else. A {@code @Singleton}, so that injecting it (as the engine does)
 * runs the migrations first.
 */
@Startup
@Priority(1)
@Singleton
public class Migrations {
    private static final Logger LOG = Logger.getLogger(Migrations.class);
    private static final Pattern URL = Pattern.compile("^(jdbc:postgresql://[^/]+/)([^?]+)(\\?.*)?$");

    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final Instance<Flyway> flyway;

    public Migrations(@ConfigProperty(name = "quarkus.datasource.jdbc.url") String jdbcUrl,
            @ConfigProperty(name = "quarkus.datasource.username", defaultValue = "postgres") String user,
            @ConfigProperty(name = "quarkus.datasource.password") java.util.Optional<String> password,
            Instance<Flyway> flyway) {
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password.orElse(null);
        this.flyway = flyway;
    }

    @PostConstruct
    void migrate() {
        createDatabaseIfMissing();
        var result = flyway.get().migrate();
        LOG.infof("database schema at version %s (%d migrations applied now)",
                result.targetSchemaVersion == null ? flyway.get().info().current().getVersion() : result.targetSchemaVersion,
                result.migrationsExecuted);
    }

    private void createDatabaseIfMissing() {
        Matcher m = URL.matcher(jdbcUrl);
        if (!m.matches()) {
            return;
        }
        String database = m.group(2);
        String adminUrl = m.group(1) + "postgres" + (m.group(3) == null ? "" : m.group(3));
        Properties props = new Properties();
        props.setProperty("user", user);
        if (password != null && !password.isEmpty()) {
            props.setProperty("password", password);
        }
        try (Connection c = DriverManager.getConnection(adminUrl, props);
                PreparedStatement ps = c.prepareStatement("select 1 from pg_database where datname = ?")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return;
                }
            }
            try (Statement st = c.createStatement()) {
                st.execute("create database \"" + database.replace("\"", "\"\"") + "\"");
                LOG.infof("created database %s", database);
            }
        } catch (SQLException e) {
            // Not fatal: the database may exist while the maintenance database is not ours to read.
            if (!"42P04".equals(e.getSQLState())) {
                LOG.warnf("could not check or create database %s through %s: %s", database, adminUrl, e.getMessage());
            }
        }
    }
}
