//! The orderly push consumer against the real cluster: per-key order through consumer churn, mutual
//! exclusion per queue, suspend and retry spacing, poison messages to the DLQ, and lock hand-over at
//! shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::java::JavaProcess;
use crate::support::*;
use rmq_client::consumer::rebalance::allocate::AllocateStrategy;
use rmq_client::consumer::{
    ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumerConfig, OrderlyConsumer,
};
use rmq_client::producer::{Producer, SelectByHash};
use rmq_protocol::message::{java_string_cmp, Message, MessageExt, MessageQueue};

fn config(group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    c
}

/// Send `per_key` messages for each of `keys` keys, body `key:seq`, each key to one queue.
async fn produce_keyed(topic: &str, keys: usize, per_key: usize) {
    let p = Producer::builder(unique("op"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    let selector = SelectByHash::java_compatible();
    for seq in 0..per_key {
        for k in 0..keys {
            let msg = Message::new(topic, format!("k{k}:{seq}")).with_keys([format!("k{k}")]);
            p.send_with_selector(msg, &selector).await.unwrap();
        }
    }
    p.shutdown().await;
}

fn parse(m: &MessageExt) -> (String, usize) {
    let body = String::from_utf8_lossy(&m.body).into_owned();
    let (k, s) = body.split_once(':').unwrap();
    (k.to_owned(), s.parse().unwrap())
}

/// One listener call: which consumer, which queue, when it ran, and the (key, seq) it consumed.
#[derive(Debug, Clone)]
struct Call {
    consumer: usize,
    queue: MessageQueue,
    enter: Instant,
    exit: Instant,
    msgs: Vec<(String, usize)>,
}

type Log = Arc<Mutex<Vec<Call>>>;

async fn start_logging(
    id: usize,
    cfg: ConsumerConfig,
    topic: &str,
    log: Log,
    work: Duration,
) -> OrderlyConsumer {
    OrderlyConsumer::builder(cfg)
        .subscribe(topic, "*")
        .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
            let enter = Instant::now();
            std::thread::sleep(work);
            let call = Call {
                consumer: id,
                queue: ctx.message_queue().clone(),
                enter,
                exit: Instant::now(),
                msgs: msgs.iter().map(parse).collect(),
            };
            log.lock().unwrap().push(call);
            ConsumeOrderlyResult::Success
        })
        .start()
        .await
        .unwrap()
}

fn consumed(log: &Log) -> usize {
    log.lock().unwrap().iter().map(|c| c.msgs.len()).sum()
}

#[tokio::test]
async fn per_key_order_and_exclusive_queues_through_consumer_churn() {
    let (keys, per_key) = (100, 200);
    let topic = topic_with_queues("ochurn", 8).await;
    produce_keyed(&topic, keys, per_key).await;
    let group = unique("gochurn");
    let log: Log = Default::default();
    let work = Duration::from_millis(2);
    let mut cfg = config(&group);
    cfg.client.instance_name = "c0".into();
    let c0 = start_logging(0, cfg, &topic, log.clone(), work).await;

    // 1 → 3 consumers once some messages were consumed.
    assert!(eventually(Duration::from_secs(60), || async { consumed(&log) >= 2_000 }).await);
    let mut consumers = vec![Some(c0)];
    for id in 1..3 {
        let mut cfg = config(&group);
        cfg.client.instance_name = format!("c{id}");
        consumers.push(Some(start_logging(id, cfg, &topic, log.clone(), work).await));
    }
    // 3 → 2: consumer 1 shuts down cleanly, then consumer 2 is dropped without shutdown.
    let n = consumed(&log);
    assert!(eventually(Duration::from_secs(60), || async { consumed(&log) >= n + 3_000 }).await);
    consumers[1].take().unwrap().shutdown().await;
    let n = consumed(&log);
    assert!(eventually(Duration::from_secs(60), || async { consumed(&log) >= n + 2_000 }).await);
    drop(consumers[2].take());

    // Everything arrives (the dropped consumer's queues come back once its broker locks expire).
    let all: HashSet<(String, usize)> = (0..keys)
        .flat_map(|k| (0..per_key).map(move |s| (format!("k{k}"), s)))
        .collect();
    let done = eventually(Duration::from_secs(150), || async {
        let l = log.lock().unwrap();
        let seen: HashSet<&(String, usize)> = l.iter().flat_map(|c| c.msgs.iter()).collect();
        all.iter().all(|m| seen.contains(m))
    })
    .await;
    let calls = log.lock().unwrap().clone();
    assert!(
        done,
        "lost messages: {} delivered of {}",
        calls.iter().map(|c| c.msgs.len()).sum::<usize>(),
        all.len()
    );
    consumers[0].take().unwrap().shutdown().await;

    // No two listener calls on one queue overlap, whoever made them.
    let mut by_queue: HashMap<&MessageQueue, Vec<&Call>> = HashMap::new();
    for c in &calls {
        by_queue.entry(&c.queue).or_default().push(c);
    }
    for (q, cs) in by_queue.iter_mut() {
        cs.sort_by_key(|c| c.enter);
        for w in cs.windows(2) {
            assert!(
                w[0].exit <= w[1].enter,
                "{q}: consumer {} and consumer {} ran the listener at the same time",
                w[0].consumer,
                w[1].consumer
            );
        }
    }
    // Within one consumer, each key's sequence only goes forward.
    let mut last: HashMap<(usize, String), usize> = HashMap::new();
    let mut ordered = calls.clone();
    ordered.sort_by_key(|c| c.enter);
    for c in &ordered {
        for (k, s) in &c.msgs {
            if let Some(prev) = last.insert((c.consumer, k.clone()), *s) {
                assert!(*s > prev, "consumer {} saw {k}:{s} after {k}:{prev}", c.consumer);
            }
        }
    }
    let delivered: usize = calls.iter().map(|c| c.msgs.len()).sum();
    let per_consumer: BTreeMap<usize, usize> = calls.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.consumer).or_default() += c.msgs.len();
        m
    });
    eprintln!(
        "orderly churn: {} messages, {delivered} deliveries ({} duplicates), per consumer {per_consumer:?}",
        all.len(),
        delivered - all.len()
    );
    assert!(
        per_consumer.len() == 3,
        "every consumer took part: {per_consumer:?}"
    );
}

