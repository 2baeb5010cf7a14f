package dev.openbatch.webhooks;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Set;

/**
 * Which addresses a webhook may be sent to. Receivers are named by tenants, so a URL must not
 * make openbatch reach what only it can reach: loopback, link-local (169.254.169.254 and the other
 * cloud metadata services among them), unspecified, multicast, broadcast and reserved addresses
 * are refused, and private ones (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, ...) too unless
 * the operator allows them. Checked on the URL when an endpoint is made, and on every address its
 * host resolves to at each delivery (the delivery then connects to the address checked).
 * <p>
 * A host given as a name gets one answer whatever went wrong (it does not resolve, or it resolves
 * to an address refused here): a tenant must not learn, by trying names, which internal ones exist
 * and what they point to. A literal address is told why, since it reveals nothing.
 */
public final class Targets {
    /** Longest URL accepted. */
    static final int MAX_URL = 2048;
    /** Names of cloud metadata services, refused whatever they resolve to. */
    private static final Set<String> METADATA_NAMES = Set.of("metadata", "metadata.google.internal", "metadata.goog",
            "instance-data", "instance-data.ec2.internal", "metadata.azure.internal", "metadata.platformequinix.com");

    private final boolean allowPrivate;
    private final boolean allowLoopback;

    public Targets(boolean allowPrivate, boolean allowLoopback) {
        this.allowPrivate = allowPrivate;
        this.allowLoopback = allowLoopback;
    }

    public static Targets of(WebhooksConfig c) {
        return new Targets(c.allowPrivateTargets(), c.allowLoopbackTargets());
    }

    /** A URL that is not an acceptable receiver; the message says why, for the client. */
    public static final class Refused extends Exception {
        public Refused(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Parses a receiver URL: absolute {@code http} or {@code https}, with a host, no user info and
     * no fragment, at most 2,048 characters, and not a metadata service's name. The host is not
     * resolved here.
     */
    public static URI parse(String url) throws Refused {
        if (url == null || url.isBlank()) {
            throw new Refused("A webhook URL is required.");
        }
        if (url.length() > MAX_URL) {
            throw new Refused("The webhook URL is longer than " + MAX_URL + " characters.");
        }
        URI uri;
        try {
            uri = new URI(url.trim());
        } catch (URISyntaxException e) {
            throw new Refused("The webhook URL is not a valid URL.");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new Refused("The webhook URL must start with https:// (or http://).");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new Refused("The webhook URL must name a host.");
        }
        if (uri.getRawUserInfo() != null) {
            throw new Refused("The webhook URL must not carry a user name or password.");
        }
        if (uri.getRawFragment() != null) {
            throw new Refused("The webhook URL must not have a fragment (#...).");
        }
        if (METADATA_NAMES.contains(host(uri))) {
            throw new Refused("The webhook URL names a cloud metadata service, which is never a receiver.");
        }
        return uri;
    }

    /** The URL's host, lower case, without the brackets of an IPv6 literal or a final dot. */
    public static String host(URI uri) {
        String h = uri.getHost().toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return h.endsWith(".") ? h.substring(0, h.length() - 1) : h;
    }

    /** The port the URL means (its own, or 443/80 by scheme). */
    public static int port(URI uri) {
        return uri.getPort() > 0 ? uri.getPort() : ("https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80);
    }

    /**
     * Resolves the host (blocking: call it on a worker thread) and checks every address it has; the
     * first, to connect to, when all are allowed.
     */
    public InetAddress resolve(URI uri) throws Refused {
        String host = host(uri);
        boolean literal = isLiteral(host);
        InetAddress[] all;
        try {
            all = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            throw new Refused(NOT_A_RECEIVER);
        }
        for (InetAddress a : all) {
            String why = refusal(a);
            if (why != null) {
                throw new Refused(literal ? "The webhook URL's address is " + why + " address, which is not allowed as a receiver"
                        + (why.startsWith("a private") ? " (openbatch.webhooks.allow-private-targets)." : ".") : NOT_A_RECEIVER);
            }
        }
        return all[0];
    }

    /** The one answer for a name that does not resolve, or resolves to any address refused here. */
    static final String NOT_A_RECEIVER = "The webhook URL's host does not resolve to addresses openbatch may send to: it must resolve, "
            + "and only to public addresses (private ones only where the operator allows them).";

    /** Whether the host is an IP address literal (no lookup needed to know what it is). */
    static boolean isLiteral(String host) {
        if (host.indexOf(':') >= 0) {
            return true; // an IPv6 literal: a name never has a colon
        }
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return false;
            }
        }
        return true;
    }

    /** Why the address is refused ("a loopback", "a link-local", ...), or null when it is allowed. */
    public String refusal(InetAddress a) {
        byte[] b = a.getAddress();
        if (a instanceof Inet6Address) {
            byte[] v4 = embeddedV4(b);
            if (v4 != null) {
                return refusalV4(v4);
            }
            return refusalV6(b);
        }
        return refusalV4(b);
    }

