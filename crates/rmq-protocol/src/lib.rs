//! Sans-IO codec for the Apache RocketMQ remoting protocol.
//!
//! This crate turns bytes into typed values and back, with no sockets and no async runtime: frames and
//! [`RemotingCommand`]s in both header serializations, request/response codes, typed custom headers,
//! the message model (properties, stored-message decoding, batches, message ids) and topic-route JSON.
//! Every decoder returns a [`ProtocolError`] on bad input; none panics.
//!
//! ```
//! use bytes::BytesMut;
//! use rmq_protocol::{frame, RemotingCommand, RequestCode, SerializeType};
//!
//! let cmd = RemotingCommand::new_request(RequestCode::GET_BROKER_CLUSTER_INFO, Default::default())
//!     .with_serialize_type(SerializeType::RocketMq);
//! let mut buf = BytesMut::new();
//! frame::encode(&cmd, &mut buf).unwrap();
//! let back = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME).unwrap().unwrap();
//! assert_eq!(back.code, RequestCode::GET_BROKER_CLUSTER_INFO.0);
//! ```
//!
//! # Modules
//!
//! | module | what it holds |
//! |---|---|
//! | [`frame`] | framing: `[total][type + header length][header][body]`, "check, then parse" decoding over a buffer |
//! | [`command`] | [`RemotingCommand`] (code, flags, opaque, remark, ext fields, body) and both header serializations ([`SerializeType`]: JSON and ROCKETMQ binary) |
//! | [`code`] | [`RequestCode`], [`ResponseCode`] and [`LanguageCode`] as newtypes, so unknown codes survive a round trip |
//! | [`ext`] | [`ExtFields`] (the header's string map) and [`CommandHeader`], which typed headers implement |
//! | [`header`] | typed headers and JSON bodies of every request the client sends or answers |
//! | [`message`] | [`Message`](message::Message), [`MessageExt`](message::MessageExt), [`MessageQueue`](message::MessageQueue), properties, stored-message decoding (zlib / LZ4 / ZSTD), batches, message ids |
//! | [`route`] | topic routes and cluster info, including the name server's non-standard JSON |
//! | [`error`] | [`ProtocolError`]: what a decoder returns instead of panicking |
//!
//! The tokio client built on this crate is `rmq-client`; its crate docs and the repository's `docs/`
//! folder explain how to produce and consume.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod code;
pub mod command;
pub mod error;
pub mod ext;
pub mod frame;
pub mod header;
pub mod message;
pub mod route;
mod serialize;

pub use code::{LanguageCode, RequestCode, ResponseCode, CLIENT_VERSION};
pub use command::{RemotingCommand, SerializeType, FLAG_ONEWAY, FLAG_RESPONSE};
pub use error::{ProtocolError, Result};
pub use ext::{CommandHeader, ExtFields};
