//! Integration tests of the client against one real Apache RocketMQ cluster (a name server and two
//! brokers started by `rmq-testkit` from the Maven artifacts, shared by every test of this binary).
//!
//! One binary instead of one per file: each test binary starts its own cluster, which costs more than
//! most of these tests. Tests that need a cluster of their own (ACL, TLS, a broker they kill, a broker
//! without property filtering) stay in their own binaries next to this directory.

#[path = "../support/mod.rs"]
mod support;

mod blocking;
mod broadcast_consumer;
mod cluster_foundation;
mod interop_java;
mod lite_pull_consumer;
mod metrics;
mod namespace;
mod orderly_consumer;
mod producer;
mod push_consumer;
mod push_consumer_group;
mod push_consumer_ops;
