import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.Map;
import java.util.TreeSet;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * A real Java {@link DefaultMQPushConsumer} (clustering, concurrent listener, default average
 * allocation) that joins a consumer group next to a Rust consumer, and reports on stdout, one line each:
 *
 * <ul>
 *   <li>{@code @@STARTED <clientId>} once the consumer is started;
 *   <li>{@code @@ASSIGN <broker>:<queueId> ...} whenever the set of queues of {@code topic} it holds
 *       (not dropped) changes, sorted, checked every 50 ms;
 *   <li>{@code @@MSG <broker> <queueId> <queueOffset> <reconsumeTimes> <body>} for every message its
 *       listener receives (the listener always succeeds);
 *   <li>{@code @@STOPPED} after shutdown.
 * </ul>
 *
 * <p>Usage: {@code JavaPushConsume <namesrv> <topic> <group> <instanceName> [<consumeFromWhere>
 * [<consumeTimestampMillis>]]}, where {@code consumeFromWhere} is a {@link ConsumeFromWhere} name
 * (default {@code CONSUME_FROM_FIRST_OFFSET}) and the timestamp (ms since the epoch) is formatted as
 * {@code yyyyMMddHHmmss} in the JVM's time zone, as {@code setConsumeTimestamp} expects. Runs until its
 * stdin reaches end of file, then shuts the consumer down (persisting offsets, unregistering) and exits
 * 0; exits 1 on any exception.
 */
public final class JavaPushConsume {
    private static final PrintStream OUT =
        new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

    public static void main(String[] args) throws Exception {
        if (args.length < 4 || args.length > 6) {
            System.err.println("usage: JavaPushConsume <namesrv> <topic> <group> <instanceName>"
                + " [<consumeFromWhere> [<consumeTimestampMillis>]]");
            System.exit(64);
        }
        String namesrv = args[0];
        String topic = args[1];
        String group = args[2];
        String instance = args[3];

        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setInstanceName(instance);
        consumer.setConsumeFromWhere(args.length > 4
            ? ConsumeFromWhere.valueOf(args[4]) : ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        if (args.length > 5) {
            Date at = new Date(Long.parseLong(args[5]));
            consumer.setConsumeTimestamp(new SimpleDateFormat("yyyyMMddHHmmss").format(at));
        }
        consumer.setPersistConsumerOffsetInterval(1000);
        int exit = 0;
        try {
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                StringBuilder sb = new StringBuilder();
                for (MessageExt m : msgs) {
                    sb.append("@@MSG ").append(m.getBrokerName()).append(' ').append(m.getQueueId())
                        .append(' ').append(m.getQueueOffset()).append(' ').append(m.getReconsumeTimes())
                        .append(' ').append(new String(m.getBody(), StandardCharsets.UTF_8)).append('\n');
                }
                OUT.print(sb);
                OUT.flush();
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            consumer.start();
            OUT.println("@@STARTED " + consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId());

            Thread watcher = new Thread(() -> watchAssignment(consumer, topic), "assignment-watcher");
            watcher.setDaemon(true);
            watcher.start();

            // Run until the test closes our stdin.
            byte[] buf = new byte[256];
            while (System.in.read(buf) >= 0) {
                // ignore input
            }
        } catch (Throwable t) {
            t.printStackTrace();
            exit = 1;
        } finally {
            try {
                consumer.shutdown();
                OUT.println("@@STOPPED");
            } catch (Throwable t) {
                t.printStackTrace();
                exit = 1;
            }
        }
        System.exit(exit);
    }

    private static void watchAssignment(DefaultMQPushConsumer consumer, String topic) {
        String last = null;
        while (true) {
            Map<MessageQueue, ProcessQueue> table =
                consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable();
            TreeSet<String> held = new TreeSet<>();
            for (Map.Entry<MessageQueue, ProcessQueue> e : table.entrySet()) {
                MessageQueue mq = e.getKey();
                if (mq.getTopic().equals(topic) && !e.getValue().isDropped()) {
                    held.add(mq.getBrokerName() + ":" + mq.getQueueId());
                }
            }
            String now = String.join(" ", new ArrayList<>(held));
            if (!now.equals(last)) {
                OUT.println("@@ASSIGN " + now);
                last = now;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
