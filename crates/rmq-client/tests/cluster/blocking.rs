//! The blocking producer facade, used from plain threads, against the real cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use rmq_client::blocking::BlockingProducer;
use rmq_client::producer::{Producer, SendStatus};
use rmq_client::ErrorKind;
use rmq_protocol::message::Message;

#[test]
fn blocking_producer_sends_from_plain_threads() {
    let ns = support::cluster().namesrv_addr();
    // Topic creation uses the async admin API on a throwaway runtime.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topic = rt.block_on(support::topic_with_queues("blocking", 2));
    drop(rt);

    let producer = BlockingProducer::start(Producer::builder(support::unique("bp")).name_server(ns)).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let p = producer.clone();
            let topic = topic.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| p.send(Message::new(&topic, format!("{t}-{i}"))).unwrap())
                    .filter(|r| r.status == SendStatus::SendOk)
                    .count()
            })
        })
        .collect();
    let ok: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(ok, 100);
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(support::pull_topic(&topic)).len(), 100);

    // Inside an async runtime the blocking API refuses with a typed error instead of deadlocking.
    let err = rt
        .block_on(async { producer.send(Message::new(&topic, "x")) })
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err:?}");
    drop(rt);
    producer.shutdown();
}

#[test]
fn blocking_consumer_receives_on_its_own_threads() {
    use rmq_client::blocking::BlockingConsumer;
    use rmq_client::consumer::{
        ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
    };
    use rmq_protocol::message::MessageExt;
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    let ns = support::cluster().namesrv_addr();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topic = rt.block_on(support::topic_with_queues("blockingc", 2));
    drop(rt);
    let producer =
        BlockingProducer::start(Producer::builder(support::unique("bp")).name_server(&ns)).unwrap();
    for i in 0..100 {
        producer.send(Message::new(&topic, format!("m-{i}"))).unwrap();
    }
    producer.shutdown();

    let mut config = ConsumerConfig::new(support::unique("bc"));
    config.client.namesrv_addr = ns;
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx = std::sync::Mutex::new(tx);
    let consumer = BlockingConsumer::start(
        ConcurrentConsumer::builder(config)
            .subscribe(&topic, "*")
            .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
                let tx = tx.lock().unwrap();
                for m in msgs {
                    tx.send(String::from_utf8_lossy(&m.body).into_owned()).unwrap();
                }
                ConsumeResult::Success
            }),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = HashSet::new();
    while seen.len() < 100 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(body) => {
                seen.insert(body);
            }
            Err(e) => panic!("only {} of 100 messages arrived: {e}", seen.len()),
        }
    }
    assert!((0..100).all(|i| seen.contains(&format!("m-{i}"))));
    // The listener reports a message before the consumer counts its call: poll the counter.
    let ok = |c: &BlockingConsumer| c.stats().topics.get(&topic).map_or(0, |t| t.consumed_ok);
    while ok(&consumer) < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ok(&consumer), 100, "{:?}", consumer.stats());
    consumer.shutdown();
}

#[test]
fn blocking_orderly_consumer_keeps_queue_order() {
    use rmq_client::blocking::BlockingOrderlyConsumer;
    use rmq_client::consumer::{
        ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumerConfig, OrderlyConsumer,
    };
    use rmq_protocol::message::MessageExt;
    use std::time::{Duration, Instant};

    let ns = support::cluster().namesrv_addr();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topic = rt.block_on(support::topic_with_queues("blockingo", 1));
    drop(rt);
    let producer =
        BlockingProducer::start(Producer::builder(support::unique("bp")).name_server(&ns)).unwrap();
    for i in 0..50 {
        producer.send(Message::new(&topic, format!("{i}"))).unwrap();
    }
    producer.shutdown();

    let mut config = ConsumerConfig::new(support::unique("bo"));
    config.client.namesrv_addr = ns;
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let (tx, rx) = std::sync::mpsc::channel::<(String, i64)>();
    let tx = std::sync::Mutex::new(tx);
    let consumer =
        BlockingOrderlyConsumer::start(OrderlyConsumer::builder(config).subscribe(&topic, "*").listener(
            move |msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
                let tx = tx.lock().unwrap();
                for m in msgs {
                    let body = String::from_utf8_lossy(&m.body).into_owned();
                    tx.send((
                        format!("{}:{body}", ctx.message_queue().broker_name),
                        m.queue_offset,
                    ))
                    .unwrap();
                }
                ConsumeOrderlyResult::Success
            },
        ))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < 50 {
        let left = deadline.saturating_duration_since(Instant::now());
        got.push(
            rx.recv_timeout(left)
                .unwrap_or_else(|e| panic!("{} of 50: {e}", got.len())),
        );
    }
    consumer.shutdown();
    // Two queues (one per broker): within each, offsets strictly increase.
    let mut last: std::collections::HashMap<String, i64> = Default::default();
    for (queue_body, offset) in &got {
        let broker = queue_body.split(':').next().unwrap().to_owned();
        if let Some(prev) = last.insert(broker.clone(), *offset) {
            assert!(*offset > prev, "{broker}: offset {offset} after {prev}");
        }
    }
}
