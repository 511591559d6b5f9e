import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * Reads a whole topic from its beginning with the real Java {@link DefaultLitePullConsumer} and prints
 * one result line per message (see {@link InteropJson}).
 *
 * <p>Usage: {@code JavaConsume <namesrv> <topic> <group> <expectedCount> <timeoutMillis>}
 *
 * <p>Every queue of the topic is {@code assign}ed and {@code seekToBegin}-ed, so a new group on an existing
 * topic reads everything. A message seen twice (same broker, queue and offset) is printed once. Stops as
 * soon as {@code expectedCount} distinct messages arrived, then keeps polling briefly to catch any extra
 * message (which the Rust side reports as a mismatch). Exit code 0 on success, 3 when fewer messages
 * arrived before the timeout (those that did are still printed), 1 on any exception.
 */
public final class JavaConsume {
    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: JavaConsume <namesrv> <topic> <group> <expectedCount> <timeoutMillis>");
            System.exit(64);
        }
        String namesrv = args[0];
        String topic = args[1];
        String group = args[2];
        int expected = Integer.parseInt(args[3]);
        long deadline = System.currentTimeMillis() + Long.parseLong(args[4]);

        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setInstanceName("interop_" + group);
        consumer.setAutoCommit(false);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setPollTimeoutMillis(500);
        int exit = 0;
        try {
            consumer.start();
            Collection<MessageQueue> queues = consumer.fetchMessageQueues(topic);
            consumer.assign(queues);
            for (MessageQueue mq : queues) {
                consumer.seekToBegin(mq);
            }
            Set<String> seen = new HashSet<>();
            List<MessageExt> received = new ArrayList<>();
            long extraUntil = Long.MAX_VALUE;
            while (System.currentTimeMillis() < Math.min(deadline, extraUntil)) {
                for (MessageExt m : consumer.poll(500)) {
                    if (seen.add(m.getBrokerName() + "/" + m.getQueueId() + "/" + m.getQueueOffset())) {
                        received.add(m);
                    }
                }
                if (received.size() >= expected && extraUntil == Long.MAX_VALUE) {
                    extraUntil = System.currentTimeMillis() + 1000;
                }
            }
            for (MessageExt m : received) {
                print(m);
            }
            if (received.size() < expected) {
                System.err.println("JavaConsume: received " + received.size() + " of " + expected
                    + " messages from " + queues.size() + " queues of " + topic + " before the timeout");
                exit = 3;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            exit = 1;
        } finally {
            try {
                consumer.shutdown();
            } catch (Throwable t) {
                t.printStackTrace();
            }
        }
        System.exit(exit);
    }

    private static void print(MessageExt m) {
        new InteropJson()
            .str("msgId", m.getMsgId())
            .str("offsetMsgId", m instanceof MessageClientExt ? ((MessageClientExt) m).getOffsetMsgId() : null)
            .str("topic", m.getTopic())
            .str("tags", m.getTags())
            .str("keys", m.getKeys())
            .str("bodyHex", InteropJson.hex(m.getBody()))
            .num("flag", m.getFlag())
            .num("sysFlag", m.getSysFlag())
            .map("properties", m.getProperties())
            .str("brokerName", m.getBrokerName())
            .num("queueId", m.getQueueId())
            .num("queueOffset", m.getQueueOffset())
            .num("commitLogOffset", m.getCommitLogOffset())
            .num("storeSize", m.getStoreSize())
            .num("bodyCRC", m.getBodyCRC())
            .num("reconsumeTimes", m.getReconsumeTimes())
            .num("preparedTransactionOffset", m.getPreparedTransactionOffset())
            .num("bornTimestamp", m.getBornTimestamp())
            .str("bornHost", InteropJson.host(m.getBornHost()))
            .num("storeTimestamp", m.getStoreTimestamp())
            .str("storeHost", InteropJson.host(m.getStoreHost()))
            .emit();
    }
}
