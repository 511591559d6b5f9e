//! BROADCASTING push consumers against the real cluster: every instance gets every message, offsets in
//! local files that survive restarts and damage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig, MessageModel,
};
use rmq_client::producer::Producer;
use rmq_protocol::message::{Message, MessageExt};

type Seen = Arc<Mutex<HashMap<String, usize>>>;

fn offsets_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rmq-bcast-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(group: &str, instance: &str, dir: &Path, from: ConsumeFromWhere) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c.client.instance_name = instance.to_owned();
    c.message_model = MessageModel::Broadcasting;
    c.consume_from_where = from;
    c.offset_store_path = dir.to_owned();
    c.persist_interval = Duration::from_secs(1);
    c
}

async fn start(cfg: ConsumerConfig, topic: &str, seen: Seen) -> ConcurrentConsumer {
    ConcurrentConsumer::builder(cfg)
        .subscribe(topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            let mut s = seen.lock().unwrap();
            for m in msgs {
                *s.entry(String::from_utf8_lossy(&m.body).into_owned())
                    .or_default() += 1;
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap()
}

async fn produce(topic: &str, prefix: &str, n: usize) {
    let p = Producer::builder(unique("bp"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let msgs = chunk
            .iter()
            .map(|i| Message::new(topic, format!("{prefix}{i}")))
            .collect();
        p.send_batch(msgs).await.unwrap();
    }
    p.shutdown().await;
}

/// Wait until `c` holds every queue of `topic` and its offsets reached each queue's end.
async fn caught_up(c: &ConcurrentConsumer, topic: &str) -> bool {
    eventually(Duration::from_secs(60), || async {
        let s = c.stats();
        let qs: Vec<_> = s.queues.iter().filter(|(q, _)| q.topic == topic).collect();
        qs.len() == 4
            && qs
                .iter()
                .all(|(_, q)| q.broker_max_offset >= 0 && q.committed_offset == q.broker_max_offset)
    })
    .await
}

fn count(seen: &Seen, prefix: &str) -> usize {
    seen.lock()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with(prefix))
        .count()
}

fn assert_exactly_once(seen: &Seen, prefix: &str, n: usize) {
    let s = seen.lock().unwrap();
    for i in 0..n {
        assert_eq!(s.get(&format!("{prefix}{i}")), Some(&1), "{prefix}{i}");
    }
}

#[tokio::test]
async fn every_instance_gets_every_message_once_and_a_late_one_starts_at_its_position() {
    let topic = topic_with_queues("bc", 2).await;
    let group = unique("gbc");
    let dir = offsets_dir("all");
    produce(&topic, "m", 10_000).await;
    let seen: Vec<Seen> = (0..3).map(|_| Seen::default()).collect();
    let mut consumers = Vec::new();
    for (i, s) in seen.iter().enumerate() {
        let cfg = config(
            &group,
            &format!("b{i}"),
            &dir,
            ConsumeFromWhere::ConsumeFromFirstOffset,
        );
        consumers.push(start(cfg, &topic, s.clone()).await);
    }
    for (c, s) in consumers.iter().zip(&seen) {
        assert!(caught_up(c, &topic).await, "{:?}", c.stats());
        assert_eq!(count(s, "m"), 10_000);
        assert_exactly_once(s, "m", 10_000);
    }
    // A fourth instance with LAST_OFFSET sees only what is produced after it started.
    let late: Seen = Default::default();
    let c4 = start(
        config(&group, "b3", &dir, ConsumeFromWhere::ConsumeFromLastOffset),
        &topic,
        late.clone(),
    )
    .await;
    assert!(caught_up(&c4, &topic).await);
    produce(&topic, "n", 100).await;
    for (c, s) in consumers.iter().chain([&c4]).zip(seen.iter().chain([&late])) {
        assert!(caught_up(c, &topic).await);
        assert!(eventually(Duration::from_secs(30), || async { count(s, "n") == 100 }).await);
        assert_exactly_once(s, "n", 100);
    }
    assert_eq!(count(&late, "m"), 0, "the late instance read the old backlog");
    for c in consumers.iter().chain([&c4]) {
        c.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_restarted_instance_resumes_from_its_file_and_survives_damage() {
    let topic = topic_with_queues("bcr", 2).await;
    let group = unique("gbcr");
    let dir = offsets_dir("restart");
    let cfg = || config(&group, "r0", &dir, ConsumeFromWhere::ConsumeFromFirstOffset);
    produce(&topic, "a", 1_000).await;
    let seen: Seen = Default::default();
    let c = start(cfg(), &topic, seen.clone()).await;
    assert!(caught_up(&c, &topic).await);
    c.shutdown().await;
    assert_exactly_once(&seen, "a", 1_000);

    // Restart: nothing old again, the new ones once.
    produce(&topic, "b", 500).await;
    seen.lock().unwrap().clear();
    let c = start(cfg(), &topic, seen.clone()).await;
    assert!(caught_up(&c, &topic).await);
    c.shutdown().await;
    assert_eq!(count(&seen, "a"), 0, "resumed from the local offsets");
    assert_exactly_once(&seen, "b", 500);

    // Truncated file: the backup (one persist older) is used — at most what came since is repeated.
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flat_map(|client| std::fs::read_dir(client.unwrap().path()).unwrap())
        .map(|g| g.unwrap().path().join("offsets.json"))
        .find(|p| p.exists())
        .expect("the offset file exists");
    let full = std::fs::read(&file).unwrap();
    std::fs::write(&file, &full[..full.len() / 3]).unwrap();
    produce(&topic, "c", 200).await;
    seen.lock().unwrap().clear();
    let c = start(cfg(), &topic, seen.clone()).await;
    assert!(caught_up(&c, &topic).await);
    c.shutdown().await;
    assert_eq!(
        count(&seen, "a"),
        0,
        "the backup was not older than the first run"
    );
    assert_exactly_once(&seen, "c", 200);

    // Garbage in both files: start from consume_from_where (FIRST: everything again), no crash.
    std::fs::write(&file, b"\x00garbage").unwrap();
    std::fs::write(file.with_extension("json.bak"), b"{{{").unwrap();
    seen.lock().unwrap().clear();
    let c = start(cfg(), &topic, seen.clone()).await;
    assert!(caught_up(&c, &topic).await);
    c.shutdown().await;
    assert_exactly_once(&seen, "a", 1_000);
    assert_exactly_once(&seen, "c", 200);
    // ... and the file is good again.
    assert!(std::fs::read(&file).unwrap().starts_with(b"{\"offsetTable\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn orderly_broadcast_instances_each_read_every_queue_in_order_without_locks() {
    use rmq_client::consumer::{ConsumeOrderlyContext, ConsumeOrderlyResult, OrderlyConsumer};
    let topic = topic_with_queues("bco", 2).await;
    let group = unique("gbco");
    let dir = offsets_dir("orderly");
    produce(&topic, "o", 400).await;
    // Per instance: (queue, offset) in delivery order.
    type Log = Arc<Mutex<Vec<(String, i64)>>>;
    let logs: Vec<Log> = (0..2).map(|_| Default::default()).collect();
    let mut consumers = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        let log = log.clone();
        let c = OrderlyConsumer::builder(config(
            &group,
            &format!("o{i}"),
            &dir,
            ConsumeFromWhere::ConsumeFromFirstOffset,
        ))
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
            let q = ctx.message_queue().to_string();
            log.lock()
                .unwrap()
                .extend(msgs.iter().map(|m| (q.clone(), m.queue_offset)));
            ConsumeOrderlyResult::Success
        })
        .start()
        .await
        .unwrap();
        consumers.push(c);
    }
    for log in &logs {
        assert!(
            eventually(Duration::from_secs(60), || async {
                log.lock().unwrap().len() >= 400
            })
            .await
        );
    }
    for c in &consumers {
        c.shutdown().await;
    }
    for log in &logs {
        let l = log.lock().unwrap();
        assert_eq!(l.len(), 400, "each instance reads every message once");
        let mut last: HashMap<&str, i64> = HashMap::new();
        for (q, o) in l.iter() {
            if let Some(prev) = last.insert(q.as_str(), *o) {
                assert_eq!(*o, prev + 1, "{q}: {o} after {prev}");
            }
        }
        assert_eq!(last.len(), 4, "all four queues");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
