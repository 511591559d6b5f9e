/*
 * Generates test vectors for rocketmq-rs queue allocation by running the real Java strategies of
 * org.apache.rocketmq:rocketmq-client. Deterministic: java.util.Random with a fixed seed.
 *
 * Usage: AllocateVectors <output.json> [inputs]
 *
 * Output schema (all indices are 0-based):
 * {
 *   "generator": "...", "rocketmqVersion": "...", "seed": N, "inputCount": N, "caseCount": N,
 *   "inputs": [ {
 *       "topic": "T",
 *       "brokers": ["b0", "b1", ...],
 *       "mqAll": [[brokerIndex, queueId], ...],          // sorted as Java's Collections.sort(mqAll)
 *       "cidAll": ["cid", ...],                          // sorted as Java's Collections.sort(cidAll)
 *       "outsider": "cid not in cidAll",
 *       "runs": [ {
 *           "strategy": {"kind": "AVG" | "AVG_BY_CIRCLE" | "CONSISTENT_HASH" | "CONFIG" | "MACHINE_ROOM"
 *                                 | "MACHINE_ROOM_NEARBY",
 *                        "virtualNodes": N,              // CONSISTENT_HASH
 *                        "queues": [mqAll index, ...],   // CONFIG
 *                        "idcs": ["idc", ...],           // MACHINE_ROOM
 *                        "inner": {strategy}},           // MACHINE_ROOM_NEARBY
 *           "name": "getName() of the Java strategy",
 *           "results": [[mqAll index, ...] | null, ...], // one per cidAll entry; null = Java threw
 *           "outsiderResult": [...] | null               // allocate() called with the outsider as currentCID
 *       } ]
 *   } ]
 * }
 *
 * MACHINE_ROOM_NEARBY uses this resolver (the Rust test reimplements it):
 *   brokerDeployIn(mq)   = brokerName before its first '@' (the whole name when it has none)
 *   consumerDeployIn(id) = clientId after its last '#' ("" when it has none, which makes Java throw)
 */
package org.rocketmqrs.vectors;

import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.rocketmq.client.consumer.AllocateMessageQueueStrategy;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMachineRoomNearby;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragelyByCircle;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueByConfig;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueByMachineRoom;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueConsistentHash;
import org.apache.rocketmq.common.message.MessageQueue;

public final class AllocateVectors {
    static final long SEED = 0x5EED2025L;
    static final int DEFAULT_INPUTS = 400;
    static final String GROUP = "vector_group";

    /**
     * Name fragments. U+FF21 and U+E000 sort after U+1F600 (a surrogate pair, 0xD83D 0xDE00) in Java's
     * UTF-16 order but before it in UTF-8 / code point order.
     */
    static final String[] FRAGMENTS = {
        "a", "b", "z", "A", "Z", "0", "1", "9", "-", "_", "%", "|", "broker", "idc", "\u00e9", "\u4e2d",
        "\uFF21", "\uD83D\uDE00", "\uE000", "x"
    };

    /** Characters that sort differently in UTF-16 (Java) and code point / UTF-8 order. */
    static final String[] SORT_TRAPS = {"\uFF21", "\uD83D\uDE00", "\uE000", "\uD83D\uDE01", "z"};

    static final class Resolver implements AllocateMachineRoomNearby.MachineRoomResolver {
        @Override
        public String brokerDeployIn(MessageQueue mq) {
            String b = mq.getBrokerName();
            int at = b.indexOf('@');
            return at < 0 ? b : b.substring(0, at);
        }

        @Override
        public String consumerDeployIn(String clientID) {
            int hash = clientID.lastIndexOf('#');
            return hash < 0 ? "" : clientID.substring(hash + 1);
        }
    }

    static final Resolver RESOLVER = new Resolver();

    /** A strategy together with its JSON description. */
    static final class Spec {
        final AllocateMessageQueueStrategy strategy;
        final String json;

        Spec(AllocateMessageQueueStrategy strategy, String json) {
            this.strategy = strategy;
            this.json = json;
        }
    }

    static final class Input {
        String topic;
        List<String> brokers = new ArrayList<>();
        List<MessageQueue> mqAll = new ArrayList<>();
        List<String> cidAll = new ArrayList<>();
        List<String> idcPool = new ArrayList<>();
        String outsider;
        List<Spec> specs = new ArrayList<>();
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: AllocateVectors <output.json> [inputs]");
            System.exit(2);
        }
        int inputs = args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_INPUTS;
        Random rnd = new Random(SEED);
        List<Input> all = new ArrayList<>();
        for (int i = 0; i < inputs; i++) {
            Input in = randomInput(rnd);
            addStandardSpecs(rnd, in, i);
            all.add(in);
        }
        all.add(collisionInput());
        all.add(duplicateCidInput());
        all.add(exactHitInput());

