//! Send a message over TLS, optionally with a client certificate (mutual TLS).
//!
//! `RMQ_TLS_CA=ca.pem [RMQ_TLS_CERT=client.pem RMQ_TLS_KEY=client.key] [RMQ_TLS_SERVER_NAME=mq.example.com]
//! cargo run -p rmq-client --example tls -- <topic>`
//!
//! Without `RMQ_TLS_CA` the system's CAs are trusted. The servers must run with
//! `-Dtls.server.mode=enforcing` (or `permissive`) and their certificate must name the addresses the
//! client connects to, or set `RMQ_TLS_SERVER_NAME` to the name it carries.
#![allow(clippy::print_stdout)]

mod common;

use rmq_client::producer::Producer;
use rmq_client::tls::{ClientIdentity, TlsConfig};
use rmq_protocol::message::Message;

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut tls = TlsConfig::new();
    if let Some(ca) = env("RMQ_TLS_CA") {
        tls = tls.ca_pem_file(ca);
    }
    if let (Some(cert), Some(key)) = (env("RMQ_TLS_CERT"), env("RMQ_TLS_KEY")) {
        tls = tls.client_identity(ClientIdentity::pem_files(cert, key));
    }
    if let Some(name) = env("RMQ_TLS_SERVER_NAME") {
        tls = tls.server_name(name);
    }
    let producer = Producer::builder("example_tls_producer")
        .name_server(common::namesrv())
        .tls(tls)
        .start()
        .await?;
    let r = producer.send(Message::new(common::topic(), "over TLS")).await?;
    println!("sent {} to {} at offset {}", r.msg_id, r.queue, r.queue_offset);
    producer.shutdown().await;
    Ok(())
}
