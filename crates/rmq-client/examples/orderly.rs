//! An orderly consumer: each queue (so each sharding key) is consumed in order, by one consumer at a time.
//!
//! `cargo run -p rmq-client --example orderly -- <topic>`
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use rmq_client::consumer::{
    ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumerConfig, OrderlyConsumer,
};
use rmq_protocol::message::MessageExt;

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let mut config = ConsumerConfig::new("example_orderly");
    config.client.namesrv_addr = common::namesrv();
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let consumer = OrderlyConsumer::builder(config)
        .subscribe(common::topic(), "*")
        .listener(|msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
            for m in msgs {
                println!(
                    "{} #{}: {}",
                    ctx.message_queue(),
                    m.queue_offset,
                    String::from_utf8_lossy(&m.body)
                );
            }
            // SuspendCurrentQueueAMoment would pause this queue and deliver the same messages again.
            ConsumeOrderlyResult::Success
        })
        .start()
        .await?;
    tokio::time::sleep(Duration::from_secs(20)).await;
    consumer.shutdown().await; // releases the queue locks so another consumer takes over at once
    Ok(())
}