#[tokio::test]
async fn a_suspended_message_blocks_its_queue_until_it_succeeds() {
    let topic = topic_with_queues("osusp", 1).await;
    produce_keyed(&topic, 1, 20).await;
    let mut cfg = config(&unique("gosusp"));
    cfg.suspend_current_queue_time = Duration::from_millis(500);
    // Attempts of each message: (seq, reconsume_times, when).
    let attempts: Arc<Mutex<Vec<(usize, i32, Instant)>>> = Default::default();
    let a2 = attempts.clone();
    let c = OrderlyConsumer::builder(cfg)
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeOrderlyContext| {
            let mut a = a2.lock().unwrap();
            for m in msgs {
                let (_, seq) = parse(m);
                a.push((seq, m.reconsume_times, Instant::now()));
                if seq == 1 && m.reconsume_times < 3 {
                    return ConsumeOrderlyResult::SuspendCurrentQueueAMoment;
                }
            }
            ConsumeOrderlyResult::Success
        })
        .start()
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(60), || async {
            attempts.lock().unwrap().iter().any(|a| a.0 == 19)
        })
        .await
    );
    c.shutdown().await;
    let a = attempts.lock().unwrap().clone();
    let seqs: Vec<usize> = a.iter().map(|x| x.0).collect();
    // #0 once, #1 four times (3 suspends), then #2..#19 in order, nothing else.
    let mut want = vec![0, 1, 1, 1, 1];
    want.extend(2..20);
    assert_eq!(seqs, want, "{a:?}");
    let ones: Vec<_> = a.iter().filter(|x| x.0 == 1).collect();
    assert_eq!(ones.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for w in ones.windows(2) {
        let gap = w[1].2 - w[0].2;
        assert!(
            gap >= Duration::from_millis(450) && gap < Duration::from_secs(3),
            "retry spacing {gap:?} for a 500 ms suspend"
        );
    }
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dlq_and_its_queue_moves_on() {
    let topic = topic_with_queues("opoison", 1).await;
    produce_keyed(&topic, 1, 10).await;
    let group = unique("gopoison");
    let mut cfg = config(&group);
    cfg.orderly_max_reconsume_times = 3;
    cfg.suspend_current_queue_time = Duration::from_millis(100);
    let seen: Arc<Mutex<Vec<(usize, i32)>>> = Default::default();
    let s2 = seen.clone();
    let c = OrderlyConsumer::builder(cfg)
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeOrderlyContext| {
            let mut s = s2.lock().unwrap();
            for m in msgs {
                let (_, seq) = parse(m);
                s.push((seq, m.reconsume_times));
                if seq == 4 {
                    return ConsumeOrderlyResult::SuspendCurrentQueueAMoment;
                }
            }
            ConsumeOrderlyResult::Success
        })
        .start()
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(60), || async {
            seen.lock().unwrap().iter().any(|x| x.0 == 9)
        })
        .await
    );
    c.shutdown().await;
    let s = seen.lock().unwrap().clone();
    // #4 tried with reconsume times 0..=3, then the rest in order.
    let mut want: Vec<(usize, i32)> = (0..4).map(|i| (i, 0)).collect();
    want.extend((0..4).map(|r| (4, r)));
    want.extend((5..10).map(|i| (i, 0)));
    assert_eq!(s, want);
    let dlq = format!("%DLQ%{group}");
    let found = eventually(Duration::from_secs(30), || async {
        let admin = admin();
        match admin.topic_route(&dlq).await {
            Ok(_) => pull_topic(&dlq).await.iter().any(|m| m.body.as_ref() == b"k0:4"),
            Err(_) => false,
        }
    })
    .await;
    assert!(found, "k0:4 not in {dlq}");
}

