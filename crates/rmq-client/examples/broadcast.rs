//! Broadcasting: every running instance receives every message; offsets live in a local file.
//! Run it twice with different instance names to see both receive everything:
//!
//! `INSTANCE=a cargo run -p rmq-client --example broadcast -- <topic>`
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use rmq_client::consumer::{ConcurrentConsumer, ConsumeContext, ConsumeResult, ConsumerConfig, MessageModel};
use rmq_protocol::message::MessageExt;

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let instance = std::env::var("INSTANCE").unwrap_or_else(|_| "a".to_owned());
    let mut config = ConsumerConfig::new("example_broadcast");
    config.client.namesrv_addr = common::namesrv();
    config.client.instance_name = instance.clone(); // keeps the offset file the same across restarts
    config.message_model = MessageModel::Broadcasting;
    let consumer = ConcurrentConsumer::builder(config)
        .subscribe(common::topic(), "*")
        .listener(move |msgs: &[MessageExt], _ctx: &mut ConsumeContext| {
            for m in msgs {
                println!("[{instance}] {}", String::from_utf8_lossy(&m.body));
            }
            ConsumeResult::Success
        })
        .start()
        .await?;
    tokio::time::sleep(Duration::from_secs(20)).await;
    consumer.shutdown().await;
    Ok(())
}
