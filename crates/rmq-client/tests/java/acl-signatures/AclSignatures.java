import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.header.HeartbeatRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.PullMessageRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.SendMessageRequestHeaderV2;

/**
 * Signs fixed requests with the real Java {@link AclClientRPCHook} (org.apache.rocketmq:rocketmq-client,
 * package {@code org.apache.rocketmq.acl.common}) and writes, per request, the ext fields before and after
 * signing, the body and the credentials, as JSON: {@code tests/fixtures/acl/signatures.json}, read by
 * {@code tests/acl_signatures.rs}, which signs the same requests with the Rust hook and compares.
 *
 * <p>Format: {@code {"rocketmqVersion": "...", "cases": [{"name", "code", "accessKey", "secretKey",
 * "securityToken" (or null), "bodyBase64", "unsigned": {ext before the hook}, "signed": {ext after}}]}}.
 * Every string is written with non-ASCII characters as {@code \\uXXXX} escapes (surrogate pairs for
 * characters beyond the BMP), so the file is plain ASCII.
 *
 * <p>Usage: {@code AclSignatures <out.json>}; see {@code generate.sh}.
 */
public final class AclSignatures {
    private static final String ADDR = "127.0.0.1:10911";

    private static final class Case {
        final String name;
        final RemotingCommand request;
        final SessionCredentials credentials;

        Case(String name, RemotingCommand request, SessionCredentials credentials) {
            this.name = name;
            this.request = request;
            this.credentials = credentials;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: AclSignatures <out.json>");
            System.exit(64);
        }
        List<Case> cases = new ArrayList<>();
        SessionCredentials plain = new SessionCredentials("rocketmq2", "12345678");

        byte[] binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        cases.add(new Case("send_v2", sendV2(binary), plain));
        cases.add(new Case("send_v2_security_token", sendV2(binary),
            new SessionCredentials("rocketmq2", "12345678", "sts-token-\u00e9\u00e8")));
        cases.add(new Case("send_v2_empty_body", sendV2(new byte[0]), plain));

        RemotingCommand heartbeat = RemotingCommand.createRequestCommand(RequestCode.HEART_BEAT,
            new HeartbeatRequestHeader());
        heartbeat.setBody(("{\"clientID\":\"127.0.0.1@1#2\",\"consumerDataSet\":[],\"heartbeatFingerprint\":0,"
            + "\"producerDataSet\":[{\"groupName\":\"pg\"}],\"withoutSub\":false}").getBytes(StandardCharsets.UTF_8));
        cases.add(new Case("heartbeat", heartbeat, plain));

        PullMessageRequestHeader pull = new PullMessageRequestHeader();
        pull.setConsumerGroup("cg");
        pull.setTopic("orders");
        pull.setQueueId(3);
        pull.setQueueOffset(123456789012L);
        pull.setMaxMsgNums(32);
        pull.setSysFlag(7);
        pull.setCommitOffset(-1L);
        pull.setSuspendTimeoutMillis(15000L);
        pull.setSubscription("TagA || TagB");
        pull.setSubVersion(1700000000000L);
        pull.setExpressionType("TAG");
        pull.setBrokerName("broker-a");
        cases.add(new Case("pull", RemotingCommand.createRequestCommand(RequestCode.PULL_MESSAGE, pull), plain));

        // Key order: Java's TreeMap compares UTF-16 code units, so U+1F600 (a surrogate pair, 0xD83D...)
        // sorts before U+FF21, unlike in UTF-8 byte order. Upper case sorts before lower case. A stale
        // Signature is not signed and is replaced; a stale AccessKey is replaced before signing.
        RemotingCommand custom = RemotingCommand.createRequestCommand(RequestCode.UPDATE_AND_CREATE_TOPIC, null);
        custom.addExtField("zeta", "last?");
        custom.addExtField("Alpha", "A");
        custom.addExtField("alpha", "a");
        custom.addExtField("\uFF21key", "fullwidth-\uFF21");
        custom.addExtField("\uD83D\uDE00key", "emoji-\uD83D\uDE00");
        custom.addExtField("empty", "");
        custom.addExtField("controls", "a\u0001b\u0002c\n\t\"\\");
        custom.addExtField("Signature", "stale-signature");
        custom.addExtField("AccessKey", "stale-access-key");
        custom.setBody("\u57ce\u5e02 body".getBytes(StandardCharsets.UTF_8));
        cases.add(new Case("custom_fields", custom, plain));