#[tokio::test]
async fn shutdown_hands_queues_over_within_five_seconds() {
    // 64 keys × 100 messages at 50 ms each: every queue still has a backlog when A stops.
    let topic = topic_with_queues("ohand", 8).await;
    produce_keyed(&topic, 64, 100).await;
    let group = unique("gohand");
    let log: Log = Default::default();
    let work = Duration::from_millis(50);
    let mut a_cfg = config(&group);
    a_cfg.client.instance_name = "a".into();
    let a = start_logging(0, a_cfg, &topic, log.clone(), work).await;
    let mut b_cfg = config(&group);
    b_cfg.client.instance_name = "b".into();
    let b = start_logging(1, b_cfg, &topic, log.clone(), work).await;
    // The group rebalanced to 8 + 8 queues.
    let held = |c: &OrderlyConsumer| -> HashSet<MessageQueue> {
        c.stats()
            .queues
            .keys()
            .filter(|q| q.topic == topic)
            .cloned()
            .collect()
    };
    let split = eventually(Duration::from_secs(60), || async {
        let (qa, qb) = (held(&a), held(&b));
        qa.len() == 8 && qb.len() == 8 && qa.is_disjoint(&qb)
    })
    .await;
    assert!(split, "queues never split between the two consumers");
    let a_queues: HashSet<MessageQueue> = a
        .stats()
        .queues
        .keys()
        .filter(|q| q.topic == topic)
        .cloned()
        .collect();
    assert_eq!(a_queues.len(), 8);
    a.shutdown().await;
    let stopped = Instant::now();
    // The released queues that still hold messages (a key hash may leave a queue empty).
    let admin = admin();
    let mut a_queues_with_backlog = HashSet::new();
    for q in &a_queues {
        let committed = admin.query_consumer_offset(&group, q).await.unwrap().unwrap_or(0);
        if admin.max_offset(q).await.unwrap() > committed {
            a_queues_with_backlog.insert(q.clone());
        }
    }
    assert!(a_queues_with_backlog.len() >= 4, "{a_queues_with_backlog:?}");
    let a_queues = a_queues_with_backlog;
    let took_over = eventually(Duration::from_secs(5), || async {
        let l = log.lock().unwrap();
        let taken: HashSet<&MessageQueue> = l
            .iter()
            .filter(|c| c.consumer == 1 && c.enter > stopped)
            .map(|c| &c.queue)
            .collect();
        a_queues.iter().all(|q| taken.contains(q))
    })
    .await;
    let elapsed = stopped.elapsed();
    eprintln!("orderly hand-over: the remaining consumer consumed all released queues after {elapsed:?}");
    if !took_over {
        let st = b.stats();
        for q in &a_queues {
            let n = log
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.consumer == 1 && c.enter > stopped && &c.queue == q)
                .count();
            eprintln!("{q}: calls after stop {n}; stats {:?}", st.queues.get(q));
        }
    }
    assert!(took_over, "the released queues were not all consumed within 5 s");
    b.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------
// A Rust and a Java orderly consumer in one group
// ---------------------------------------------------------------------------------------------------

/// Who made a [`WallCall`].
const JAVA: &str = "java";
const RUST: &str = "rust";

