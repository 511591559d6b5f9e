//! The blocking producer facade, used from plain threads, against the real cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

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
