import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.compression.CompressionType;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageConst;

/**
 * Sends a fixed set of messages with the real Java {@link DefaultMQProducer} and prints one result line
 * per message (see {@link InteropJson}) describing what was sent and where it was stored.
 *
 * <p>Usage: {@code JavaProduce <namesrv> <topic> <producerGroup>}
 *
 * <ul>
 *   <li>20 plain messages ({@code kind=plain}): tags, two keys, user properties (non-ASCII names and
 *       values, an emoji, JSON-hostile characters), flag = index;</li>
 *   <li>3 bodies over 4 KiB ({@code kind=compressed}), compressed by the producer with ZLIB, LZ4 and
 *       ZSTD in turn ({@code compressType});</li>
 *   <li>one batch of 10 ({@code kind=batch}) through {@code send(Collection)}.</li>
 * </ul>
 *
 * <p>Exit code 0 on success, 1 on any exception or a status other than SEND_OK.
 */
public final class JavaProduce {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: JavaProduce <namesrv> <topic> <producerGroup>");
            System.exit(64);
        }
        String namesrv = args[0];
        String topic = args[1];
        String group = args[2];

        DefaultMQProducer producer = new DefaultMQProducer(group);
        producer.setNamesrvAddr(namesrv);
        producer.setInstanceName("interop_" + group);
        producer.setSendMsgTimeout(10_000);
        int exit = 0;
        try {
            producer.start();

            for (int i = 0; i < 20; i++) {
                Message m = new Message(topic, (i % 2 == 0 ? "TagA" : "TagB"),
                    ("java plain " + i + " ünï 城市 😀").getBytes(StandardCharsets.UTF_8));
                m.setKeys(Arrays.asList("jkey-" + i, "jorder-" + (i % 5)));
                m.setFlag(i);
                m.putUserProperty("idx", Integer.toString(i));
                m.putUserProperty("城市", "上海");
                m.putUserProperty("emoji", "😀🚀 ok");
                m.putUserProperty("json", "a\"b\\c{d}[e],:f");
                SendResult r = producer.send(m);
                check(r);
                print("plain", null, m, r, 0);
            }

            CompressionType[] types = {CompressionType.ZLIB, CompressionType.LZ4, CompressionType.ZSTD};
            for (int k = 0; k < types.length; k++) {
                producer.setCompressType(types[k]);
                StringBuilder body = new StringBuilder();
                for (int line = 0; body.length() < 12_000; line++) {
                    body.append("compressed ").append(types[k]).append(" line ").append(line)
                        .append(": the quick brown fox ünï 城市\n");
                }
                Message m = new Message(topic, "Big", body.toString().getBytes(StandardCharsets.UTF_8));
                m.setKeys(Arrays.asList("jbig-" + k, "jbig"));
                m.putUserProperty("compress", types[k].name());
                m.putUserProperty("城市", "上海");
                SendResult r = producer.send(m);
                check(r);
                print("compressed", types[k].name(), m, r, 0);
            }
            producer.setCompressType(CompressionType.ZLIB);

            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                Message m = new Message(topic, "Batch",
                    ("java batch " + i + " 城市").getBytes(StandardCharsets.UTF_8));
                m.setKeys(Arrays.asList("jbatch-" + i, "jbatch"));
                m.setFlag(100 + i);
                m.putUserProperty("idx", Integer.toString(i));
                m.putUserProperty("城市", "上海");
                m.putUserProperty("emoji", "🚀");
                batch.add(m);
            }
            SendResult r = producer.send(batch);
            check(r);
            String[] ids = r.getMsgId().split(",");
            String[] offsetIds = r.getOffsetMsgId().split(",");
            if (ids.length != batch.size() || offsetIds.length != batch.size()) {
                throw new IllegalStateException("batch SendResult lists " + ids.length + " msgIds and "
                    + offsetIds.length + " offsetMsgIds for " + batch.size() + " messages: " + r);
            }
            for (int i = 0; i < batch.size(); i++) {
                print("batch", null, batch.get(i), r, i);
            }
        } catch (Throwable t) {
            t.printStackTrace();
            exit = 1;
        } finally {
            try {
                producer.shutdown();
            } catch (Throwable t) {
                t.printStackTrace();
            }
        }
        System.exit(exit);
    }

    private static void check(SendResult r) {
        if (r.getSendStatus() != SendStatus.SEND_OK) {
            throw new IllegalStateException("send status " + r.getSendStatus() + ": " + r);
        }
    }

    /** {@code index}: position inside a batch (0 for single sends). */
    private static void print(String kind, String compressType, Message m, SendResult r, int index) {
        new InteropJson()
            .str("kind", kind)
            .str("compressType", compressType)
            .str("msgId", m.getProperty(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX))
            .str("resultMsgId", r.getMsgId().split(",")[index])
            .str("offsetMsgId", r.getOffsetMsgId().split(",")[index])
            .str("brokerName", r.getMessageQueue().getBrokerName())
            .num("queueId", r.getMessageQueue().getQueueId())
            .num("queueOffset", r.getQueueOffset() + index)
            .str("topic", m.getTopic())
            .str("tags", m.getTags())
            .str("keys", m.getKeys())
            .num("flag", m.getFlag())
            .str("bodyHex", InteropJson.hex(m.getBody()))
            .map("properties", m.getProperties())
            .emit();
    }
}
