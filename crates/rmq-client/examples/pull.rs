//! A lite pull consumer: the program asks for messages and commits what it processed.
//!
//! `cargo run -p rmq-client --example pull -- <topic>`
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use rmq_client::consumer::{ConsumeFromWhere, ConsumerConfig, LitePullConsumer};

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let mut config = ConsumerConfig::new("example_pull");
    config.client.namesrv_addr = common::namesrv();
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let consumer = LitePullConsumer::builder(config)
        .subscribe(common::topic(), "*")
        .auto_commit(false)
        .start()
        .await?;
    let mut total = 0;
    loop {
        let msgs = consumer.poll(Duration::from_secs(3)).await;
        if msgs.is_empty() {
            break; // nothing for 3 s
        }
        total += msgs.len();
        for m in &msgs {
            println!("{} {}", m.queue_offset, String::from_utf8_lossy(&m.body));
        }
        consumer.commit_sync().await?; // exactly what poll returned
    }
    println!("{total} messages");
    consumer.shutdown().await;
    Ok(())
}
