//! An Apache RocketMQ client for Rust, speaking the remoting protocol byte-for-byte like the Java client.
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