    private String refusalV4(byte[] b) {
        int a0 = b[0] & 0xff;
        int a1 = b[1] & 0xff;
        int a2 = b[2] & 0xff;
        int a3 = b[3] & 0xff;
        if (a0 == 127) {
            return allowLoopback ? null : "a loopback";
        }
        if (a0 == 0) {
            return "an unspecified";
        }
        if (a0 == 169 && a1 == 254) {
            return "a link-local (cloud metadata)";
        }
        if ((a0 == 100 && a1 == 100 && a2 == 100 && a3 == 200) || (a0 == 168 && a1 == 63 && a2 == 129 && a3 == 16)) {
            return "a cloud metadata";
        }
        if (a0 >= 224 && a0 <= 239) {
            return "a multicast";
        }
        if (a0 >= 240) {
            return "a reserved or broadcast";
        }
        boolean priv = a0 == 10
                || (a0 == 172 && a1 >= 16 && a1 <= 31)
                || (a0 == 192 && a1 == 168)
                || (a0 == 100 && a1 >= 64 && a1 <= 127) // carrier-grade NAT
                || (a0 == 192 && a1 == 0 && a2 == 0) // IETF protocol assignments
                || (a0 == 198 && (a1 == 18 || a1 == 19)); // benchmarking
        return priv && !allowPrivate ? "a private" : null;
    }

    private String refusalV6(byte[] b) {
        boolean allZero = true;
        for (int i = 0; i < 15; i++) {
            allZero &= b[i] == 0;
        }
        if (allZero && b[15] == 1) {
            return allowLoopback ? null : "a loopback";
        }
        if (allZero && b[15] == 0) {
            return "an unspecified";
        }
        int b0 = b[0] & 0xff;
        int b1 = b[1] & 0xff;
        if (b0 == 0xff) {
            return "a multicast";
        }
        // 2001::/32, Teredo: the client's IPv4 address is hidden (XORed) in it, and the relay is anyone's
        if (b0 == 0x20 && b1 == 0x01 && b[2] == 0 && b[3] == 0) {
            return "a Teredo tunnel";
        }
        // 64:ff9b:1::/48, NAT64 for local use (RFC 8215): it reaches whatever the local translator maps it to
        if (b0 == 0 && b1 == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b && b[4] == 0 && b[5] == 1) {
            return "a local NAT64";
        }
        if (b0 == 0xfe && (b1 & 0xc0) == 0x80) {
            return "a link-local";
        }
        // fd00:ec2::254, the IPv6 address of AWS's instance metadata service
        if (b0 == 0xfd && b1 == 0x00 && (b[2] & 0xff) == 0x0e && (b[3] & 0xff) == 0xc2 && isTail254(b)) {
            return "a cloud metadata";
        }
        boolean priv = (b0 & 0xfe) == 0xfc // unique local fc00::/7
                || (b0 == 0xfe && (b1 & 0xc0) == 0xc0); // site-local fec0::/10 (deprecated)
        return priv && !allowPrivate ? "a private" : null;
    }

    private static boolean isTail254(byte[] b) {
        for (int i = 4; i < 14; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[14] == 0x02 && (b[15] & 0xff) == 0x54; // the last group, 254, is 0x0254
    }

    /**
     * The IPv4 address inside an IPv6 one that reaches it: IPv4-mapped ({@code ::ffff:a.b.c.d}),
     * IPv4-compatible ({@code ::a.b.c.d}), IPv4-translated ({@code ::ffff:0:a.b.c.d}, SIIT),
     * NAT64 ({@code 64:ff9b::a.b.c.d}) and 6to4 ({@code 2002:AABB:CCDD::}); null for any other.
     */
    static byte[] embeddedV4(byte[] b) {
        boolean zero10 = true;
        for (int i = 0; i < 10; i++) {
            zero10 &= b[i] == 0;
        }
        if (zero10 && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
            return new byte[] { b[12], b[13], b[14], b[15] };
        }
        boolean zero8 = true;
        for (int i = 0; i < 8; i++) {
            zero8 &= b[i] == 0;
        }
        if (zero8 && (b[8] & 0xff) == 0xff && (b[9] & 0xff) == 0xff && b[10] == 0 && b[11] == 0) {
            return new byte[] { b[12], b[13], b[14], b[15] }; // ::ffff:0:0:0/96
        }
        if (zero10 && b[10] == 0 && b[11] == 0 && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && (b[15] == 0 || b[15] == 1))) {
            return new byte[] { b[12], b[13], b[14], b[15] };
        }
        boolean nat64 = b[0] == 0 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b;
        for (int i = 4; nat64 && i < 12; i++) {
            nat64 = b[i] == 0;
        }
        if (nat64) {
            return new byte[] { b[12], b[13], b[14], b[15] };
        }
        if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x02) {
            return new byte[] { b[2], b[3], b[4], b[5] };
        }
        return null;
    }
}
