//! The lite pull consumer against the real cluster: assign + seek, subscribe with a rebalance,
//! uncommitted polls redelivered after a restart, pause/resume, commit_sync and committed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use rmq_client::consumer::{ConsumeFromWhere, ConsumerConfig, LitePullConsumer};
use rmq_client::producer::Producer;
use rmq_protocol::message::{Message, MessageExt, MessageQueue};

fn config(group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    c
}

async fn produce(topic: &str, prefix: &str, n: usize) {
    let p = Producer::builder(unique("lp"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let msgs = chunk
            .iter()
            .map(|i| Message::new(topic, format!("{prefix}{i}")))
            .collect();
        p.send_batch(msgs).await.unwrap();
    }
    p.shutdown().await;
}

async fn queues(topic: &str) -> Vec<MessageQueue> {
    admin().topic_route(topic).await.unwrap().subscribe_queues.clone()
}

fn body(m: &MessageExt) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

#[tokio::test]
async fn assign_seek_and_poll_read_exactly_the_requested_range() {
    let topic = topic_with_queues("lpa", 1).await;
    produce(&topic, "m", 200).await;
    let qs = queues(&topic).await;
    let q = qs[0].clone();
    let c = LitePullConsumer::builder(config(&unique("glpa")))
        .assign(vec![q.clone()])
        .auto_commit(false)
        .start()
        .await
        .unwrap();
    c.seek(&q, 10).await.unwrap();
    let mut got: Vec<i64> = Vec::new();
    while got.last().is_none_or(|o| *o < 29) {
        let msgs = c.poll(Duration::from_secs(10)).await;
        assert!(!msgs.is_empty(), "poll timed out after {got:?}");
        for m in msgs {
            assert_eq!(m.queue_id, q.queue_id);
            got.push(m.queue_offset);
        }
    }
    got.retain(|o| *o < 30);
    assert_eq!(got, (10..30).collect::<Vec<i64>>());
    assert_eq!(c.assignment(), vec![q.clone()]);

    // seek_to_end: nothing more until new messages; offset_for_timestamp(0) is the queue start.
    c.seek_to_end(&q).await.unwrap();
    assert!(c.poll(Duration::from_millis(500)).await.is_empty());
    assert_eq!(c.offset_for_timestamp(&q, 0).await.unwrap(), 0);
    c.seek_to_begin(&q).await.unwrap();
    let first = c.poll(Duration::from_secs(10)).await;
    assert_eq!(first.first().map(|m| m.queue_offset), Some(0));

    // commit_sync stores exactly the offset after the last polled message.
    c.commit_sync().await.unwrap();
    let last = first.last().unwrap().queue_offset;
    assert_eq!(c.committed(&q).await.unwrap(), Some(last + 1));

    // The stream continues right after what poll returned.
    let mut stream = c.stream();
    let next =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), cx)).await;
    assert_eq!(next.map(|m| m.queue_offset), Some(last + 1));
    c.shutdown().await;
}

