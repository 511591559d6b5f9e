/*
 * `rmq bench compare-consume`'s Java side: drains a topic with a new DefaultMQPushConsumer group
 * from its first offset, and prints the same summary as `rmq bench consume --json`.
 *
 * It is built like org.apache.rocketmq.example.benchmark.Consumer (same constructor, allocation
 * strategy, thread settings and instance name), which cannot be told to start from the first
 * offset and reports only 10-second TPS windows. The listener only counts.
 *
 * Usage: RmqBenchConsumer <namesrv> <topic> <group> <messages> <threads> <timeoutSecs>
 */

import java.util.List;
import java.util.Locale;
import java.util.Timer;
import java.util.TimerTask;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;

public class RmqBenchConsumer {
    static final String START_MARKER = "rmq-bench-java-consumer: starting";
    static final String DRAINED_MARKER = "rmq-bench-java-consumer: drained";

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: RmqBenchConsumer <namesrv> <topic> <group> <messages> <threads> <timeoutSecs>");
            System.exit(2);
        }
        final String namesrv = args[0];
        final String topic = args[1];
        final String group = args[2];
        final long target = Long.parseLong(args[3]);
        final int threads = Integer.parseInt(args[4]);
        final long timeoutSecs = Long.parseLong(args[5]);

        final AtomicLong count = new AtomicLong();
        final AtomicLong firstAt = new AtomicLong();
        final AtomicLong lastAt = new AtomicLong();
        final CountDownLatch drained = new CountDownLatch(1);

        DefaultMQPushConsumer consumer =
            new DefaultMQPushConsumer(group, null, new AllocateMessageQueueAveragely(), false, null);
        consumer.setNamesrvAddr(namesrv);
        consumer.setConsumeThreadMin(threads);
        consumer.setConsumeThreadMax(threads);
        consumer.setInstanceName(Long.toString(System.currentTimeMillis()));
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(new MessageListenerConcurrently() {
            @Override
            public ConsumeConcurrentlyStatus consumeMessage(List<MessageExt> msgs, ConsumeConcurrentlyContext context) {
                long now = System.nanoTime();
                long before = count.getAndAdd(msgs.size());
                if (before == 0) {
                    firstAt.set(now);
                }
                if (before < target && before + msgs.size() >= target) {
                    lastAt.set(now);
                    System.err.println(DRAINED_MARKER);
                    drained.countDown();
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            }
        });

        System.err.printf(Locale.ROOT, "%s: topic %s, group %s, %d messages, %d threads%n",
            START_MARKER, topic, group, target, threads);
        final long t0 = System.nanoTime();
        consumer.start();
        final long startCall = System.nanoTime() - t0;

        Timer timer = new Timer("progress", true);
        timer.scheduleAtFixedRate(new TimerTask() {
            private long prev = 0;

            @Override
            public void run() {
                long n = count.get();
                System.err.printf(Locale.ROOT, "rmq-bench-java-consumer: +%.0fs %d consumed (%.0f msg/s over the last 5 s)%n",
                    (System.nanoTime() - t0) / 1e9, n, (n - prev) / 5.0);
                prev = n;
            }
        }, 5000, 5000);

        boolean done = drained.await(timeoutSecs, TimeUnit.SECONDS);
        long end = done ? lastAt.get() : System.nanoTime();
        timer.cancel();
        long msgs = count.get();
        double drainSecs = (end - t0) / 1e9;
        long first = firstAt.get();
        String firstMs = first == 0 ? "null" : String.format(Locale.ROOT, "%.3f", (first - t0) / 1e6);
        System.out.printf(Locale.ROOT,
            "{\"group\":\"%s\",\"target\":%d,\"msgs\":%d,\"drained\":%b,\"start_call_ms\":%.3f,"
                + "\"first_msg_ms\":%s,\"drain_secs\":%.6f,\"msgs_per_sec\":%.3f}%n",
            group, target, msgs, done, startCall / 1e6, firstMs, drainSecs,
            drainSecs > 0 ? Math.min(msgs, target) / drainSecs : 0.0);
        consumer.shutdown();
        System.exit(done ? 0 : 1);
    }
}
