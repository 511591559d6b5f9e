//! Batch bodies: the `SEND_BATCH_MESSAGE` body and the 5.x inner-batch entries consumers unwrap.
//!
//! Each message is written back to back (Java `MessageDecoder.encodeMessage`):
//!
//! ```text
//! totalSize i32 | magic i32 = 0 | bodyCRC i32 = 0 | flag i32 | bodyLength i32 | body
//! | propertiesLength i16 | properties
//! ```
//!
//! `totalSize` counts the whole entry: `22 + bodyLength + propertiesLength`. Batches are never compressed.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::message::cursor::Cursor;
use crate::message::message::Message;
use crate::message::message_ext::MessageExt;
use crate::message::properties::{decode_properties, encode_properties_into, validate_properties};
use crate::message::sysflag;

/// Fixed bytes of one batch entry besides its body and properties.
pub const BATCH_ENTRY_OVERHEAD: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// Encode `messages` as a batch body (the body of `SEND_BATCH_MESSAGE`).
///
/// Only each message's flag, body and properties are written (not its topic). Checking that the batch is
/// acceptable (same topic, no delay level, each message with its own `UNIQ_KEY`, ...) is the producer's
/// job. Fails if a message's properties cannot be encoded or an entry exceeds `i32::MAX` bytes.
pub fn encode_batch(messages: &[Message]) -> Result<Bytes> {
    let mut sizes = Vec::with_capacity(messages.len());
    let mut total = 0usize;
    for m in messages {
        let props_len = validate_properties(&m.properties)?;
        let entry = BATCH_ENTRY_OVERHEAD + m.body.len() + props_len;
        if entry > i32::MAX as usize {
            return Err(ProtocolError::TooLarge {
                what: "batch entry",
                len: entry,
                max: i32::MAX as usize,
            });
        }
        sizes.push((entry, props_len));
        total = total.saturating_add(entry);
    }
    let mut out = BytesMut::with_capacity(total);
    for (m, &(entry, props_len)) in messages.iter().zip(&sizes) {
        out.put_i32(entry as i32);
        out.put_i32(0);
        out.put_i32(0);
        out.put_i32(m.flag);
        out.put_i32(m.body.len() as i32);
        out.put_slice(&m.body);
        out.put_i16(props_len as i16);
        encode_properties_into(&m.properties, &mut out)?;
    }
    Ok(out.freeze())
}

/// Decode a batch body into its messages (topics left empty; bodies are zero-copy slices of `body`).
///
/// Like Java's `MessageDecoder.decodeMessages`, fields are read in order and `totalSize`, magic and CRC
/// are not checked; a negative body or properties length is an error.
pub fn decode_batch(body: &Bytes) -> Result<Vec<Message>> {
    let mut out = Vec::with_capacity((body.len() / BATCH_ENTRY_OVERHEAD).min(64));
    let mut c = Cursor::new(body);
    while c.pos() < body.len() {
        c.i32("batch totalSize")?;
        c.i32("batch magicCode")?;
        c.i32("batch bodyCRC")?;
        let flag = c.i32("batch flag")?;
        let body_len = c.i32("batch bodyLength")?;
        let body_len = usize::try_from(body_len)
            .map_err(|_| ProtocolError::invalid_field("batch bodyLength", &body_len.to_string()))?;
        let start = c.pos();
        c.take(body_len, "batch body")?;
        let msg_body = body.slice(start..start + body_len);
        let props_len = c.i16("batch propertiesLength")?;
        let props_len = usize::try_from(props_len)
            .map_err(|_| ProtocolError::invalid_field("batch propertiesLength", &props_len.to_string()))?;
        let props = c.take(props_len, "batch properties")?;
        out.push(Message {
            topic: String::new(),
            body: msg_body,
            flag,
            properties: decode_properties(props),
        });
    }
    Ok(out)
}

/// Whether a stored message is a 5.x inner batch that consumers must unwrap (sysFlag has both
/// `INNER_BATCH` and `NEED_UNWRAP`).
pub fn is_inner_batch(msg: &MessageExt) -> bool {
    msg.sys_flag & sysflag::INNER_BATCH != 0 && msg.sys_flag & sysflag::NEED_UNWRAP != 0
}