#[tokio::test]
async fn two_subscribed_pull_consumers_split_queues_and_lose_nothing() {
    let topic = topic_with_queues("lps", 8).await;
    let n = 4_000;
    produce(&topic, "s", n).await;
    let group = unique("glps");
    let seen: Arc<Mutex<HashMap<String, usize>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let spawn_poller = |c: LitePullConsumer| {
        let (seen, stop) = (seen.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for m in c.poll(Duration::from_millis(200)).await {
                    *seen.lock().unwrap().entry(body(&m)).or_default() += 1;
                    // slow enough that the second consumer joins mid-stream
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            c
        })
    };
    let mut cfg_a = config(&group);
    cfg_a.client.instance_name = "a".into();
    let a = LitePullConsumer::builder(cfg_a)
        .subscribe(&topic, "*")
        .start()
        .await
        .unwrap();
    let ta = spawn_poller(a.clone());
    assert!(
        eventually(Duration::from_secs(60), || async {
            seen.lock().unwrap().len() >= 500
        })
        .await
    );
    let mut cfg_b = config(&group);
    cfg_b.client.instance_name = "b".into();
    let b = LitePullConsumer::builder(cfg_b)
        .subscribe(&topic, "*")
        .start()
        .await
        .unwrap();
    let tb = spawn_poller(b.clone());
    let done = eventually(Duration::from_secs(90), || async {
        seen.lock().unwrap().len() >= n
    })
    .await;
    let split = eventually(Duration::from_secs(30), || async {
        let (qa, qb): (HashSet<_>, HashSet<_>) = (
            a.assignment().into_iter().collect(),
            b.assignment().into_iter().collect(),
        );
        qa.len() == 8 && qb.len() == 8 && qa.is_disjoint(&qb)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let (a, b) = (ta.await.unwrap(), tb.await.unwrap());
    let s = seen.lock().unwrap().clone();
    assert!(done, "received {} of {n}", s.len());
    assert!((0..n).all(|i| s.contains_key(&format!("s{i}"))));
    assert!(split, "assignments: {:?} / {:?}", a.assignment(), b.assignment());
    let dups: usize = s.values().map(|c| c - 1).sum();
    eprintln!("lite pull rebalance: {n} messages, {dups} duplicates");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn polled_but_uncommitted_messages_come_again_after_restart() {
    let topic = topic_with_queues("lpu", 1).await;
    produce(&topic, "u", 100).await;
    let group = unique("glpu");
    let start = || async {
        LitePullConsumer::builder(config(&group))
            .subscribe(&topic, "*")
            .auto_commit(false)
            .start()
            .await
            .unwrap()
    };
    let c = start().await;
    let mut first: BTreeMap<String, i64> = BTreeMap::new();
    while first.len() < 100 {
        let msgs = c.poll(Duration::from_secs(10)).await;
        assert!(!msgs.is_empty());
        first.extend(msgs.iter().map(|m| (body(m), m.queue_offset)));
    }
    c.shutdown().await;
    let c = start().await;
    let mut again: BTreeMap<String, i64> = BTreeMap::new();
    while again.len() < 100 {
        let msgs = c.poll(Duration::from_secs(10)).await;
        assert!(!msgs.is_empty(), "only {} came again", again.len());
        again.extend(msgs.iter().map(|m| (body(m), m.queue_offset)));
    }
    assert_eq!(again, first);
    // Now commit them: a third run gets nothing old.
    c.commit_sync().await.unwrap();
    c.shutdown().await;
    let c = start().await;
    assert!(c.poll(Duration::from_secs(2)).await.is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn pause_and_resume_stop_and_restart_only_those_queues() {
    let topic = topic_with_queues("lpp", 1).await;
    produce(&topic, "p", 200).await;
    let qs = queues(&topic).await;
    assert_eq!(qs.len(), 2);
    let (paused, open) = (qs[0].clone(), qs[1].clone());
    // One queue per broker: a message's store host tells its queue.
    let open_host = cluster().broker_addr(&open.broker_name).unwrap();
    let c = LitePullConsumer::builder(config(&unique("glpp")))
        .assign(qs.clone())
        .start()
        .await
        .unwrap();
    // Wait until both queues are held, then pause one.
    assert!(eventually(Duration::from_secs(10), || async { c.assignment().len() == 2 }).await);
    c.pause(std::slice::from_ref(&paused));
    let total_open = admin().max_offset(&open).await.unwrap() as usize;
    let mut from_open = 0;
    while from_open < total_open {
        let msgs = c.poll(Duration::from_secs(10)).await;
        assert!(
            !msgs.is_empty(),
            "open queue stalled at {from_open} of {total_open}"
        );
        for m in &msgs {
            assert_eq!(m.store_host.to_string(), open_host, "a paused queue delivered");
        }
        from_open += msgs.len();
    }
    assert!(
        c.poll(Duration::from_millis(500)).await.is_empty(),
        "only the paused queue is left"
    );
    c.resume(std::slice::from_ref(&paused));
    let total_paused = admin().max_offset(&paused).await.unwrap() as usize;
    let mut from_paused = 0;
    while from_paused < total_paused {
        let msgs = c.poll(Duration::from_secs(10)).await;
        assert!(!msgs.is_empty(), "resumed queue stalled at {from_paused}");
        from_paused += msgs.len();
    }
    assert_eq!(from_open + from_paused, 200);
    c.shutdown().await;
}
