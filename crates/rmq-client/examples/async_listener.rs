//! A concurrent consumer with an async listener (e.g. one that awaits a database or HTTP call).
//!
//! `cargo run -p rmq-client --example async_listener -- <topic>`
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_protocol::message::MessageExt;

async fn store(body: &[u8]) -> Result<(), String> {
    tokio::time::sleep(Duration::from_millis(5)).await; // stands in for real I/O
    if body.is_empty() {
        return Err("empty body".into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let mut config = ConsumerConfig::new("example_async_consumers");
    config.client.namesrv_addr = common::namesrv();
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let consumer = ConcurrentConsumer::builder(config)
        .subscribe(common::topic(), "*")
        // An `Err` counts as ReconsumeLater: the message comes back later with reconsume_times + 1.
        .async_listener(|msgs: Vec<MessageExt>, _ctx: ConsumeContext| async move {
            for m in &msgs {
                store(&m.body).await?;
                println!("stored {}", m.msg_id());
            }
            Ok::<_, String>(ConsumeResult::Success)
        })
        .start()
        .await?;
    tokio::time::sleep(Duration::from_secs(20)).await;
    consumer.shutdown().await;
    Ok(())
}
