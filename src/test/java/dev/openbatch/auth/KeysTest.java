package dev.openbatch.auth;

import static dev.openbatch.testing.Theories.anyChar;
import static dev.openbatch.testing.Theories.chars;
import static dev.openbatch.testing.Theories.lists;
import static dev.openbatch.testing.Theories.pick;
import static dev.openbatch.testing.Theories.qt;
import static dev.openbatch.testing.Theories.strings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

/** The constant-time lookup answers exactly what a plain map of the configured keys would. */
class KeysTest {
    /** Key text: printable ASCII but the list's separators. */
    static Gen<String> keyTexts() {
        return strings(chars('!', '~', ",:"), 1, 40);
    }

    /** Configurations of 1 to 8 keys, each naming a project of letters, digits, '-' and '_'. */
    static Gen<Map<String, String>> configs() {
        Gen<Character> projectChar = Generate.oneOf(chars('a', 'z'), chars('A', 'Z'), chars('0', '9'), pick('-', '_'));
        Gen<String> project = strings(projectChar, 1, 20);
        return lists(keyTexts().zip(project, Map::entry), 1, 8).map(entries -> {
            Map<String, String> config = new LinkedHashMap<>();
            entries.forEach(e -> config.put(e.getKey(), e.getValue()));
            return config;
        });
    }

    static Keys keys(Map<String, String> config) {
        String list = config.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue()).collect(Collectors.joining(","));
        return new Keys(config(list, null), null, () -> 0);
    }

    /** A configuration with these bootstrap keys and admin key (either may be null). */
    static AuthConfig config(String keys, String adminKey) {
        return new AuthConfig() {
            @Override
            public Optional<String> keys() { return Optional.ofNullable(keys); }

            @Override
            public Optional<String> adminKey() { return Optional.ofNullable(adminKey); }

            @Override
            public Optional<String> adminKeySha256() { return Optional.empty(); }

            @Override
            public Duration keyPoll() { return Duration.ofMillis(500); }
        };
    }

    @Test
    void everyConfiguredKeyNamesItsProject() {
        qt(1000).forAll(configs()).checkAssert(config -> {
            Keys keys = keys(config);
            config.forEach((k, p) -> assertEquals(Optional.of(p), keys.project(k), k));
        });
    }

    @Test
    void nothingElseNamesAProject() {
        // any text at all, or text shaped like a key
        qt(1000).forAll(configs(), Generate.oneOf(strings(anyChar(), 0, 255), keyTexts())).checkAssert(KeysTest::nothingElseNamesAProject);
    }

    static void nothingElseNamesAProject(Map<String, String> config, String other) {
        Keys keys = keys(config);
        Map<String, String> plain = new LinkedHashMap<>(config);
        assertEquals(Optional.ofNullable(plain.get(other)), keys.project(other), other);
        for (String k : config.keySet()) {
            // near misses: a prefix, an extension, one character changed
            if (!config.containsKey(k.substring(0, k.length() - 1))) {
                assertTrue(keys.project(k.substring(0, k.length() - 1)).isEmpty());
            }
            if (!config.containsKey(k + "x")) {
                assertTrue(keys.project(k + "x").isEmpty());
            }
            String changed = (char) (k.charAt(0) ^ 1) + k.substring(1);
            if (!config.containsKey(changed)) {
                assertTrue(keys.project(changed).isEmpty());
            }
        }
        assertTrue(keys.project(null).isEmpty());
    }

    @Test
    void theAdminKeyIsKnownByItsDigestAlone() {
        String admin = "sk-admin-" + "x".repeat(20);
        Keys clear = new Keys(config("k:p", admin), null, () -> 0);
        assertEquals(Optional.of(new Keys.Caller(null, true)), clear.caller(admin));
        assertTrue(clear.project(admin).isEmpty(), "the admin is no project");
        assertEquals(Optional.of(new Keys.Caller("p", false)), clear.caller("k"));
        assertTrue(clear.caller(admin + "x").isEmpty());

        String hex = java.util.HexFormat.of().formatHex(Keys.sha256(admin));
        Keys digest = new Keys(new Config(Optional.empty(), Optional.empty(), Optional.of(hex.toUpperCase())), null, () -> 0);
        assertFalse(digest.isOpen(), "an admin key alone closes open mode");
        assertEquals(Optional.of(new Keys.Caller(null, true)), digest.caller(admin));
        assertTrue(digest.caller("k").isEmpty());
        assertTrue(digest.caller(null).isEmpty());
        assertThrows(IllegalArgumentException.class,
                () -> new Keys(new Config(Optional.empty(), Optional.empty(), Optional.of("abc")), null, () -> 0));
    }

    @Test
    void openModeAcceptsAnyoneAsDefaultAndNoAdmin() {
        Keys open = new Keys(config(null, null), null, () -> 0);
        assertTrue(open.isOpen());
        assertFalse(open.hasAdmin());
        assertEquals(Optional.of(new Keys.Caller(Keys.OPEN_PROJECT, false)), open.caller(null));
        assertEquals(Optional.of(new Keys.Caller(Keys.OPEN_PROJECT, false)), open.caller("anything"));
    }

    record Config(Optional<String> keys, Optional<String> adminKey, Optional<String> adminKeySha256) implements AuthConfig {
        @Override
        public Duration keyPoll() { return Duration.ofMillis(500); }
    }
}
