import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Map;
import java.util.TreeSet;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * A real Java {@link DefaultMQPushConsumer} with a {@link MessageListenerOrderly} (clustering, so it
 * holds broker queue locks; default average allocation; consumes from the first offset) that joins a
 * consumer group next to a Rust orderly consumer, and reports on stdout, one line each:
 *
 * <ul>
 *   <li>{@code @@STARTED <clientId>} once the consumer is started;
 *   <li>{@code @@ASSIGN <broker>:<queueId> ...} whenever the set of queues of {@code topic} it holds
 *       (not dropped) changes, sorted, checked every 50 ms;
 *   <li>{@code @@MSG <broker> <queueId> <queueOffset> <reconsumeTimes> <enterMicros> <exitMicros> <body>}
 *       for every message its listener receives, where the two times are wall-clock microseconds since
 *       the epoch ({@link Instant#now()}, comparable with another process's {@code SystemTime} on the
 *       same machine) at which the listener call that received it started and ended (all the lines of
 *       one call are printed together, just after {@code exitMicros} was read). The listener sleeps
 *       {@code workMillis} per message, then always succeeds;
 *   <li>{@code @@STOPPED} after shutdown.
 * </ul>
 *
 * <p>Usage: {@code JavaOrderlyConsume <namesrv> <topic> <group> <instanceName> <workMillis>}. Runs until
 * its stdin reaches end of file, then shuts the consumer down (persisting offsets, unlocking its
 * queues, unregistering) and exits 0; exits 1 on any exception.
 */
public final class JavaOrderlyConsume {
    private static final PrintStream OUT =
        new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: JavaOrderlyConsume <namesrv> <topic> <group> <instanceName> <workMillis>");
            System.exit(64);
        }
        String namesrv = args[0];
        String topic = args[1];
        String group = args[2];
        String instance = args[3];
        long work = Long.parseLong(args[4]);

        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setInstanceName(instance);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setPersistConsumerOffsetInterval(1000);
        int exit = 0;
        try {
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
                long enter = micros();
                try {
                    Thread.sleep(work * msgs.size());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                long exitAt = micros();
                MessageQueue mq = ctx.getMessageQueue();
                StringBuilder sb = new StringBuilder();
                for (MessageExt m : msgs) {
                    sb.append("@@MSG ").append(mq.getBrokerName()).append(' ').append(mq.getQueueId())
                        .append(' ').append(m.getQueueOffset()).append(' ').append(m.getReconsumeTimes())
                        .append(' ').append(enter).append(' ').append(exitAt)
                        .append(' ').append(new String(m.getBody(), StandardCharsets.UTF_8)).append('\n');
                }
                OUT.print(sb);
                OUT.flush();
                return ConsumeOrderlyStatus.SUCCESS;
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

    /** Wall-clock microseconds since the epoch. */
    private static long micros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
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