/// One listener call of the Rust or the Java consumer, timed with the wall clock (microseconds since
/// the epoch: both processes run on this machine, so their times compare).
#[derive(Debug, Clone)]
struct WallCall {
    who: &'static str,
    /// `broker:queueId`, as the Java program prints queues.
    queue: String,
    enter_us: i64,
    exit_us: i64,
    /// (queue offset, key, seq) of each message.
    msgs: Vec<(i64, String, usize)>,
}

fn wall_micros() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_micros()).unwrap()
}

fn short(mq: &MessageQueue) -> String {
    format!("{}:{}", mq.broker_name, mq.queue_id)
}

/// The listener calls of `JavaOrderlyConsume` from its `@@MSG` lines (without the prefix): the lines
/// of one call are printed together and share queue and times.
fn java_calls(lines: &[String]) -> Vec<WallCall> {
    let mut calls: Vec<WallCall> = Vec::new();
    for l in lines {
        // <broker> <queueId> <queueOffset> <reconsumeTimes> <enterMicros> <exitMicros> <body>
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f.len(), 7, "bad @@MSG line {l:?}");
        let queue = format!("{}:{}", f[0], f[1]);
        let (enter_us, exit_us) = (f[4].parse().unwrap(), f[5].parse().unwrap());
        let (k, s) = f[6].split_once(':').unwrap();
        let msg = (f[2].parse().unwrap(), k.to_owned(), s.parse().unwrap());
        match calls.last_mut() {
            Some(c) if c.queue == queue && c.enter_us == enter_us && c.exit_us == exit_us => c.msgs.push(msg),
            _ => calls.push(WallCall {
                who: JAVA,
                queue,
                enter_us,
                exit_us,
                msgs: vec![msg],
            }),
        }
    }
    calls
}

