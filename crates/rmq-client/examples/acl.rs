//! Produce and consume on a cluster with ACL on: every request is signed with an access key and secret,
//! like the Java client's `AclClientRPCHook`.
//!
//! `ACCESS_KEY=alice SECRET_KEY=... cargo run -p rmq-client --example acl -- <topic>`
//!
//! The user needs `Pub` and `Sub` on the topic and `Sub` on the group `example_acl_group` (RocketMQ 5:
//! `mqadmin createUser` / `createAcl`). A wrong secret fails with `ErrorKind::AuthFailed`, a missing
//! permission with `ErrorKind::PermissionDenied`; neither is retried.
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use rmq_client::acl::Credentials;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeResult, ConsumerConfig, MessageSelector,
};
use rmq_client::producer::Producer;
use rmq_client::{ClientConfig, ErrorKind};
use rmq_protocol::message::{Message, MessageExt};

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let topic = common::topic();
    let access_key = std::env::var("ACCESS_KEY").unwrap_or_else(|_| "rocketmq2".to_owned());
    let secret_key = std::env::var("SECRET_KEY").unwrap_or_else(|_| "12345678".to_owned());
    // The secret never shows up in Debug output, logs or errors.
    let client =
        ClientConfig::new(common::namesrv()).with_credentials(Credentials::new(access_key, secret_key));
    println!("{client:?}");

    let producer = Producer::builder("example_acl_producer")
        .client_config(client.clone())
        .start()
        .await?;
    match producer.send(Message::new(&topic, "signed hello")).await {
        Ok(r) => println!("sent {} to {}", r.msg_id, r.queue),
        Err(e) if matches!(e.kind(), ErrorKind::AuthFailed { .. }) => println!("bad credentials: {e}"),
        Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied { .. }) => println!("not allowed: {e}"),
        Err(e) => return Err(e),
    }
    producer.shutdown().await;

    let mut config = ConsumerConfig::new("example_acl_group");
    config.client = client;
    let consumer = ConcurrentConsumer::builder(config)
        .subscribe(&topic, MessageSelector::all())
        .listener(|msgs: &[MessageExt], _: &mut ConsumeContext| {
            for m in msgs {
                println!("received {}", String::from_utf8_lossy(&m.body));
            }
            ConsumeResult::Success
        })
        .start()
        .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    consumer.shutdown().await;
    Ok(())
}
