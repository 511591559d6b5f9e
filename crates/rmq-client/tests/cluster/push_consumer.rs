//! The concurrent push consumer against the real cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig, MessageSelector,
};
use rmq_client::producer::Producer;
use rmq_client::ErrorKind;
use rmq_protocol::message::{Message, MessageExt};
use rmq_protocol::ResponseCode;

type Seen = Arc<Mutex<HashMap<String, usize>>>;

fn config(group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    c.persist_interval = Duration::from_secs(1);
    c
}

async fn start_counting(
    cfg: ConsumerConfig,
    topic: &str,
    selector: MessageSelector,
    seen: Seen,
) -> ConcurrentConsumer {
    ConcurrentConsumer::builder(cfg)
        .subscribe(topic, selector)
        .listener(move |msgs: &[MessageExt], _ctx: &mut ConsumeContext| {
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

async fn produce(topic: &str, n: usize, prefix: &str, tag: impl Fn(usize) -> String) {
    let p = Producer::builder(unique("cp"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let msgs = chunk
            .iter()
            .map(|i| Message::new(topic, format!("{prefix}-{i}")).with_tags(tag(*i)))
            .collect();
        p.send_batch(msgs).await.unwrap();
    }
    p.shutdown().await;
}

/// Wait until `group` has committed every queue of `topic` up to its end: everything stored was pulled,
/// filtered and consumed (a condition on the broker, not a sleep).
async fn wait_committed(group: &str, topic: &str) -> bool {
    let admin = admin();
    let route = admin.topic_route(topic).await.unwrap();
    eventually(Duration::from_secs(30), || async {
        for mq in &route.subscribe_queues {
            let max = admin.max_offset(mq).await.unwrap();
            if admin
                .query_consumer_offset(group, mq)
                .await
                .ok()
                .flatten()
                .unwrap_or(-1)
                < max
            {
                return false;
            }
        }
        true
    })
    .await
}

async fn wait_for(seen: &Seen, n: usize, secs: u64) -> bool {
    eventually(Duration::from_secs(secs), || async {
        seen.lock().unwrap().len() >= n
    })
    .await
}

#[tokio::test]
async fn ten_thousand_messages_all_received_none_twice() {
    let topic = topic_with_queues("c10k", 8).await;
    produce(&topic, 10_000, "m", |_| "t".into()).await;
    let seen: Seen = Default::default();
    let c = start_counting(
        config(&unique("g10k")),
        &topic,
        MessageSelector::all(),
        seen.clone(),
    )
    .await;
    assert!(
        wait_for(&seen, 10_000, 90).await,
        "received {}",
        seen.lock().unwrap().len()
    );
    c.shutdown().await;
    let s = seen.lock().unwrap();
    assert_eq!(s.len(), 10_000);
    let dups: usize = s.values().map(|c| c - 1).sum();
    assert_eq!(dups, 0, "duplicates delivered");
}

#[tokio::test]
async fn tag_and_sql_filters_deliver_exactly_the_matching_subset() {
    let topic = topic_with_queues("cfilter", 2).await;
    produce(&topic, 300, "f", |i| ["A", "B", "C"][i % 3].to_owned()).await;
    let seen: Seen = Default::default();
    let group = unique("gtag");
    let c = start_counting(config(&group), &topic, "A || C".into(), seen.clone()).await;
    assert!(wait_for(&seen, 200, 60).await);
    assert!(
        wait_committed(&group, &topic).await,
        "offsets never reached the end of the queues"
    );
    c.shutdown().await;
    let s = seen.lock().unwrap().clone();
    let want: Vec<String> = (0..300)
        .filter(|i| i % 3 != 1)
        .map(|i| format!("f-{i}"))
        .collect();
    assert_eq!(s.len(), want.len());
    assert!(want.iter().all(|w| s.contains_key(w)));

    // SQL92 on user properties (the test brokers run with enablePropertyFilter=true).
    let sql_topic = topic_with_queues("csql", 2).await;
    let p = Producer::builder(unique("sqlp"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    for i in 0..60 {
        let mut m = Message::new(&sql_topic, format!("s-{i}"));
        m.put_user_property("color", if i % 2 == 0 { "red" } else { "blue" })
            .unwrap();
        m.put_user_property("price", (i * 10).to_string()).unwrap();
        p.send(m).await.unwrap();
    }
    p.shutdown().await;
    let seen: Seen = Default::default();
    let sel = MessageSelector::sql("color = 'red' AND price > 100");
    let c = start_counting(config(&unique("gsql")), &sql_topic, sel, seen.clone()).await;
    let want: Vec<String> = (0..60)
        .filter(|i| i % 2 == 0 && i * 10 > 100)
        .map(|i| format!("s-{i}"))
        .collect();
    assert!(
        wait_for(&seen, want.len(), 60).await,
        "got {:?}",
        seen.lock().unwrap().keys().collect::<Vec<_>>()
    );
    c.shutdown().await;
    let s = seen.lock().unwrap();
    assert_eq!(s.len(), want.len(), "{:?}", s.keys().collect::<Vec<_>>());
    assert!(want.iter().all(|w| s.contains_key(w)));
}

#[tokio::test]
async fn invalid_sql92_expression_fails_start_with_the_brokers_parse_error() {
    let topic = topic_with_queues("cbadsql", 1).await;
    let e = ConcurrentConsumer::builder(config(&unique("gbadsql")))
        .subscribe(&topic, MessageSelector::sql("color = = 'red'"))
        .listener(|_: &[MessageExt], _: &mut ConsumeContext| ConsumeResult::Success)
        .start()
        .await
        .unwrap_err();
    match e.kind() {
        ErrorKind::Broker { code, remark } => {
            assert_eq!(*code, ResponseCode::SUBSCRIPTION_PARSE_FAILED, "{e}");
            let remark = remark.as_deref().unwrap_or_default();
            assert!(
                remark.contains("ParseException: Encountered"),
                "not the SQL parser's message: {e}"
            );
        }
        other => panic!("expected the broker's refusal, got {other:?} ({e})"),
    }
}

#[tokio::test]
async fn restart_continues_where_it_stopped_without_duplicates() {
    let topic = topic_with_queues("crestart", 4).await;
    let group = unique("grestart");
    produce(&topic, 1_000, "first", |_| "t".into()).await;
    let seen: Seen = Default::default();
    let c = start_counting(config(&group), &topic, MessageSelector::all(), seen.clone()).await;
    assert!(wait_for(&seen, 1_000, 60).await);
    c.shutdown().await;

    produce(&topic, 1_000, "second", |_| "t".into()).await;
    let again: Seen = Default::default();
    let c = start_counting(config(&group), &topic, MessageSelector::all(), again.clone()).await;
    assert!(
        wait_for(&again, 1_000, 60).await,
        "received {}",
        again.lock().unwrap().len()
    );
    c.shutdown().await;
    let s = again.lock().unwrap();
    let old: Vec<&String> = s.keys().filter(|k| k.starts_with("first")).collect();
    assert!(
        old.is_empty(),
        "{} messages of the first run delivered again",
        old.len()
    );
    assert_eq!(s.len(), 1_000);
    assert_eq!(s.values().filter(|c| **c > 1).count(), 0);
}

#[tokio::test]
async fn failed_messages_come_back_with_increasing_reconsume_times() {
    let topic = topic_with_queues("cretry", 1).await;
    let p = Producer::builder(unique("rp"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    p.send(Message::new(&topic, "flaky")).await.unwrap();
    p.shutdown().await;
    let attempts: Arc<Mutex<Vec<i32>>> = Default::default();
    let a = attempts.clone();
    let expected_topic = topic.clone();
    let c = ConcurrentConsumer::builder(config(&unique("gretry")))
        .subscribe(&topic, MessageSelector::all())
        .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeContext| {
            let mut a = a.lock().unwrap();
            a.push(msgs[0].reconsume_times);
            // Retried messages come from %RETRY%group; the listener sees the original topic.
            assert_eq!(msgs[0].topic, expected_topic);
            if a.len() <= 2 {
                ctx.set_delay_level_when_next_consume(1); // 1 s instead of the default 10 s / 30 s
                ConsumeResult::ReconsumeLater
            } else {
                ConsumeResult::Success
            }
        })
        .start()
        .await
        .unwrap();
    let done = eventually(Duration::from_secs(60), || async {
        attempts.lock().unwrap().len() >= 3
    })
    .await;
    c.shutdown().await;
    assert!(done, "attempts: {:?}", attempts.lock().unwrap());
    assert_eq!(*attempts.lock().unwrap(), vec![0, 1, 2]);
}