/// Unwrap a 5.x inner-batch entry into its messages, as Java's `MessageDecoder.decodeMessage(MessageExt,
/// List)` does.
///
/// Each inner message takes its flag, body and properties from the batch, and topic, queue id, hosts,
/// timestamps, sysFlag and commit-log offset from the entry; its queue offset is the entry's plus its
/// index, and `WAIT` is set to the entry's value. Other fields are left at zero, as in Java.
pub fn split_inner_batch(outer: &MessageExt) -> Result<Vec<MessageExt>> {
    let wait = outer.wait_store_msg_ok();
    let inner = decode_batch(&outer.body)?;
    Ok(inner
        .into_iter()
        .enumerate()
        .map(|(i, mut m)| {
            m.topic.clone_from(&outer.topic);
            m.set_wait_store_msg_ok(wait);
            MessageExt {
                message: m,
                queue_id: outer.queue_id,
                queue_offset: outer.queue_offset + i as i64,
                sys_flag: outer.sys_flag,
                born_timestamp: outer.born_timestamp,
                born_host: outer.born_host,
                store_timestamp: outer.store_timestamp,
                store_host: outer.store_host,
                commit_log_offset: outer.commit_log_offset,
                ..MessageExt::default()
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Vec<Message> {
        let mut a = Message::new("T", &b"first"[..]).with_tags("A");
        a.set_unique_key("ID1");
        a.flag = 1;
        let b = Message::new("T", Bytes::new()).with_keys(["k"]);
        vec![a, b]
    }

    #[test]
    fn entry_layout_matches_java() {
        let msgs = two();
        let bytes = encode_batch(&msgs).unwrap();
        let p0 = msgs[0].properties.encoded_len();
        let e0 = 22 + 5 + p0;
        assert_eq!(&bytes[0..4], &(e0 as i32).to_be_bytes());
        assert_eq!(&bytes[4..12], &[0; 8]);
        assert_eq!(&bytes[12..16], &1i32.to_be_bytes());
        assert_eq!(&bytes[16..20], &5i32.to_be_bytes());
        assert_eq!(&bytes[20..25], b"first");
        assert_eq!(&bytes[25..27], &(p0 as i16).to_be_bytes());
        let e1 = 22 + msgs[1].properties.encoded_len();
        assert_eq!(bytes.len(), e0 + e1);
        assert_eq!(&bytes[e0..e0 + 4], &(e1 as i32).to_be_bytes());
    }

    #[test]
    fn round_trip() {
        let msgs = two();
        let bytes = encode_batch(&msgs).unwrap();
        let back = decode_batch(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        for (b, m) in back.iter().zip(&msgs) {
            assert_eq!(
                (b.topic.as_str(), &b.body, b.flag, &b.properties),
                ("", &m.body, m.flag, &m.properties)
            );
        }
        assert_eq!(back[0].body.as_ptr(), bytes[20..].as_ptr());
        assert!(decode_batch(&Bytes::new()).unwrap().is_empty());
        assert!(encode_batch(&[]).unwrap().is_empty());
    }

    #[test]
    fn truncation_and_negative_lengths() {
        let msgs = two();
        let bytes = encode_batch(&msgs).unwrap();
        let first_entry = 22 + 5 + msgs[0].properties.encoded_len();
        assert_eq!(decode_batch(&bytes.slice(..first_entry)).unwrap().len(), 1);
        for cut in (1..bytes.len()).filter(|&c| c != first_entry) {
            let r = decode_batch(&bytes.slice(..cut));
            assert!(r.is_err(), "cut at {cut} decoded as {r:?}");
        }
        let mut neg = BytesMut::from(&bytes[..]);
        neg[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            decode_batch(&neg.freeze()),
            Err(ProtocolError::InvalidField { .. })
        ));
    }

    #[test]
    fn inner_batch_split() {
        let inner = encode_batch(&two()).unwrap();
        let mut outer = MessageExt::from(Message::new("BatchTopic", inner));
        outer.sys_flag = sysflag::INNER_BATCH | sysflag::NEED_UNWRAP;
        outer.queue_offset = 100;
        outer.queue_id = 2;
        outer.commit_log_offset = 9999;
        outer.set_wait_store_msg_ok(false);
        assert!(is_inner_batch(&outer));
        let split = split_inner_batch(&outer).unwrap();
        assert_eq!(split.len(), 2);
        assert_eq!(split[0].topic, "BatchTopic");
        assert_eq!((split[0].queue_offset, split[1].queue_offset), (100, 101));
        assert_eq!(split[1].queue_id, 2);
        assert_eq!(split[0].unique_key(), Some("ID1"));
        assert_eq!(split[0].body, &b"first"[..]);
        assert_eq!(split[1].keys(), ["k"]);
        assert!(!split[0].wait_store_msg_ok() && !split[1].wait_store_msg_ok());
        assert_eq!(split[0].offset_msg_id(), outer.offset_msg_id());
        outer.sys_flag = sysflag::INNER_BATCH;
        assert!(!is_inner_batch(&outer));
    }
}
