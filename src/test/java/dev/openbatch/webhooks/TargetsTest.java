package dev.openbatch.webhooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.URI;

import org.junit.jupiter.api.Test;

/** Which receivers are refused: by URL form, by name, and by every address the host resolves to. */
class TargetsTest {
    private static final Targets STRICT = new Targets(false, false);
    private static final Targets PRIVATE_OK = new Targets(true, false);
    private static final Targets LOOPBACK_OK = new Targets(false, true);

    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal); // literals only: no lookup
    }

    @Test
    void loopbackLinkLocalMetadataUnspecifiedMulticastAndReservedAreAlwaysRefused() throws Exception {
        for (String a : new String[] { "127.0.0.1", "127.1.2.3", "::1", "169.254.169.254", "169.254.0.1", "fe80::1", "0.0.0.0",
                "0.1.2.3", "::", "224.0.0.1", "239.255.255.250", "ff02::1", "255.255.255.255", "240.0.0.1", "100.100.100.200",
                "168.63.129.16", "fd00:ec2::254",
                // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4
                "::ffff:169.254.169.254", "::ffff:127.0.0.1", "::169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1",
                // IPv4-translated (SIIT), local-use NAT64, Teredo
                "::ffff:0:169.254.169.254", "::ffff:0:7f00:1", "64:ff9b:1::a9fe:a9fe", "64:ff9b:1::808:808", "2001::1",
                "2001:0:4136:e378:8000:63bf:3fff:fdd2" }) {
            assertNotNull(STRICT.refusal(ip(a)), a);
            if (!a.startsWith("127.") && !a.equals("::1") && !a.equals("::ffff:127.0.0.1") && !a.equals("::ffff:0:7f00:1")) {
                assertNotNull(PRIVATE_OK.refusal(ip(a)), a + " stays refused when private targets are allowed");
                assertNotNull(LOOPBACK_OK.refusal(ip(a)), a + " stays refused when loopback targets are allowed");
            }
        }
    }

    @Test
    void privateRangesNeedTheOperatorsConsent() throws Exception {
        for (String a : new String[] { "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "fd12:3456::1",
                "fc00::1", "::ffff:10.1.2.3", "198.18.0.1", "::ffff:0:10.1.2.3" }) {
            assertEquals("a private", STRICT.refusal(ip(a)), a);
            assertNull(PRIVATE_OK.refusal(ip(a)), a);
        }
    }

    @Test
    void loopbackIsAllowedOnlyByItsOwnKey() throws Exception {
        assertEquals("a loopback", STRICT.refusal(ip("127.0.0.1")));
        assertEquals("a loopback", PRIVATE_OK.refusal(ip("::1")));
        assertNull(LOOPBACK_OK.refusal(ip("127.0.0.1")));
        assertNull(LOOPBACK_OK.refusal(ip("::1")));
        assertNull(LOOPBACK_OK.refusal(ip("::ffff:127.0.0.1")));
    }

    @Test
    void publicAddressesAreAllowed() throws Exception {
        for (String a : new String[] { "93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "2001:db8::1" }) {
            assertNull(STRICT.refusal(ip(a)), a);
        }
    }

    @Test
    void theUrlMustBeHttpWithAHostAndNoCredentialsOrFragment() throws Exception {
        for (String u : new String[] { "ftp://example.com/x", "example.com/hook", "http:///nohost", "https://user:pw@example.com/",
                "https://example.com/#frag", "https://metadata.google.internal/computeMetadata/v1/", "http://METADATA/x",
                "http://metadata.google.internal./x", "not a url", "", "https://example.com/" + "a".repeat(2100) }) {
            assertThrows(Targets.Refused.class, () -> Targets.parse(u), u);
        }
        URI ok = Targets.parse("https://Example.COM:8443/hooks/openbatch?x=1");
        assertEquals("example.com", Targets.host(ok));
        assertEquals(8443, Targets.port(ok));
        assertEquals(443, Targets.port(Targets.parse("https://example.com/")));
        assertEquals(80, Targets.port(Targets.parse("http://example.com/")));
        assertEquals("::1", Targets.host(Targets.parse("http://[::1]:9/")));
    }

    @Test
    void aHostIsJudgedByEveryAddressItResolvesTo() throws Exception {
        Targets.Refused e = assertThrows(Targets.Refused.class, () -> STRICT.resolve(URI.create("http://127.0.0.1:9/x")));
        assertTrue(e.getMessage().contains("loopback"), e.getMessage());
        e = assertThrows(Targets.Refused.class, () -> STRICT.resolve(URI.create("http://[::ffff:169.254.169.254]/latest")));
        assertTrue(e.getMessage().contains("link-local"), e.getMessage());
        assertEquals(ip("10.0.0.1"), PRIVATE_OK.resolve(URI.create("http://10.0.0.1/")));
        e = assertThrows(Targets.Refused.class, () -> STRICT.resolve(URI.create("http://10.0.0.1/")));
        assertTrue(e.getMessage().contains("allow-private-targets"), e.getMessage());
        assertEquals(ip("127.0.0.1"), LOOPBACK_OK.resolve(URI.create("http://127.0.0.1:9/")));
    }

    @Test
    void aNameGetsOneAnswerWhetherItDoesNotResolveOrResolvesToARefusedAddress() throws Exception {
        Targets.Refused internal = assertThrows(Targets.Refused.class, () -> STRICT.resolve(URI.create("http://localhost:9/x")));
        Targets.Refused missing = assertThrows(Targets.Refused.class,
                () -> STRICT.resolve(URI.create("http://no-such-host.invalid/x"))); // .invalid never resolves (RFC 6761)
        assertEquals(Targets.NOT_A_RECEIVER, internal.getMessage(), "a name that exists inside says nothing of what it is");
        assertEquals(internal.getMessage(), missing.getMessage(), "nor whether it exists");
        assertEquals(Targets.NOT_A_RECEIVER,
                assertThrows(Targets.Refused.class, () -> PRIVATE_OK.resolve(URI.create("http://localhost/"))).getMessage());
    }

    @Test
    void literalsAreToldApartFromNames() {
        for (String h : new String[] { "10.0.0.1", "255.255.255.255", "::1", "64:ff9b::1" }) {
            assertTrue(Targets.isLiteral(h), h);
        }
        for (String h : new String[] { "example.com", "10.0.0.1.nip.io", "1.2.3", "localhost", "1.2.3.4a" }) {
            assertTrue(!Targets.isLiteral(h), h);
        }
    }
}