#[tokio::test]
async fn rust_and_java_orderly_consumers_share_a_group_and_keep_per_key_order() {
    // 40 keys × 50 messages over 16 queues (about 125 a queue), 20 ms a message: every queue takes a
    // few seconds, so the hand-over of half the queues from Java to Rust happens mid-stream and both
    // consume side by side afterwards.
    let (keys, per_key) = (40, 50);
    let work = Duration::from_millis(20);
    let topic = topic_with_queues("omixed", 8).await;
    let mut queues = admin()
        .topic_route(&topic)
        .await
        .unwrap()
        .subscribe_queues
        .clone();
    queues.sort();
    assert_eq!(queues.len(), 16);
    produce_keyed(&topic, keys, per_key).await;
    let group = unique("gomixed");
    let namesrv = cluster().namesrv_addr();
    let started = Instant::now();

    // Java first, alone: it locks all 16 queues and starts on them.
    let work_ms = work.as_millis().to_string();
    let mut java = JavaProcess::spawn(
        "JavaOrderlyConsume",
        &[&namesrv, &topic, &group, &unique("java"), &work_ms],
    )
    .await;
    let (_, java_cid) = java
        .wait_line("@@STARTED ", 0, Duration::from_secs(60), |_| true)
        .await;
    let (alone, _) = java
        .wait_line("@@ASSIGN ", 0, Duration::from_secs(30), |l| {
            l.split(' ').count() == 16
        })
        .await;
    java.wait_line("@@MSG ", 50, Duration::from_secs(30), |_| true)
        .await;
    let java_before_rust = java.lines("@@MSG ").len();

    // Ours joins: Java releases half of its queues (after their running batch), ours locks them.
    let log: Arc<Mutex<Vec<WallCall>>> = Default::default();
    let sink = log.clone();
    let mut cfg = config(&group);
    cfg.client.instance_name = unique("rust");
    let joining_us = wall_micros();
    let rust = OrderlyConsumer::builder(cfg)
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
            let enter_us = wall_micros();
            std::thread::sleep(work * u32::try_from(msgs.len()).unwrap());
            let exit_us = wall_micros();
            let call = WallCall {
                who: RUST,
                queue: short(ctx.message_queue()),
                enter_us,
                exit_us,
                msgs: msgs
                    .iter()
                    .map(|m| {
                        let (k, s) = parse(m);
                        (m.queue_offset, k, s)
                    })
                    .collect(),
            };
            sink.lock().unwrap().push(call);
            ConsumeOrderlyResult::Success
        })
        .start()
        .await
        .unwrap();
    let rust_joined = started.elapsed();
    let rust_cid = rust.client_id().to_owned();

    // Everything is consumed (by one or the other).
    let all: HashSet<(String, usize)> = (0..keys)
        .flat_map(|k| (0..per_key).map(move |s| (format!("k{k}"), s)))
        .collect();
    let seen = |java: &JavaProcess| -> HashSet<(String, usize)> {
        let mut seen: HashSet<(String, usize)> = java_calls(&java.lines("@@MSG "))
            .into_iter()
            .flat_map(|c| c.msgs)
            .map(|(_, k, s)| (k, s))
            .collect();
        for c in log.lock().unwrap().iter() {
            seen.extend(c.msgs.iter().map(|(_, k, s)| (k.clone(), *s)));
        }
        seen
    };
    let done = eventually(Duration::from_secs(120), || async {
        let seen = seen(&java);
        all.iter().all(|m| seen.contains(m))
    })
    .await;
    assert!(
        done,
        "lost messages: {} of {} consumed; Java assignments {:?}; Rust holds {:?}",
        seen(&java).len(),
        all.len(),
        java.lines("@@ASSIGN "),
        rust.stats().queues.keys().map(short).collect::<Vec<_>>()
    );
    let consumed_all = started.elapsed();

    // The split the group settled on: what the average strategy gives each of the two clients.
    let mut cids = vec![java_cid.clone(), rust_cid.clone()];
    cids.sort_by(|a, b| java_string_cmp(a, b));
    let allocate = |cid: &str| -> BTreeSet<String> {
        AllocateStrategy::Average
            .allocate(&group, cid, &queues, &cids)
            .unwrap()
            .iter()
            .map(short)
            .collect()
    };
    let (java_expected, rust_expected) = (allocate(&java_cid), allocate(&rust_cid));
    assert_eq!(java_expected.len(), 8);
    assert!(java_expected.is_disjoint(&rust_expected));
    let java_assigned: BTreeSet<String> = java
        .lines("@@ASSIGN ")
        .last()
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();
    let rust_held: BTreeSet<String> = rust
        .stats()
        .queues
        .keys()
        .filter(|q| q.topic == topic)
        .map(short)
        .collect();
    let java_assignments = java.lines("@@ASSIGN ")[alone..].to_vec();
    assert_eq!(
        java_assigned, java_expected,
        "Java's assignments: {java_assignments:?}"
    );
    assert_eq!(rust_held, rust_expected, "the queues ours holds");

    // Ours stops first: its offsets are stored after every batch, before its locks are released, so
    // Java finds nothing left when it takes the queues back. (Stopping Java first would not be clean:
    // its shutdown unlocks its queues before it persists their offsets.)
    let stopping_us = wall_micros();
    rust.shutdown().await;
    let java_lines: Vec<String> = java
        .stop(Duration::from_secs(30))
        .await
        .iter()
        .filter_map(|l| l.strip_prefix("@@MSG ").map(str::to_owned))
        .collect();
    let mut calls = java_calls(&java_lines);
    calls.extend(log.lock().unwrap().iter().cloned());
    calls.sort_by_key(|c| (c.enter_us, c.exit_us));

    // No queue was in two listener calls at once, whoever made them: the Java consumer's, ours, or one
    // of each (wall-clock times of two processes on one machine, no tolerance).
    let mut by_queue: BTreeMap<&str, Vec<&WallCall>> = BTreeMap::new();
    for c in &calls {
        by_queue.entry(&c.queue).or_default().push(c);
    }
    for (q, cs) in &by_queue {
        for w in cs.windows(2) {
            assert!(
                w[0].exit_us <= w[1].enter_us,
                "{q}: {} ({}..{} µs) and {} ({}..{} µs) ran the listener at the same time",
                w[0].who,
                w[0].enter_us,
                w[0].exit_us,
                w[1].who,
                w[1].enter_us,
                w[1].exit_us
            );
        }
    }
    // Per key over the whole group (each key lives in one queue, whose calls are sequential): a message
    // is consumed only after every earlier message of its key was, and within one consumer each key's
    // sequence only goes forward. Messages consumed a second time are counted.
    let mut next: HashMap<&str, usize> = HashMap::new();
    let mut last: HashMap<(&str, &str), usize> = HashMap::new();
    let mut again = 0;
    for c in &calls {
        for (_, k, s) in &c.msgs {
            let n = next.entry(k).or_default();
            assert!(*s <= *n, "{} consumed {k}:{s} before {k}:{n}", c.who);
            if *s < *n {
                again += 1;
            }
            *n = (*n).max(s + 1);
            if let Some(prev) = last.insert((c.who, k), *s) {
                assert!(*s > prev, "{} consumed {k}:{s} after {k}:{prev}", c.who);
            }
        }
    }
    let delivered: usize = calls.iter().map(|c| c.msgs.len()).sum();
    assert_eq!(delivered, all.len() + again);

    // Until ours stopped, each queue changed hands at most once, from Java to ours, and was last
    // consumed by the owner the average strategy gives it.
    let mut switched = Vec::new();
    let mut final_owner: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (q, cs) in &by_queue {
        let mut owners: Vec<&str> = cs
            .iter()
            .filter(|c| c.enter_us < stopping_us)
            .map(|c| c.who)
            .collect();
        owners.dedup();
        match owners[..] {
            [_] => {}
            [JAVA, RUST] => switched.push(q.to_string()),
            _ => panic!("{q} changed hands more than once, or from ours to Java: {owners:?}"),
        }
        final_owner
            .entry(owners[owners.len() - 1])
            .or_default()
            .insert(q.to_string());
    }
    let nonempty: BTreeSet<String> = by_queue.keys().map(|q| q.to_string()).collect();
    for (who, expected) in [(JAVA, &java_expected), (RUST, &rust_expected)] {
        let want: BTreeSet<String> = expected.intersection(&nonempty).cloned().collect();
        assert_eq!(
            final_owner.get(who).cloned().unwrap_or_default(),
            want,
            "the queues {who} consumed last"
        );
    }
    let after_stop: usize = calls
        .iter()
        .filter(|c| c.enter_us >= stopping_us)
        .map(|c| c.msgs.len())
        .sum();

    // Both consumed, and side by side: ours started while Java was still busy with its own queues.
    let span = |who: &str| -> (i64, i64, usize) {
        let cs: Vec<&WallCall> = calls.iter().filter(|c| c.who == who).collect();
        let first = cs.iter().map(|c| c.enter_us).min().unwrap_or(i64::MAX);
        let last = cs.iter().map(|c| c.exit_us).max().unwrap_or(i64::MIN);
        (first, last, cs.iter().map(|c| c.msgs.len()).sum())
    };
    let ((j_first, j_last, j_n), (r_first, r_last, r_n)) = (span(JAVA), span(RUST));
    let side_by_side_ms = (j_last.min(r_last) - j_first.max(r_first)) / 1000;
    let queues_of = |who: &str| -> BTreeSet<&str> {
        by_queue
            .iter()
            .filter(|(_, cs)| cs.iter().any(|c| c.who == who))
            .map(|(q, _)| *q)
            .collect()
    };
    // The median pause between two calls on one queue (what each client spends between batches).
    let pause_us = |who: &str| -> i64 {
        let mut gaps: Vec<i64> = Vec::new();
        for cs in by_queue.values() {
            let mine: Vec<&&WallCall> = cs.iter().filter(|c| c.who == who).collect();
            gaps.extend(mine.windows(2).map(|w| w[1].enter_us - w[0].exit_us));
        }
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).copied().unwrap_or(0)
    };
    eprintln!(
        "orderly mixed group: {} messages in {} queues, {delivered} deliveries ({again} a second time, \
         {after_stop} after ours stopped). Java {java_cid} consumed {j_n} ({java_before_rust} before ours \
         joined at {rust_joined:?}) from {:?}; ours {rust_cid} consumed {r_n} from {:?}; handed over \
         mid-stream: {switched:?}, ours first consumed {} ms after it started; both consuming for {side_by_side_ms} ms; median pause between two \
         calls on a queue: Java {} µs, ours {} µs; everything consumed {consumed_all:?} after launching Java (javac included)",
        all.len(),
        nonempty.len(),
        queues_of(JAVA),
        queues_of(RUST),
        (r_first - joining_us) / 1000,
        pause_us(JAVA),
        pause_us(RUST),
    );
    assert!(j_n > 0 && r_n > 0, "Java consumed {j_n}, ours {r_n}");
    assert!(
        side_by_side_ms > 0,
        "the two never consumed at the same time (Java {j_first}..{j_last}, ours {r_first}..{r_last} µs)"
    );
    assert!(
        !switched.is_empty(),
        "no queue changed hands while it had messages left"
    );
    // Java does not commit the batch that was running when it let go of a queue (its result is dropped
    // with the queue), so ours consumes that one message again; nothing else is consumed twice.
    assert!(
        again <= switched.len(),
        "{again} messages consumed a second time for {} hand-overs",
        switched.len()
    );
}
