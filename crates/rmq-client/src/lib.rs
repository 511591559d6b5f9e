//! An Apache RocketMQ client for Rust, speaking the remoting protocol byte-for-byte like the Java client.
//!
//! Producers and consumers built with this crate share topics, producer groups and consumer groups with
//! Java and Go clients of RocketMQ 4.9 / 5.x: the same queue allocation, offsets, retry and dead-letter
//! topics, transaction checks and ACL signatures.
//!
//! # Quick start
//!
//! Send a message and consume it back (a name server on `127.0.0.1:9876`; `cargo run --release -p
//! rmq-cli -- quickstart` starts a local cluster):
//!
//! ```no_run
//! use rmq_client::consumer::{
//!     ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
//! };
//! use rmq_client::producer::Producer;
//! use rmq_protocol::message::{Message, MessageExt};
//!
//! #[tokio::main]
//! async fn main() -> rmq_client::Result<()> {
//!     // Produce: a producer group, the name servers, then send.
//!     let producer = Producer::builder("order_producer")
//!         .name_server("127.0.0.1:9876")
//!         .start()
//!         .await?;
//!     let sent = producer
//!         .send(Message::new("orders", "order #1").with_tags("created").with_keys(["order-1"]))
//!         .await?;
//!     println!("stored as {} at {} offset {}", sent.msg_id, sent.queue, sent.queue_offset);
//!     producer.shutdown().await;
//!
//!     // Consume: a consumer group, a subscription (topic + tag expression) and a listener.
//!     let mut config = ConsumerConfig::new("order_consumers");
//!     config.client.namesrv_addr = "127.0.0.1:9876".into();
//!     config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset; // a new group reads the backlog
//!     let consumer = ConcurrentConsumer::builder(config)
//!         .subscribe("orders", "created || paid")
//!         .listener(|msgs: &[MessageExt], _ctx: &mut ConsumeContext| {
//!             for m in msgs {
//!                 println!("{} {}", m.msg_id(), String::from_utf8_lossy(&m.body));
//!             }
//!             ConsumeResult::Success // ReconsumeLater (or a panic) redelivers later
//!         })
//!         .start()
//!         .await?;
//!     tokio::signal::ctrl_c().await.ok();
//!     consumer.shutdown().await; // finishes running calls, stores offsets, leaves the group
//!     Ok(())
//! }
//! ```
//!
//! # Where things are
//!
//! | module | what it holds |
//! |---|---|
//! | [`producer`] | [`Producer`](producer::Producer) and its builder: sync, oneway, callback, batch, to a queue or through a [`QueueSelector`](producer::QueueSelector), delayed messages, request-reply; [`TransactionProducer`](producer::TransactionProducer) |
//! | [`consumer`] | [`ConcurrentConsumer`](consumer::ConcurrentConsumer), [`OrderlyConsumer`](consumer::OrderlyConsumer) (push, clustering or broadcasting, sync or async listeners), [`LitePullConsumer`](consumer::LitePullConsumer) (poll / `Stream`); [`ConsumerConfig`](consumer::ConsumerConfig), selectors (tag, SQL92), statistics |
//! | [`blocking`] | the same producer and push consumers for programs without an async runtime |
//! | [`config`] | [`ClientConfig`]: name servers, client id, timeouts, ACL credentials, TLS (shared by producers and consumers) |
//! | [`error`] | the one [`Error`] type and its [`ErrorKind`] |
//! | [`acl`] / [`tls`] / [`namespace`] | request signing, TLS settings, tenant prefixes |
//! | [`admin`] | administrative requests (create topics and groups, offsets, read a queue) |
//! | [`route`], [`remoting`], [`transport`], [`hook`] | the layers underneath: routes from the name servers, requests by address, connection actors and their pool, the RPC-hook point |
//! | [`validate`] | checks on topics, groups and messages made before any network call |
//!
//! Messages, queues and the wire format come from the `rmq_protocol` crate
//! (`rmq_protocol::message::{Message, MessageExt, MessageQueue}`).
//!
//! # Guides
//!
//! In the repository's `docs/` folder: `concepts.md` (RocketMQ in terms of this API),
//! `configuration.md` (every option, its default and its Java name), `delivery-guarantees.md` (what can
//! be delivered twice, and when), `consumers.md`, `security.md` (ACL, TLS, namespaces),
//! `troubleshooting.md` and `benchmarks.md`. Runnable programs for each feature are in
//! `crates/rmq-client/examples/`.
//!
//! # Logging
//!
//! The client logs through [`tracing`](https://docs.rs/tracing) and is quiet at INFO: install a
//! subscriber (e.g. `tracing_subscriber` with `RUST_LOG=rmq_client=debug`) to see connections,
//! rebalances and retries.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod acl;
pub mod admin;
pub mod blocking;
mod client;
pub mod config;
pub mod consumer;
pub mod error;
pub mod health;
pub mod hook;
pub mod namespace;
pub mod producer;
pub mod remoting;
pub mod route;
pub mod telemetry;
pub mod tls;
pub mod transport;
pub mod validate;

pub use config::ClientConfig;
pub use error::{Error, ErrorKind, Result, TlsFailure};
pub use hook::{HookChain, RpcHook};
pub use remoting::RemotingClient;

/// The Rust snippets of the README and the guides in `docs/`, compiled by `cargo test --doc` so they
/// stay true to the API.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../README.md")]
    struct Readme;
    #[doc = include_str!("../../../docs/configuration.md")]
    struct Configuration;
    #[doc = include_str!("../../../docs/consumers.md")]
    struct Consumers;
    #[doc = include_str!("../../../docs/security.md")]
    struct Security;
}
