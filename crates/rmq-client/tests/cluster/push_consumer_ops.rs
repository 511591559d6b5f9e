//! Operating a push consumer against the real cluster: memory bounds under a slow listener (via the
//! stats API), the broker-initiated requests behind `mqadmin consumerStatus`, `queryMsgById -g -d` and
//! `resetOffsetByTime`, and the consume-timeout send-back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::*;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig, ConsumerStats,
};
use rmq_client::producer::{Producer, SendResult};
use rmq_protocol::message::{Message, MessageExt};

fn config(group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    c.persist_interval = Duration::from_secs(1);
    c
}

async fn produce(topic: &str, bodies: impl IntoIterator<Item = (String, usize)>) -> Vec<SendResult> {
    let p = Producer::builder(unique("opsp"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (key, size) in bodies {
        let mut body = key.clone().into_bytes();
        body.resize(size.max(body.len()), b'.');
        out.push(p.send(Message::new(topic, body).with_keys([key])).await.unwrap());
    }
    p.shutdown().await;
    out
}

/// The key (first dot-free part of the body) of each delivered message, with how often it came.
type Seen = Arc<Mutex<HashMap<String, usize>>>;

fn key_of(m: &MessageExt) -> String {
    String::from_utf8_lossy(&m.body)
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn mqadmin(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster().mqadmin(&args)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("mqadmin failed: {e}"))
}

/// Wait until the group's in-memory offsets reached the end of every queue of `topic`.
async fn drained(c: &ConcurrentConsumer, topic: &str, secs: u64) -> bool {
    eventually(Duration::from_secs(secs), || async {
        let s = c.stats();
        let qs: Vec<_> = s.queues.iter().filter(|(q, _)| q.topic == topic).collect();
        !qs.is_empty()
            && qs
                .iter()
                .all(|(_, q)| q.broker_max_offset >= 0 && q.committed_offset == q.broker_max_offset)
    })
    .await
}

#[tokio::test]
async fn slow_listener_keeps_the_cache_within_its_limits() {
    // 16 queues; 4 KiB bodies; a listener taking 10 ms per message on 8 threads (~800 msgs/s).
    let topic = topic_with_queues("cslow", 8).await;
    let n = 3_000;
    produce(&topic, (0..n).map(|i| (format!("s{i}"), 4096))).await;

    let mut cfg = config(&unique("gslow"));
    cfg.consume_thread_min = 8;
    cfg.consume_thread_max = 8;
    cfg.pull_batch_size = 4;
    cfg.pull_threshold_for_topic = 320;
    cfg.pull_threshold_size_for_topic = 256 * 1024;
    let seen: Seen = Default::default();
    let s2 = seen.clone();
    let c = ConcurrentConsumer::builder(cfg.clone())
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            std::thread::sleep(Duration::from_millis(10));
            let mut s = s2.lock().unwrap();
            for m in msgs {
                *s.entry(key_of(m)).or_default() += 1;
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();

    // Sample the stats while the backlog drains.
    let mut peak = ConsumerStats::default();
    let mut samples = 0;
    let finished = eventually(Duration::from_secs(90), || {
        let s = c.stats();
        samples += 1;
        if s.cached_bytes > peak.cached_bytes {
            peak = s.clone();
        }
        let done = seen.lock().unwrap().len() >= n;
        async move { done }
    })
    .await;
    assert!(finished, "received {} of {n}", seen.lock().unwrap().len());

    // Each of the 16 queues may hold its share of the topic limits plus one pull batch (the check is
    // made before a pull, as in Java).
    let queues = 16u64;
    let batch = u64::from(cfg.pull_batch_size);
    let per_queue_bytes = cfg.pull_threshold_size_for_topic / queues;
    let per_queue_count = (cfg.pull_threshold_for_topic as u64) / queues;
    let bytes_bound = queues * (per_queue_bytes + batch * 4096);
    let count_bound = queues * (per_queue_count + batch);
    eprintln!(
        "peak cache over {samples} samples: {} messages / {} bytes (bounds {count_bound} / {bytes_bound}; backlog {} bytes)",
        peak.cached_messages,
        peak.cached_bytes,
        n * 4096
    );
    assert!(peak.cached_messages > 0, "the sampler never saw a cached message");
    assert!(peak.cached_bytes <= bytes_bound, "{peak:?}");
    assert!(peak.cached_messages <= count_bound, "{peak:?}");
    for (mq, q) in &peak.queues {
        assert!(q.cached_bytes <= per_queue_bytes + batch * 4096, "{mq}: {q:?}");
    }

    assert!(drained(&c, &topic, 30).await);
    let stats = c.stats();
    let t = &stats.topics[&topic];
    assert_eq!(t.consumed_ok, n as u64, "{t:?}");
    assert_eq!(t.pulled_messages, n as u64, "{t:?}");
    assert!(t.consume_rt_ms >= 10.0, "{t:?}");
    assert!(stats.queues.values().all(|q| q.lag == 0), "{stats:?}");
    assert!(stats.offsets.persisted > 0, "{:?}", stats.offsets);
    c.shutdown().await;
}

#[tokio::test]
async fn mqadmin_consumer_status_and_direct_consumption() {
    let topic = topic_with_queues("cadmin", 2).await;
    let sent = produce(&topic, (0..40).map(|i| (format!("a{i}"), 64))).await;
    let group = unique("gadmin");
    let seen: Seen = Default::default();
    let s2 = seen.clone();
    let c = ConcurrentConsumer::builder(config(&group))
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            let mut s = s2.lock().unwrap();
            for m in msgs {
                *s.entry(key_of(m)).or_default() += 1;
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    assert!(drained(&c, &topic, 60).await, "{:?}", c.stats());
    assert_eq!(seen.lock().unwrap().len(), 40);

    // consumerStatus: the Java tool parses our ConsumerRunningInfo and prints our queues and offsets.
    let ns = cluster().namesrv_addr();
    let out = mqadmin(
        ["consumerStatus", "-n", &ns, "-g", &group, "-i", c.client_id()]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
    assert!(out.contains("#Consumer Subscription#"), "{out}");
    assert!(out.contains(&format!("Topic: {topic}")), "{out}");
    assert!(out.contains("PROP_CONSUME_TYPE"), "{out}");
    let offsets: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("#Consumer Offset#"))
        .take_while(|l| !l.starts_with("#Consumer MQ Detail#"))
        .filter(|l| l.starts_with(&topic))
        .collect();
    assert_eq!(offsets.len(), 4, "one line per held queue of {topic}:\n{out}");
    let committed: i64 = offsets
        .iter()
        .map(|l| l.split_whitespace().last().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(committed, 40, "{out}");
    // Without -i the tool analyses the whole group: one client, same subscription, rebalance OK.
    let out = mqadmin(
        ["consumerStatus", "-n", &ns, "-g", &group]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
    assert!(
        out.contains("Same subscription in the same group of consumer"),
        "{out}"
    );
    assert!(out.contains("Rebalance OK"), "{out}");

    // queryMsgById -g -d: the broker pushes one stored message to this client's listener.
    seen.lock().unwrap().clear();
    let target = &sent[7];
    let out = mqadmin(
        [
            "queryMsgById",
            "-n",
            &ns,
            "-t",
            &topic,
            "-i",
            &target.msg_id,
            "-g",
            &group,
            "-d",
            c.client_id(),
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    assert!(out.contains("CR_SUCCESS"), "{out}");
    let s = seen.lock().unwrap().clone();
    assert_eq!(s, HashMap::from([("a7".to_owned(), 1)]), "{out}");
    c.shutdown().await;
}

#[tokio::test]
async fn reset_offset_by_time_replays_from_that_time() {
    let topic = topic_with_queues("creset", 2).await;
    let first = produce(&topic, (0..30).map(|i| (format!("old{i}"), 64))).await;
    assert_eq!(first.len(), 30);
    let group = unique("greset");
    let seen: Seen = Default::default();
    let stored_at: Arc<Mutex<HashMap<String, i64>>> = Default::default();
    let (s2, t2) = (seen.clone(), stored_at.clone());
    let c = ConcurrentConsumer::builder(config(&group))
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            let mut s = s2.lock().unwrap();
            for m in msgs {
                *s.entry(key_of(m)).or_default() += 1;
                t2.lock().unwrap().insert(key_of(m), m.store_timestamp);
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    assert!(drained(&c, &topic, 60).await);
    // The reset point: after every old message was stored; the new ones are produced once the clock
    // has passed it.
    let reset_at = stored_at.lock().unwrap().values().copied().max().unwrap() + 1;
    let now_ms = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!(eventually(Duration::from_secs(5), || async { now_ms() > reset_at }).await);
    produce(&topic, (0..20).map(|i| (format!("new{i}"), 64))).await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            seen.lock().unwrap().len() >= 50
        })
        .await
    );
    assert!(drained(&c, &topic, 30).await);
    seen.lock().unwrap().clear();

    let ns = cluster().namesrv_addr();
    let out = mqadmin(
        [
            "resetOffsetByTime",
            "-n",
            &ns,
            "-g",
            &group,
            "-t",
            &topic,
            "-s",
            &reset_at.to_string(),
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    // Exactly the messages stored at or after the reset point come again, once each.
    let want: HashSet<String> = (0..20).map(|i| format!("new{i}")).collect();
    let replayed = eventually(Duration::from_secs(60), || async {
        seen.lock().unwrap().len() >= want.len()
    })
    .await;
    assert!(replayed, "replayed {:?}\n{out}", seen.lock().unwrap());
    assert!(drained(&c, &topic, 30).await);
    let s = seen.lock().unwrap().clone();
    let got: HashSet<String> = s.keys().cloned().collect();
    assert_eq!(got, want, "{out}");
    assert!(s.values().all(|n| *n == 1), "{s:?}");
    c.shutdown().await;
}

#[tokio::test]
async fn a_listener_call_past_consume_timeout_is_sent_back_and_the_offset_moves_on() {
    let topic = topic_with_queues("ctimeout", 1).await;
    produce(&topic, (0..10).map(|i| (format!("t{i}"), 64))).await;
    let mut cfg = config(&unique("gtimeout"));
    cfg.consume_timeout = Duration::from_secs(2);
    // The first delivery of t3 blocks until released; everything else succeeds.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let deliveries: Arc<Mutex<Vec<(String, i32)>>> = Default::default();
    let d2 = deliveries.clone();
    let c = ConcurrentConsumer::builder(cfg)
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            for m in msgs {
                d2.lock().unwrap().push((key_of(m), m.reconsume_times));
                if key_of(m) == "t3" && m.reconsume_times == 0 {
                    let _ = release_rx.lock().unwrap().recv_timeout(Duration::from_secs(60));
                }
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    // While the first call is still blocked, the scan sends t3 back and the committed offset passes it;
    // the broker redelivers it (from the retry topic, after delay level 3 = 10 s) with reconsume times 1.
    assert!(drained(&c, &topic, 30).await, "{:?}", c.stats());
    let redelivered = eventually(Duration::from_secs(40), || async {
        deliveries
            .lock()
            .unwrap()
            .iter()
            .any(|(k, r)| k == "t3" && *r == 1)
    })
    .await;
    assert!(redelivered, "{:?}", deliveries.lock().unwrap());
    let d = deliveries.lock().unwrap().clone();
    let firsts: HashSet<&str> = d
        .iter()
        .filter(|(_, r)| *r == 0)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(firsts.len(), 10, "{d:?}");
    let _ = release_tx.send(());
    c.shutdown().await;
}
