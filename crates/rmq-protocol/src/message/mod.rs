//! The message model: properties, messages, stored-message decoding, batches, ids.
//!
//! | file | concept |
//! |---|---|
//! | [`properties`] | property names, the [`Properties`] map and its `0x01`/`0x02` wire string |
//! | [`Message`] | what a producer sends, with typed property accessors |
//! | [`MessageExt`] | a stored message (what consumers receive) |
//! | [`decode_messages`], [`encode_message_ext`] | the stored layout of pull, query, view and check bodies |
//! | [`MessageQueue`] | `(topic, broker, queue id)` with Java ordering and `toString` |
//! | [`compression`] | ZLIB / LZ4 frame / ZSTD bodies |
//! | [`sysflag`] | message and pull `sysFlag` bits |
//! | [`encode_batch`] / [`decode_batch`] | `SEND_BATCH_MESSAGE` bodies and 5.x inner batches |
//! | [`create_offset_msg_id`], [`UniqueIdGenerator`], [`java_string_hash`] | ids and tag hash codes |
//!
//! ```
//! use bytes::Bytes;
//! use rmq_protocol::message::{decode_messages, encode_message_ext, Message, MessageExt};
//!
//! let mut stored = MessageExt::from(Message::new("orders", "hello").with_tags("created"));
//! stored.queue_offset = 7;
//! let pull_body: Bytes = encode_message_ext(&stored).unwrap();
//!
//! let msgs = decode_messages(&pull_body).unwrap();
//! assert_eq!(msgs[0].topic, "orders");
//! assert_eq!(msgs[0].tags(), Some("created"));
//! assert_eq!(msgs[0].body, "hello");
//! assert_eq!(msgs[0].queue_offset, 7);
//! ```

mod batch;
pub mod compression;
mod cursor;
mod id;
#[allow(clippy::module_inception)]
mod message;
mod message_ext;
pub mod properties;
mod property_map;
mod queue;
mod stored;
pub mod sysflag;

pub use batch::{decode_batch, encode_batch, is_inner_batch, split_inner_batch, BATCH_ENTRY_OVERHEAD};
pub use compression::{compress, decompress, CompressionType, DEFAULT_COMPRESS_LEVEL};
pub use id::{
    create_offset_msg_id, decode_offset_msg_id, java_string_hash, parse_unique_id, UniqueIdGenerator,
    UniqueIdParts,
};
pub use message::Message;
pub use message_ext::{
    body_crc, DecodeOptions, MessageExt, MessageVersion, BLANK_MAGIC_CODE, DEFAULT_MAX_BODY, MAGIC_CODE_V1,
    MAGIC_CODE_V2,
};
pub use properties::{
    decode_properties, decode_properties_str, encode_properties, encode_properties_into, Properties,
};
pub use queue::{java_string_cmp, MessageQueue};
pub use stored::{
    decode_message, decode_message_with, decode_messages, decode_messages_with, encode_message_ext,
    encode_message_ext_into, MessageIter,
};
