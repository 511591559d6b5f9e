//! Send messages: one at a time, in a batch, and keyed so that each key keeps its order.
//!
//! `cargo run -p rmq-client --example producer -- <topic>`
#![allow(clippy::print_stdout)]

mod common;

use rmq_client::producer::{Producer, SelectByHash};
use rmq_protocol::message::Message;

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let topic = common::topic();
    let producer = Producer::builder("example_producer")
        .name_server(common::namesrv())
        .start()
        .await?;

    let r = producer
        .send(
            Message::new(&topic, "hello")
                .with_tags("greeting")
                .with_keys(["order-1"]),
        )
        .await?;
    println!("sent {} to {} at offset {}", r.msg_id, r.queue, r.queue_offset);

    let batch = (0..10)
        .map(|i| Message::new(&topic, format!("batch #{i}")))
        .collect();
    let r = producer.send_batch(batch).await?;
    println!("batch stored from offset {} of {}", r.queue_offset, r.queue);

    // Same key, same queue: an orderly consumer sees these in this order.
    for step in ["created", "paid", "shipped"] {
        let msg = Message::new(&topic, step).with_keys(["order-42"]);
        producer
            .send_with_selector(msg, &SelectByHash::java_compatible())
            .await?;
    }
    producer.shutdown().await;
    Ok(())
}