        int cases = 0;
        for (Input in : all) {
            cases += in.specs.size();
        }
        StringBuilder out = new StringBuilder(1 << 20);
        out.append("{\"generator\":\"crates/rmq-client/tests/java/allocate-vectors (AllocateVectors.java)\"");
        out.append(",\"rocketmqVersion\":").append(str(rocketmqVersion()));
        out.append(",\"seed\":").append(SEED);
        out.append(",\"inputCount\":").append(all.size());
        out.append(",\"caseCount\":").append(cases);
        out.append(",\"inputs\":[\n");
        for (int i = 0; i < all.size(); i++) {
            if (i > 0) {
                out.append(",\n");
            }
            writeInput(out, all.get(i));
        }
        out.append("\n]}\n");
        try (Writer w = new OutputStreamWriter(Files.newOutputStream(Paths.get(args[0])), StandardCharsets.UTF_8)) {
            w.write(out.toString());
        }
        System.err.println("wrote " + all.size() + " inputs, " + cases + " cases to " + args[0]);
    }

    static String rocketmqVersion() {
        Package p = AllocateMessageQueueAveragely.class.getPackage();
        String v = p == null ? null : p.getImplementationVersion();
        return v == null ? "5.5.0" : v;
    }

    // ---------------------------------------------------------------- random inputs

    static String fragmentName(Random rnd, int minParts, int maxParts) {
        int parts = minParts + rnd.nextInt(maxParts - minParts + 1);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < parts; i++) {
            sb.append(FRAGMENTS[rnd.nextInt(FRAGMENTS.length)]);
        }
        return sb.toString();
    }

    static String asciiName(Random rnd, String prefix) {
        return prefix + (char) ('a' + rnd.nextInt(26)) + rnd.nextInt(100);
    }

    static Input randomInput(Random rnd) {
        Input in = new Input();
        in.topic = rnd.nextInt(4) == 0 ? fragmentName(rnd, 1, 4) : asciiName(rnd, "Topic");

        // Machine rooms (IDCs) that brokers live in and consumers claim.
        int idcCount = 1 + rnd.nextInt(3);
        Set<String> idcs = new LinkedHashSet<>();
        while (idcs.size() < idcCount) {
            String idc = rnd.nextInt(3) == 0 ? "idc" + fragmentName(rnd, 1, 2) : asciiName(rnd, "idc");
            if (idc.indexOf('@') < 0 && idc.indexOf('#') < 0) {
                idcs.add(idc);
            }
        }
        in.idcPool.addAll(idcs);

        boolean allowEmptyRoom = rnd.nextInt(20) == 0;
        int brokerCount = 1 + rnd.nextInt(4);
        Set<String> brokers = new LinkedHashSet<>();
        if (brokerCount >= 2 && rnd.nextInt(4) == 0) {
            // Siblings that differ only in a character whose UTF-16 and code point orders disagree.
            String base = randomBrokerName(rnd, in.idcPool, false);
            while (brokers.size() < brokerCount) {
                brokers.add(base + SORT_TRAPS[rnd.nextInt(SORT_TRAPS.length)] + rnd.nextInt(3));
            }
        }
        while (brokers.size() < brokerCount) {
            brokers.add(randomBrokerName(rnd, in.idcPool, allowEmptyRoom));
        }
        in.brokers.addAll(brokers);

        int queueTotal = rnd.nextInt(10) < 3 ? 1 + rnd.nextInt(8) : 1 + rnd.nextInt(64);
        int[] perBroker = new int[brokerCount];
        for (int q = 0; q < queueTotal; q++) {
            perBroker[rnd.nextInt(brokerCount)]++;
        }
        for (int b = 0; b < brokerCount; b++) {
            List<Integer> ids = new ArrayList<>();
            if (rnd.nextInt(5) == 0) {
                Set<Integer> set = new LinkedHashSet<>();
                while (set.size() < perBroker[b]) {
                    set.add(rnd.nextInt(200));
                }
                ids.addAll(set);
            } else {
                for (int q = 0; q < perBroker[b]; q++) {
                    ids.add(q);
                }
            }
            for (int id : ids) {
                in.mqAll.add(new MessageQueue(in.topic, in.brokers.get(b), id));
            }
        }
        Collections.shuffle(in.mqAll, rnd);
        Collections.sort(in.mqAll); // as RebalanceImpl.rebalanceByTopic does

        boolean allowNoRoomCid = rnd.nextInt(20) == 0;
        boolean cidSortTraps = rnd.nextInt(4) == 0;
        int cidCount = rnd.nextInt(10) < 3 ? 1 + rnd.nextInt(4) : 1 + rnd.nextInt(20);
        Set<String> cids = new LinkedHashSet<>();
        while (cids.size() < cidCount) {
            String cid = randomCid(rnd, in.idcPool, allowNoRoomCid);
            if (cidSortTraps) {
                // Same IP, instance names differing in a character whose UTF-16 and code point orders disagree.
                cid = "10.0.0.1@i" + SORT_TRAPS[rnd.nextInt(SORT_TRAPS.length)] + cid.substring(cid.indexOf('@') + 1);
            }
            cids.add(cid);
        }
        in.cidAll.addAll(cids);
        if (rnd.nextInt(20) == 0) {
            in.cidAll.add(in.cidAll.get(rnd.nextInt(in.cidAll.size()))); // duplicate client id
        }
        Collections.shuffle(in.cidAll, rnd);
        Collections.sort(in.cidAll); // as RebalanceImpl.rebalanceByTopic does

        String outsider;
        do {
            outsider = randomCid(rnd, in.idcPool, false);
        } while (in.cidAll.contains(outsider));
        in.outsider = outsider;
        return in;
    }

    static String randomBrokerName(Random rnd, List<String> idcPool, boolean allowEmptyRoom) {
        String idc = idcPool.get(rnd.nextInt(idcPool.size()));
        String name = rnd.nextInt(3) == 0 ? "broker-" + fragmentName(rnd, 1, 3) : asciiName(rnd, "broker-");
        int roll = rnd.nextInt(100);
        if (roll < 55) {
            return idc + "@" + name; // the MACHINE_ROOM convention
        } else if (roll < 72) {
            return name; // no '@'
        } else if (roll < 78) {
            return idc + "@" + name + "@"; // Java's split drops the trailing empty part: 2 parts
        } else if (roll < 84) {
            return idc + "@" + name + "@x"; // 3 parts
        } else if (roll < 89) {
            return idc + "@"; // 1 part after split
        } else if (roll < 93) {
            return idc + "@@" + name; // 3 parts, middle empty
        } else if (roll < 96) {
            return "other@" + name; // an IDC no consumer claims
        } else if (allowEmptyRoom) {
            return rnd.nextBoolean() ? "@" + name : ""; // empty machine room: NEARBY throws
        } else {
            return idc + "@" + name + "@@";
        }
    }

    static String randomCid(Random rnd, List<String> idcPool, boolean allowNoRoom) {
        String ip = "10." + rnd.nextInt(3) + "." + rnd.nextInt(256) + "." + rnd.nextInt(256);
        String instance = rnd.nextInt(8) == 0 ? fragmentName(rnd, 1, 3) : String.valueOf(rnd.nextInt(100000));
        String cid = ip + "@" + instance;
        int roll = rnd.nextInt(100);
        if (allowNoRoom && roll < 10) {
            return cid; // no '#': NEARBY throws
        } else if (roll < 70) {
            return cid + "#" + idcPool.get(rnd.nextInt(idcPool.size()));
        } else if (roll < 85) {
            return cid + "#room-" + rnd.nextInt(3); // a room without brokers
        } else {
            return cid + "#" + rnd.nextInt(10000);
        }
    }

    static List<String> randomIdcs(Random rnd, Input in) {
        List<String> idcs = new ArrayList<>();
        for (String idc : in.idcPool) {
            if (rnd.nextInt(3) != 0) {
                idcs.add(idc);
            }
        }
        if (rnd.nextInt(5) == 0) {
            idcs.add(""); // matches broker names like "@name"
        }
        if (rnd.nextInt(5) == 0) {
            idcs.add("other");
        }
        return idcs;
    }

    static int randomVirtualNodes(Random rnd) {
        int[] choices = {0, 1, 2, 3, 5, 16, 50};
        return rnd.nextBoolean() ? -1 : choices[rnd.nextInt(choices.length)]; // -1: default constructor
    }

    static Spec avg() {
        return new Spec(new AllocateMessageQueueAveragely(), "{\"kind\":\"AVG\"}");
    }

    static Spec circle() {
        return new Spec(new AllocateMessageQueueAveragelyByCircle(), "{\"kind\":\"AVG_BY_CIRCLE\"}");
    }

    static Spec hash(int virtualNodes) {
        if (virtualNodes < 0) {
            return new Spec(new AllocateMessageQueueConsistentHash(), "{\"kind\":\"CONSISTENT_HASH\",\"virtualNodes\":10}");
        }
        return new Spec(new AllocateMessageQueueConsistentHash(virtualNodes),
            "{\"kind\":\"CONSISTENT_HASH\",\"virtualNodes\":" + virtualNodes + "}");
    }

    static Spec config(Random rnd, Input in) {
        List<MessageQueue> list = new ArrayList<>();
        StringBuilder json = new StringBuilder("{\"kind\":\"CONFIG\",\"queues\":[");
        int count = rnd.nextInt(in.mqAll.size() + 2);
        for (int i = 0; i < count; i++) {
            int idx = rnd.nextInt(in.mqAll.size());
            list.add(in.mqAll.get(idx));
            json.append(i > 0 ? "," : "").append(idx);
        }
        json.append("]}");
        AllocateMessageQueueByConfig s = new AllocateMessageQueueByConfig();
        s.setMessageQueueList(list);
        return new Spec(s, json.toString());
    }

    static Spec machineRoom(List<String> idcs) {
        AllocateMessageQueueByMachineRoom s = new AllocateMessageQueueByMachineRoom();
        s.setConsumeridcs(new HashSet<>(idcs));
        StringBuilder json = new StringBuilder("{\"kind\":\"MACHINE_ROOM\",\"idcs\":[");
        for (int i = 0; i < idcs.size(); i++) {
            json.append(i > 0 ? "," : "").append(str(idcs.get(i)));
        }
        return new Spec(s, json.append("]}").toString());
    }

    static Spec nearby(Spec inner) {
        return new Spec(new AllocateMachineRoomNearby(inner.strategy, RESOLVER),
            "{\"kind\":\"MACHINE_ROOM_NEARBY\",\"inner\":" + inner.json + "}");
    }

    static void addStandardSpecs(Random rnd, Input in, int index) {
        in.specs.add(avg());
        in.specs.add(circle());
        in.specs.add(hash(randomVirtualNodes(rnd)));
        in.specs.add(config(rnd, in));
        in.specs.add(machineRoom(randomIdcs(rnd, in)));
        in.specs.add(nearby(innerSpec(rnd, in, index % 5)));
        in.specs.add(nearby(innerSpec(rnd, in, (index + 2) % 5)));
    }

    static Spec innerSpec(Random rnd, Input in, int which) {
        switch (which) {
            case 0: return avg();
            case 1: return circle();
            case 2: return hash(randomVirtualNodes(rnd));
            case 3: return machineRoom(randomIdcs(rnd, in));
            default: return config(rnd, in);
        }
    }

    // ---------------------------------------------------------------- hand-made inputs

    /** ConsistentHashRouter's MD5Hash: the first 4 digest bytes, big-endian, as an unsigned long. */
    static long md5Hash(String key) throws Exception {
        byte[] d = MessageDigest.getInstance("MD5").digest(key.getBytes(StandardCharsets.UTF_8));
        long h = 0;
        for (int i = 0; i < 4; i++) {
            h <<= 8;
            h |= ((int) d[i]) & 0xFF;
        }
        return h;
    }

    /** Two client ids whose first virtual nodes ("<cid>-0") hash equal: the later one wins the ring slot. */
    static Input collisionInput() throws Exception {
        Map<Long, String> seen = new HashMap<>();
        String a = null;
        String b = null;
        for (int n = 0; a == null; n++) {
            String cid = "10.0.0.1@" + n;
            String prev = seen.put(md5Hash(cid + "-0"), cid);
            if (prev != null) {
                a = prev;
                b = cid;
            }
        }
        Input in = new Input();
        in.topic = "CollisionTopic";
        in.brokers.add("broker-a");
        for (int q = 0; q < 32; q++) {
            in.mqAll.add(new MessageQueue(in.topic, "broker-a", q));
        }
        in.cidAll.add(a);
        in.cidAll.add(b);
        Collections.sort(in.cidAll);
        in.outsider = "10.0.0.2@1";
        in.specs.add(hash(1));
        in.specs.add(hash(2));
        in.specs.add(hash(-1));
        return in;
    }

    /**
     * A queue whose key hashes exactly onto a virtual node: tailMap(hash) includes that node, so its client
     * takes the queue (not the next node on the ring).
     */
    static Input exactHitInput() throws Exception {
        Input in = new Input();
        in.topic = "T1954";
        in.brokers.add("b");
        for (int q = 0; q < 4; q++) {
            in.mqAll.add(new MessageQueue(in.topic, "b", q));
        }
        String hit = "10.0.0.1@92665";
        if (md5Hash(in.mqAll.get(0).toString()) != md5Hash(hit + "-0")) {
            throw new IllegalStateException("exact-hit pair does not collide");
        }
        in.cidAll.add(hit);
        in.cidAll.add("10.0.0.9@1");
        Collections.sort(in.cidAll);
        in.outsider = "10.0.0.2@1";
        in.specs.add(hash(1));
        in.specs.add(hash(-1));
        return in;
    }

    /** The same client id twice: indexOf finds the first; ConsistentHashRouter numbers the second's replicas on. */
    static Input duplicateCidInput() {
        Input in = new Input();
        in.topic = "DuplicateTopic";
        in.brokers.add("idc1@broker-a");
        in.brokers.add("idc2@broker-b");
        in.idcPool.add("idc1");
        in.idcPool.add("idc2");
        for (int b = 0; b < 2; b++) {
            for (int q = 0; q < 8; q++) {
                in.mqAll.add(new MessageQueue(in.topic, in.brokers.get(b), q));
            }
        }
        in.cidAll.add("10.0.0.1@1#idc1");
        in.cidAll.add("10.0.0.2@2#idc1");
        in.cidAll.add("10.0.0.2@2#idc1");
        in.cidAll.add("10.0.0.3@3#idc2");
        in.outsider = "10.0.0.4@4#idc2";
        in.specs.add(avg());
        in.specs.add(circle());
        in.specs.add(hash(1));
        in.specs.add(hash(-1));
        in.specs.add(machineRoom(in.idcPool));
        in.specs.add(nearby(avg()));
        return in;
    }

    // ---------------------------------------------------------------- output

    static void writeInput(StringBuilder out, Input in) {
        Map<MessageQueue, Integer> index = new HashMap<>();
        for (int i = 0; i < in.mqAll.size(); i++) {
            index.put(in.mqAll.get(i), i);
        }
        out.append("{\"topic\":").append(str(in.topic));
        out.append(",\"brokers\":[");
        for (int i = 0; i < in.brokers.size(); i++) {
            out.append(i > 0 ? "," : "").append(str(in.brokers.get(i)));
        }
        out.append("],\"mqAll\":[");
        for (int i = 0; i < in.mqAll.size(); i++) {
            MessageQueue mq = in.mqAll.get(i);
            out.append(i > 0 ? "," : "").append('[').append(in.brokers.indexOf(mq.getBrokerName()))
                .append(',').append(mq.getQueueId()).append(']');
        }
        out.append("],\"cidAll\":[");
        for (int i = 0; i < in.cidAll.size(); i++) {
            out.append(i > 0 ? "," : "").append(str(in.cidAll.get(i)));
        }
        out.append("],\"outsider\":").append(str(in.outsider));
        out.append(",\"runs\":[");
        for (int s = 0; s < in.specs.size(); s++) {
            Spec spec = in.specs.get(s);
            out.append(s > 0 ? ",\n " : "\n ").append("{\"strategy\":").append(spec.json);
            out.append(",\"name\":").append(str(spec.strategy.getName()));
            out.append(",\"results\":[");
            for (int c = 0; c < in.cidAll.size(); c++) {
                out.append(c > 0 ? "," : "");
                writeResult(out, index, spec.strategy, in.cidAll.get(c), in);
            }
            out.append("],\"outsiderResult\":");
            writeResult(out, index, spec.strategy, in.outsider, in);
            out.append('}');
        }
        out.append("]}");
    }

    static void writeResult(StringBuilder out, Map<MessageQueue, Integer> index, AllocateMessageQueueStrategy s,
        String cid, Input in) {
        List<MessageQueue> got;
        try {
            got = s.allocate(GROUP, cid, new ArrayList<>(in.mqAll), new ArrayList<>(in.cidAll));
        } catch (IllegalArgumentException e) {
            out.append("null");
            return;
        }
        out.append('[');
        for (int i = 0; i < got.size(); i++) {
            Integer idx = index.get(got.get(i));
            if (idx == null) {
                throw new IllegalStateException("allocated a queue outside mqAll: " + got.get(i));
            }
            out.append(i > 0 ? "," : "").append(idx);
        }
        out.append(']');
    }

    static String str(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '"' || ch == '\\') {
                sb.append('\\').append(ch);
            } else if (ch < 0x20) {
                sb.append(String.format("\\u%04x", (int) ch));
            } else {
                sb.append(ch); // written as UTF-8; surrogate pairs are well formed by construction
            }
        }
        return sb.append('"').toString();
    }

    private AllocateVectors() {
    }
}
