import java.nio.charset.StandardCharsets;

import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;

/**
 * The real Java producer with {@link AclClientRPCHook} against the ACL cluster of {@code tests/acl.rs}:
 * sends {@code count} messages with the right secret (one {@code SENT <msgId>} line each), then one with
 * a wrong secret ({@code WRONG <responseCode> <message>}). Shows that the cluster's ACL 2.0 set-up is what
 * the Java client works with, next to the Rust client.
 *
 * <p>Usage: {@code AclJavaProduce <namesrv> <topic> <accessKey> <secretKey> <count>}
 */
public final class AclJavaProduce {
    public static void main(String[] args) {
        int exit = 0;
        try {
            run(args);
        } catch (Throwable t) {
            t.printStackTrace();
            exit = 1;
        }
        System.out.flush();
        // The producers' non-daemon threads would keep the JVM alive after a failure.
        System.exit(exit);
    }

    private static void run(String[] args) throws Exception {
        String namesrv = args[0];
        String topic = args[1];
        String accessKey = args[2];
        String secretKey = args[3];
        int count = Integer.parseInt(args[4]);

        DefaultMQProducer ok = producer(namesrv, "acl_java_ok", new SessionCredentials(accessKey, secretKey));
        for (int i = 0; i < count; i++) {
            SendResult r = ok.send(new Message(topic, ("java " + i).getBytes(StandardCharsets.UTF_8)));
            System.out.println("SENT " + r.getMsgId());
        }
        ok.shutdown();

        DefaultMQProducer wrong = producer(namesrv, "acl_java_wrong", new SessionCredentials(accessKey, "wrong"));
        try {
            wrong.send(new Message(topic, "x".getBytes(StandardCharsets.UTF_8)));
            System.out.println("WRONG accepted");
        } catch (Exception e) {
            // Java retries NO_PERMISSION on other brokers, then wraps the last broker answer.
            Throwable t = e;
            while (t != null && !(t instanceof MQBrokerException)) {
                t = t.getCause();
            }
            if (t == null) {
                throw e;
            }
            MQBrokerException b = (MQBrokerException) t;
            System.out.println("WRONG " + b.getResponseCode() + " " + b.getErrorMessage());
            System.out.println("WRONG_JAVA_ERROR " + e.getClass().getSimpleName() + ": "
                + String.valueOf(e.getMessage()).split("\n")[0]);
        }
        wrong.shutdown();
    }

    private static DefaultMQProducer producer(String namesrv, String group, SessionCredentials c) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer(group, new AclClientRPCHook(c));
        p.setNamesrvAddr(namesrv);
        p.setInstanceName(group + "_" + System.nanoTime());
        p.setSendMsgTimeout(10_000);
        p.start();
        return p;
    }
}
