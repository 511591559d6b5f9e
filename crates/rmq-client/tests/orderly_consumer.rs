//! The orderly push consumer against the real cluster: per-key order through consumer churn, mutual
//! exclusion per queue, suspend and retry spacing, poison messages to the DLQ, and lock hand-over at
//! shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_client::consumer::{
    ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumerConfig, OrderlyConsumer,
};
use rmq_client::producer::{Producer, SelectByHash};
use rmq_protocol::message::{Message, MessageExt, MessageQueue};
use support::*;

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
