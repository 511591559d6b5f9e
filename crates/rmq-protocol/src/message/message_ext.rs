//! [`MessageExt`]: a stored message as the broker returns it (pull, query, view, transaction check), the
//! stored-format version and decode options. The layout's codec is in `stored.rs`.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::{Deref, DerefMut};

use crate::message::id::create_offset_msg_id;
use crate::message::message::Message;

/// Magic code of a V1 stored message (1-byte topic length): `0xDAA320A7`.
pub const MAGIC_CODE_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic code of a V2 stored message (2-byte topic length, 5.1+ brokers, long topics): `0xDAA320AB`.
pub const MAGIC_CODE_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic code of the commit log's end-of-file blank (never sent to clients): `0xCBD43194`.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;
/// Default cap on a decompressed body: 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;

/// Stored-message format version, chosen by the magic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageVersion {
    /// [`MAGIC_CODE_V1`]: topic length is one signed byte (topics up to 127 bytes). All 4.x brokers.
    #[default]
    V1,
    /// [`MAGIC_CODE_V2`]: topic length is an `i16`. Written by 5.1+ brokers for topics over 127 bytes.
    V2,
}

impl MessageVersion {
    /// The magic code announcing this version.
    pub fn magic_code(self) -> i32 {
        match self {
            MessageVersion::V1 => MAGIC_CODE_V1,
            MessageVersion::V2 => MAGIC_CODE_V2,
        }
    }

    /// The version a magic code announces.
    pub fn from_magic_code(magic: i32) -> Option<Self> {
        match magic {
            MAGIC_CODE_V1 => Some(MessageVersion::V1),
            MAGIC_CODE_V2 => Some(MessageVersion::V2),
            _ => None,
        }
    }

    /// The largest topic, in bytes, this version can carry.
    pub fn max_topic_len(self) -> usize {
        match self {
            MessageVersion::V1 => i8::MAX as usize,
            MessageVersion::V2 => i16::MAX as usize,
        }
    }

    /// The version a broker writes for a topic of `topic_len` bytes (V2 only when V1 cannot hold it).
    pub fn for_topic_len(topic_len: usize) -> Self {
        if topic_len > i8::MAX as usize {
            MessageVersion::V2
        } else {
            MessageVersion::V1
        }
    }
}

/// Options for decoding stored messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest body a compressed body may expand to; beyond it decoding fails with
    /// [`ProtocolError::TooLarge`](crate::ProtocolError::TooLarge). Default [`DEFAULT_MAX_BODY`] (64 MiB).
    pub max_body: usize,
    /// Decompress bodies flagged COMPRESSED (and clear the flag). Default `true`. When `false`, the
    /// stored bytes are returned as they are, with the flag still set.
    pub decompress: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_body: DEFAULT_MAX_BODY,
            decompress: true,
        }
    }
}

/// A stored message: the [`Message`] plus everything the broker recorded about it.
///
/// Derefs to [`Message`], so `ext.topic`, `ext.body` and `ext.tags()` work directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExt {
    /// Topic, body (decompressed), flag and properties.
    pub message: Message,
    /// Queue id.
    pub queue_id: i32,
    /// `totalSize` as announced in the stored layout.
    pub store_size: i32,
    /// Offset in the consume queue.
    pub queue_offset: i64,
    /// Message sysFlag (see [`sysflag`](crate::message::sysflag)); COMPRESSED is cleared once the body has been decompressed.
    pub sys_flag: i32,
    /// When the producer created the message, ms since the epoch.
    pub born_timestamp: i64,
    /// The producer's address as seen by the broker.
    pub born_host: SocketAddr,
    /// When the broker stored the message, ms since the epoch.
    pub store_timestamp: i64,
    /// The storing broker's address.
    pub store_host: SocketAddr,
    /// Offset in the commit log.
    pub commit_log_offset: i64,
    /// CRC32 of the stored body, masked with `0x7FFFFFFF` (see [`body_crc`]).
    pub body_crc: i32,
    /// How many times the message has been redelivered.
    pub reconsume_times: i32,
    /// Commit-log offset of the prepared (half) message, for transactions.
    pub prepared_transaction_offset: i64,
}

impl Default for MessageExt {
    fn default() -> Self {
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        MessageExt {
            message: Message::default(),
            queue_id: 0,
            store_size: 0,
            queue_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: unspecified,
            store_timestamp: 0,
            store_host: unspecified,
            commit_log_offset: 0,
            body_crc: 0,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }
}

impl From<Message> for MessageExt {
    fn from(message: Message) -> Self {
        MessageExt {
            message,
            ..MessageExt::default()
        }
    }
}

impl Deref for MessageExt {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.message
    }
}

impl DerefMut for MessageExt {
    fn deref_mut(&mut self) -> &mut Message {
        &mut self.message
    }
}

impl MessageExt {
    /// The broker's id for this message: store host + commit-log offset (see
    /// [`create_offset_msg_id`]).
    pub fn offset_msg_id(&self) -> String {
        create_offset_msg_id(self.store_host, self.commit_log_offset)
    }

    /// The id users see: `UNIQ_KEY` when present, else the [offset id](Self::offset_msg_id) (Java
    /// `MessageClientExt.getMsgId`).
    pub fn msg_id(&self) -> Cow<'_, str> {
        match self.message.unique_key() {
            Some(id) => Cow::Borrowed(id),
            None => Cow::Owned(self.offset_msg_id()),
        }
    }
}

/// CRC32 of a stored body as the broker records it (`crc32 & 0x7FFFFFFF`).
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_deref() {
        let ext = MessageExt::from(Message::new("T", "b"));
        assert_eq!(ext.topic, "T");
        assert!(ext.wait_store_msg_ok());
        assert_eq!(
            ext.msg_id(),
            "0000000000000000000000000000000000000000000000000000000000000000"[..32]
        );
        assert_eq!(DecodeOptions::default().max_body, 64 << 20);
        assert_eq!(body_crc(b"123456789"), 0xCBF4_3926_u32 as i32 & 0x7FFF_FFFF);
        // crc32("123456789")
    }
}
