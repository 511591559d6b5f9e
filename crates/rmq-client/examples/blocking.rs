//! The blocking API, for programs without an async runtime.
//!
//! `cargo run -p rmq-client --example blocking -- <topic>`
#![allow(clippy::print_stdout)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use rmq_client::blocking::{BlockingConsumer, BlockingProducer};
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_client::producer::Producer;
use rmq_protocol::message::{Message, MessageExt};

fn main() -> rmq_client::Result<()> {
    let topic = common::topic();
    let producer =
        BlockingProducer::start(Producer::builder("example_blocking").name_server(common::namesrv()))?;
    for i in 0..5 {
        let r = producer.send(Message::new(&topic, format!("blocking #{i}")))?;
        println!("sent {}", r.msg_id);
    }
    producer.shutdown();

    let mut config = ConsumerConfig::new("example_blocking_consumers");
    config.client.namesrv_addr = common::namesrv();
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let consumer = BlockingConsumer::start(
        ConcurrentConsumer::builder(config)
            .subscribe(&topic, "*")
            .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
                if let Ok(tx) = tx.lock() {
                    for m in msgs {
                        let _ = tx.send(String::from_utf8_lossy(&m.body).into_owned());
                    }
                }
                ConsumeResult::Success
            }),
    )?;
    while let Ok(body) = rx.recv_timeout(Duration::from_secs(10)) {
        println!("received {body}");
    }
    consumer.shutdown();
    Ok(())
}
