//! A concurrent push consumer: prints messages for 30 s (or until Ctrl-C), then shuts down cleanly.
//!
//! `cargo run -p rmq-client --example consumer -- <topic>`
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_protocol::message::MessageExt;

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let mut config = ConsumerConfig::new("example_consumers");
    config.client.namesrv_addr = common::namesrv();
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let consumer = ConcurrentConsumer::builder(config)
        .subscribe(common::topic(), "*")
        .listener(|msgs: &[MessageExt], ctx: &mut ConsumeContext| {
            for m in msgs {
                println!(
                    "{} {} {}",
                    ctx.message_queue(),
                    m.queue_offset,
                    String::from_utf8_lossy(&m.body)
                );
            }
            ConsumeResult::Success
        })
        .start()
        .await?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {}
    }
    let stats = consumer.stats();
    for (topic, t) in &stats.topics {
        println!(
            "{topic}: {} consumed, {:.1} msgs/s",
            t.consumed_ok, t.consume_ok_tps
        );
    }
    consumer.shutdown().await;
    Ok(())
}