        RemotingCommand bare = RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_CLUSTER_INFO, null);
        cases.add(new Case("unicode_secret_no_fields",
            bare, new SessionCredentials("\u7528\u6237", "p\u00e4ssw\u00f6rd-\u5bc6\u94a5-\uD83D\uDE00")));

        StringBuilder longSecret = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            longSecret.append((char) ('a' + i % 26));
        }
        RemotingCommand longKey = RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_CLUSTER_INFO, null);
        longKey.setBody(new byte[] {0, 1, 2});
        cases.add(new Case("secret_longer_than_hmac_block", longKey,
            new SessionCredentials("ak", longSecret.toString())));

        StringBuilder out = new StringBuilder();
        out.append("{\n  \"rocketmqVersion\": ").append(str(MQVersion.getVersionDesc(MQVersion.CURRENT_VERSION)))
            .append(",\n  \"cases\": [\n");
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            RemotingCommand r = c.request;
            r.makeCustomHeaderToNet();
            Map<String, String> unsigned = r.getExtFields() == null
                ? new HashMap<>() : new HashMap<>(r.getExtFields());
            new AclClientRPCHook(c.credentials).doBeforeRequest(ADDR, r);
            Map<String, String> signed = new HashMap<>(r.getExtFields());
            byte[] body = r.getBody() == null ? new byte[0] : r.getBody();
            out.append("    {\"name\": ").append(str(c.name))
                .append(", \"code\": ").append(r.getCode())
                .append(",\n     \"accessKey\": ").append(str(c.credentials.getAccessKey()))
                .append(", \"secretKey\": ").append(str(c.credentials.getSecretKey()))
                .append(", \"securityToken\": ").append(c.credentials.getSecurityToken() == null
                    ? "null" : str(c.credentials.getSecurityToken()))
                .append(",\n     \"bodyBase64\": ").append(str(Base64.getEncoder().encodeToString(body)))
                .append(",\n     \"unsigned\": ").append(map(unsigned))
                .append(",\n     \"signed\": ").append(map(signed))
                .append("}").append(i + 1 < cases.size() ? ",\n" : "\n");
        }
        out.append("  ]\n}\n");
        try (Writer w = new OutputStreamWriter(new FileOutputStream(args[0]), StandardCharsets.UTF_8)) {
            w.write(out.toString());
        }
    }

    private static RemotingCommand sendV2(byte[] body) {
        SendMessageRequestHeaderV2 h = new SendMessageRequestHeaderV2();
        h.setA("producer-group");
        h.setB("orders");
        h.setC("TBW102");
        h.setD(4);
        h.setE(2);
        h.setF(0);
        h.setG(1700000000123L);
        h.setH(0);
        h.setI("KEYS\u0001k1 k2\u0002TAGS\u0001TagA\u0002UNIQ_KEY\u00017F0000010001\u0002"
            + "\u57ce\u5e02\u0001\u4e0a\u6d77\u0002emoji\u0001\uD83D\uDE00\u0002WAIT\u0001true\u0002");
        h.setJ(0);
        h.setK(false);
        h.setM(false);
        h.setBrokerName("broker-a");
        RemotingCommand r = RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE_V2, h);
        r.setBody(body);
        return r;
    }

    private static String map(Map<String, String> m) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, String> e : new TreeMap<>(m).entrySet()) {
            if (!first) {
                sb.append(", ");
            }
            first = false;
            sb.append(str(e.getKey())).append(": ").append(str(e.getValue()));
        }
        return sb.append("}").toString();
    }

    private static String str(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '"' || ch == '\\') {
                sb.append('\\').append(ch);
            } else if (ch >= 0x20 && ch < 0x7f) {
                sb.append(ch);
            } else {
                sb.append(String.format("\\u%04x", (int) ch));
            }
        }
        return sb.append('"').toString();
    }
}
