import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.TreeMap;

/**
 * A dependency-free JSON object writer for the interop programs. Every character outside printable
 * ASCII is written as a {@code \\uXXXX} escape (UTF-16 code units, so an emoji becomes a surrogate
 * pair), which keeps stdout plain ASCII whatever the platform encoding is.
 */
final class InteropJson {
    /** Prefix of every result line on stdout; anything else there is noise from libraries. */
    static final String LINE_PREFIX = "@@INTEROP ";

    private final StringBuilder out = new StringBuilder("{");
    private boolean first = true;

    private InteropJson key(String name) {
        if (!first) {
            out.append(',');
        }
        first = false;
        quote(out, name);
        out.append(':');
        return this;
    }

    InteropJson str(String name, String value) {
        key(name);
        if (value == null) {
            out.append("null");
        } else {
            quote(out, value);
        }
        return this;
    }

    InteropJson num(String name, long value) {
        key(name).out.append(value);
        return this;
    }

    InteropJson bool(String name, boolean value) {
        key(name).out.append(value);
        return this;
    }

    /** A string map as a JSON object, keys sorted (null map: JSON null). */
    InteropJson map(String name, Map<String, String> map) {
        key(name);
        if (map == null) {
            out.append("null");
            return this;
        }
        out.append('{');
        boolean firstEntry = true;
        for (Map.Entry<String, String> e : new TreeMap<>(map).entrySet()) {
            if (!firstEntry) {
                out.append(',');
            }
            firstEntry = false;
            quote(out, e.getKey());
            out.append(':');
            if (e.getValue() == null) {
                out.append("null");
            } else {
                quote(out, e.getValue());
            }
        }
        out.append('}');
        return this;
    }

    /** Prints the object as one result line. */
    void emit() {
        System.out.println(LINE_PREFIX + out + "}");
        System.out.flush();
    }

    static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f) {
                sb.append(c);
            } else {
                sb.append(String.format("\\u%04x", (int) c));
            }
        }
        sb.append('"');
    }

    static String hex(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            sb.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return sb.toString();
    }

    /** {@code ip:port} (IPv6 addresses in Java's {@code getHostAddress} form, without brackets). */
    static String host(SocketAddress addr) {
        if (addr instanceof InetSocketAddress) {
            InetSocketAddress a = (InetSocketAddress) addr;
            return a.getAddress().getHostAddress() + ":" + a.getPort();
        }
        return String.valueOf(addr);
    }
}
