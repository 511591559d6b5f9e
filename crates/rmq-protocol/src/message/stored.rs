//! The stored-message layout: decoding pull (query, view, check) bodies and encoding the same layout.
//!
//! One message after another in a pull body, all big-endian:
//!
//! ```text
//! totalSize i32 | magic i32 | bodyCRC i32 | queueId i32 | flag i32 | queueOffset i64 | physicalOffset i64
//! | sysFlag i32 | bornTimestamp i64 | bornHost (4|16 bytes IP + i32 port) | storeTimestamp i64
//! | storeHost (4|16 + 4) | reconsumeTimes i32 | preparedTransactionOffset i64 | bodyLength i32 | body
//! | topicLength (V1: i8, V2: i16) | topic | propertiesLength i16 | properties
//! ```
//!
//! Decoding follows Java's `MessageDecoder.decode`: fields are read in order (the announced `totalSize`
//! is reported, not trusted), a non-positive body or properties length means "none", a negative topic
//! length is an error, bodies flagged COMPRESSED are decompressed and the flag cleared, and an IPv4-mapped
//! IPv6 host becomes an IPv4 address (as `InetAddress.getByAddress` does).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::message::compression::{self, CompressionType};
use crate::message::cursor::Cursor;
use crate::message::message::Message;
use crate::message::message_ext::{DecodeOptions, MessageExt, MessageVersion};
use crate::message::properties::{decode_properties, encode_properties_into, validate_properties};
use crate::message::sysflag;

/// Decode every message of a pull (or query/view) body. Fails on the first malformed message; use
/// [`MessageIter`] to keep the messages before it.
pub fn decode_messages(body: &Bytes) -> Result<Vec<MessageExt>> {
    decode_messages_with(body, &DecodeOptions::default())
}

/// [`decode_messages`] with explicit options.
pub fn decode_messages_with(body: &Bytes, opts: &DecodeOptions) -> Result<Vec<MessageExt>> {
    MessageIter::new(body.clone(), *opts).collect()
}

/// Decode the message at the front of `buf` and advance past it. On error `buf` is left unchanged.
pub fn decode_message(buf: &mut Bytes) -> Result<MessageExt> {
    decode_message_with(buf, &DecodeOptions::default())
}

/// Iterator over the messages of a body: yields each message, then stops after the first error (which
/// it yields). Java's client keeps the messages before a malformed one and drops the rest.
#[derive(Debug, Clone)]
pub struct MessageIter {
    buf: Bytes,
    opts: DecodeOptions,
}

impl MessageIter {
    /// Iterate over the messages in `body`.
    pub fn new(body: Bytes, opts: DecodeOptions) -> Self {
        MessageIter { buf: body, opts }
    }
}

impl Iterator for MessageIter {
    type Item = Result<MessageExt>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let item = decode_message_with(&mut self.buf, &self.opts);
        if item.is_err() {
            self.buf.clear();
        }
        Some(item)
    }
}

impl std::iter::FusedIterator for MessageIter {}

fn socket_addr(ip: IpAddr, port: i32, what: &'static str) -> Result<SocketAddr> {
    let port = u16::try_from(port).map_err(|_| ProtocolError::invalid_field(what, &port.to_string()))?;
    Ok(SocketAddr::new(ip, port))
}

fn read_host(c: &mut Cursor<'_>, v6: bool, what: &'static str) -> Result<SocketAddr> {
    let ip = if v6 {
        let v6 = Ipv6Addr::from(c.bytes16(what)?);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    } else {
        IpAddr::V4(Ipv4Addr::from(c.bytes4(what)?))
    };
    socket_addr(ip, c.i32(what)?, what)
}

fn lossy_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// [`decode_message`] with explicit options.
pub fn decode_message_with(buf: &mut Bytes, opts: &DecodeOptions) -> Result<MessageExt> {
    let mut c = Cursor::new(buf);
    let store_size = c.i32("message totalSize")?;
    let magic = c.i32("message magicCode")?;
    let version = MessageVersion::from_magic_code(magic).ok_or(ProtocolError::BadMagic(magic as u32))?;
    let body_crc = c.i32("message bodyCRC")?;
    let queue_id = c.i32("message queueId")?;
    let flag = c.i32("message flag")?;
    let queue_offset = c.i64("message queueOffset")?;
    let commit_log_offset = c.i64("message physicalOffset")?;
    let mut sys_flag = c.i32("message sysFlag")?;
    let born_timestamp = c.i64("message bornTimestamp")?;
    let born_host = read_host(&mut c, sys_flag & sysflag::BORNHOST_V6 != 0, "message bornHost")?;
    let store_timestamp = c.i64("message storeTimestamp")?;
    let store_host = read_host(&mut c, sys_flag & sysflag::STOREHOST_V6 != 0, "message storeHost")?;
    let reconsume_times = c.i32("message reconsumeTimes")?;
    let prepared_transaction_offset = c.i64("message preparedTransactionOffset")?;
    let body_len = c.i32("message bodyLength")?;
    let body_start = c.pos();
    let body_raw = if body_len > 0 {
        c.take(body_len as usize, "message body")?
    } else {
        &[]
    };
    let body_end = c.pos();
    let topic_len = match version {
        MessageVersion::V1 => i32::from(c.i8("message topicLength")?),
        MessageVersion::V2 => i32::from(c.i16("message topicLength")?),
    };
    if topic_len < 0 {
        return Err(ProtocolError::invalid_field(
            "message topicLength",
            &topic_len.to_string(),
        ));
    }
    let topic = c.take(topic_len as usize, "message topic")?;
    let props_len = c.i16("message propertiesLength")?;
    let props = if props_len > 0 {
        c.take(props_len as usize, "message properties")?
    } else {
        &[]
    };
    let consumed = c.pos();

    // Everything is in bounds: now allocate.
    let body = if opts.decompress && body_len > 0 && sys_flag & sysflag::COMPRESSED != 0 {
        let ty = CompressionType::from_sys_flag(sys_flag)?;
        let plain = compression::decompress(ty, body_raw, opts.max_body)?;
        sys_flag = sysflag::clear_compressed(sys_flag);
        Bytes::from(plain)
    } else {
        buf.slice(body_start..body_end)
    };
    let message = Message {
        topic: lossy_string(topic),
        body,
        flag,
        properties: decode_properties(props),
    };
    let ext = MessageExt {
        message,
        queue_id,
        store_size,
        queue_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        commit_log_offset,
        body_crc,
        reconsume_times,
        prepared_transaction_offset,
    };
    let _ = buf.split_to(consumed);
    Ok(ext)
}

fn host_len(addr: &SocketAddr, v6_flag: bool) -> usize {
    if v6_flag || addr.is_ipv6() {
        20
    } else {
        8
    }
}

fn put_host(out: &mut BytesMut, addr: &SocketAddr, width: usize) {
    match (addr.ip(), width) {
        (IpAddr::V4(v4), 8) => out.put_slice(&v4.octets()),
        (IpAddr::V4(v4), _) => out.put_slice(&v4.to_ipv6_mapped().octets()),
        (IpAddr::V6(v6), _) => out.put_slice(&v6.octets()),
    }
    out.put_i32(i32::from(addr.port()));
}

/// Encode `msg` in the stored layout, choosing V2 only when the topic is over 127 bytes (as a broker
/// does).
///
/// The body is written as it is: for a message whose sysFlag says COMPRESSED, `body` must already hold
/// the compressed bytes (see [`compression::compress`]). `totalSize` is computed (the `store_size` field
/// is ignored) and `body_crc` is written as given (see [`body_crc`](crate::message::body_crc)). An IPv6 host sets its sysFlag bit;
/// an IPv4 host whose bit is set is written IPv4-mapped.
pub fn encode_message_ext(msg: &MessageExt) -> Result<Bytes> {
    let version = MessageVersion::for_topic_len(msg.topic.len());
    let mut out = BytesMut::new();
    encode_message_ext_into(msg, version, &mut out)?;
    Ok(out.freeze())
}

/// Append `msg` in the stored layout of `version` to `out` (see [`encode_message_ext`]).
///
/// Fails with [`ProtocolError::TooLarge`] if the topic does not fit `version`, or the body or the whole
/// message exceeds `i32::MAX`, and with the errors of
/// [`encode_properties`](crate::message::encode_properties). Nothing is written on error.
pub fn encode_message_ext_into(msg: &MessageExt, version: MessageVersion, out: &mut BytesMut) -> Result<()> {
    let topic = msg.topic.as_bytes();
    if topic.len() > version.max_topic_len() {
        return Err(ProtocolError::TooLarge {
            what: "topic",
            len: topic.len(),
            max: version.max_topic_len(),
        });
    }
    let props_len = validate_properties(&msg.properties)?;
    let body_len = i32::try_from(msg.body.len()).map_err(|_| ProtocolError::TooLarge {
        what: "body",
        len: msg.body.len(),
        max: i32::MAX as usize,
    })?;
    let mut sys_flag = msg.sys_flag;
    if msg.born_host.is_ipv6() {
        sys_flag |= sysflag::BORNHOST_V6;
    }
    if msg.store_host.is_ipv6() {
        sys_flag |= sysflag::STOREHOST_V6;
    }
    let born_width = host_len(&msg.born_host, sys_flag & sysflag::BORNHOST_V6 != 0);
    let store_width = host_len(&msg.store_host, sys_flag & sysflag::STOREHOST_V6 != 0);
    let topic_len_size = if version == MessageVersion::V1 { 1 } else { 2 };
    let total = 4
        + 4
        + 4
        + 4
        + 4
        + 8
        + 8
        + 4
        + 8
        + born_width
        + 8
        + store_width
        + 4
        + 8
        + 4
        + msg.body.len()
        + topic_len_size
        + topic.len()
        + 2
        + props_len;
    let total_i32 = i32::try_from(total).map_err(|_| ProtocolError::TooLarge {
        what: "message",
        len: total,
        max: i32::MAX as usize,
    })?;

    out.reserve(total);
    out.put_i32(total_i32);
    out.put_i32(version.magic_code());
    out.put_i32(msg.body_crc);
    out.put_i32(msg.queue_id);
    out.put_i32(msg.flag);
    out.put_i64(msg.queue_offset);
    out.put_i64(msg.commit_log_offset);
    out.put_i32(sys_flag);
    out.put_i64(msg.born_timestamp);
    put_host(out, &msg.born_host, born_width);
    out.put_i64(msg.store_timestamp);
    put_host(out, &msg.store_host, store_width);
    out.put_i32(msg.reconsume_times);
    out.put_i64(msg.prepared_transaction_offset);
    out.put_i32(body_len);
    out.put_slice(&msg.body);
    match version {
        MessageVersion::V1 => out.put_i8(topic.len() as i8),
        MessageVersion::V2 => out.put_i16(topic.len() as i16),
    }
    out.put_slice(topic);
    out.put_i16(props_len as i16);
    encode_properties_into(&msg.properties, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::message_ext::{body_crc, BLANK_MAGIC_CODE, MAGIC_CODE_V2};
    use crate::message::properties::Properties;

    fn sample() -> MessageExt {
        let mut m = Message::new("TopicTest", &b"Hello RocketMQ"[..]).with_tags("TagA");
        m.set_unique_key("7F00000100002A9F0000000000000001");
        m.flag = 7;
        MessageExt {
            message: m,
            queue_id: 3,
            store_size: 0,
            queue_offset: 42,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: "127.0.0.1:53000".parse().unwrap(),
            store_timestamp: 1_700_000_000_005,
            store_host: "192.168.0.10:10911".parse().unwrap(),
            commit_log_offset: 123_456,
            body_crc: body_crc(b"Hello RocketMQ"),
            reconsume_times: 1,
            prepared_transaction_offset: 0,
        }
    }

    fn with_size(mut m: MessageExt, bytes: &Bytes) -> MessageExt {
        m.store_size = bytes.len() as i32;
        m
    }

    #[test]
    fn layout_offsets_ipv4() {
        let m = sample();
        let b = encode_message_ext(&m).unwrap();
        let props_len = m.properties.encoded_len();
        assert_eq!(b.len(), 88 + 14 + 1 + 9 + 2 + props_len);
        assert_eq!(&b[0..4], &(b.len() as i32).to_be_bytes());
        assert_eq!(&b[4..8], &[0xDA, 0xA3, 0x20, 0xA7]);
        assert_eq!(&b[12..16], &3i32.to_be_bytes());
        assert_eq!(&b[20..28], &42i64.to_be_bytes());
        assert_eq!(&b[48..56], &[127, 0, 0, 1, 0, 0, 0xCF, 0x08]);
        assert_eq!(&b[64..72], &[192, 168, 0, 10, 0, 0, 0x2A, 0x9F]);
        assert_eq!(&b[84..88], &14i32.to_be_bytes());
        assert_eq!(&b[88..102], b"Hello RocketMQ");
        assert_eq!(b[102], 9);
        assert_eq!(&b[103..112], b"TopicTest");
    }

    #[test]
    fn round_trip_and_zero_copy() {
        let m = sample();
        let mut buf = encode_message_ext(&m).unwrap();
        let whole = buf.clone();
        let back = decode_message(&mut buf).unwrap();
        assert!(buf.is_empty());
        assert_eq!(back, with_size(m, &whole));
        // the body points into the input buffer
        assert_eq!(back.body.as_ptr(), whole[88..].as_ptr());
        assert_eq!(back.msg_id(), "7F00000100002A9F0000000000000001");
        assert_eq!(back.offset_msg_id(), "C0A8000A00002A9F000000000001E240");
    }

    #[test]
    fn ipv6_hosts_and_v2() {
        let mut m = sample();
        m.born_host = "[2001:db8::1]:1234".parse().unwrap();
        m.store_host = "[fe80::2]:10911".parse().unwrap();
        m.topic = "t".repeat(200);
        m.properties.remove("UNIQ_KEY");
        let bytes = encode_message_ext(&m).unwrap();
        assert_eq!(&bytes[4..8], &MAGIC_CODE_V2.to_be_bytes());
        let back = decode_messages(&bytes).unwrap();
        let mut expected = with_size(m, &bytes);
        expected.sys_flag = sysflag::BORNHOST_V6 | sysflag::STOREHOST_V6;
        assert_eq!(back, [expected.clone()]);
        assert_eq!(back[0].msg_id().len(), 56);
        assert_eq!(back[0].msg_id(), expected.offset_msg_id());
        // V1 cannot carry the 200-byte topic
        assert!(matches!(
            encode_message_ext_into(&expected, MessageVersion::V1, &mut BytesMut::new()),
            Err(ProtocolError::TooLarge { what: "topic", .. })
        ));
    }

    #[test]
    fn mapped_ipv4_becomes_ipv4_like_java() {
        let mut m = sample();
        m.sys_flag = sysflag::STOREHOST_V6;
        let bytes = encode_message_ext(&m).unwrap();
        assert_eq!(
            &bytes[64..80],
            &Ipv4Addr::new(192, 168, 0, 10).to_ipv6_mapped().octets()
        );
        let back = decode_messages(&bytes).unwrap().remove(0);
        assert_eq!(back.store_host, m.store_host);
        assert_eq!(back.offset_msg_id().len(), 32);
        assert_eq!(encode_message_ext(&back).unwrap(), bytes);
    }

    #[test]
    fn compressed_bodies() {
        let plain: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        for ty in [CompressionType::Zlib, CompressionType::Lz4, CompressionType::Zstd] {
            for bits in [
                ty.sys_flag_bits(),
                if ty == CompressionType::Zlib {
                    0
                } else {
                    ty.sys_flag_bits()
                },
            ] {
                let mut m = sample();
                m.body = compression::compress(ty, 5, &plain).unwrap().into();
                m.sys_flag = sysflag::COMPRESSED | bits | sysflag::MULTI_TAGS;
                let bytes = encode_message_ext(&m).unwrap();
                let back = decode_messages(&bytes).unwrap().remove(0);
                assert_eq!(back.body, plain, "{ty:?}");
                assert_eq!(
                    back.sys_flag,
                    bits | sysflag::MULTI_TAGS,
                    "COMPRESSED cleared, type bits kept"
                );
                let raw = decode_messages_with(
                    &bytes,
                    &DecodeOptions {
                        decompress: false,
                        ..Default::default()
                    },
                )
                .unwrap()
                .remove(0);
                assert_eq!(raw.body, m.body);
                assert_eq!(raw.sys_flag, m.sys_flag);
                let small = DecodeOptions {
                    max_body: 4999,
                    ..Default::default()
                };
                assert!(matches!(
                    decode_messages_with(&bytes, &small),
                    Err(ProtocolError::TooLarge { .. })
                ));
            }
        }
    }

    #[test]
    fn compressed_errors() {
        let mut m = sample();
        m.sys_flag = sysflag::COMPRESSED | 0x400;
        let bytes = encode_message_ext(&m).unwrap();
        assert_eq!(
            decode_messages(&bytes),
            Err(ProtocolError::UnknownCompression(0x400))
        );
        m.sys_flag = sysflag::COMPRESSED;
        let bytes = encode_message_ext(&m).unwrap();
        assert!(matches!(
            decode_messages(&bytes),
            Err(ProtocolError::Decompress(_))
        ));
        // an empty body is never decompressed, and the flag then stays set (Java)
        m.body = Bytes::new();
        let back = decode_messages(&encode_message_ext(&m).unwrap())
            .unwrap()
            .remove(0);
        assert_eq!(back.sys_flag, sysflag::COMPRESSED);
        assert!(back.body.is_empty());
    }

    #[test]
    fn several_messages_and_iterator() {
        let mut body = BytesMut::new();
        for i in 0..5 {
            let mut m = sample();
            m.queue_offset = i;
            encode_message_ext_into(&m, MessageVersion::V1, &mut body).unwrap();
        }
        let body = body.freeze();
        let msgs = decode_messages(&body).unwrap();
        assert_eq!(
            msgs.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let mut cut = body.slice(..body.len() - 1);
        let all: Vec<_> = MessageIter::new(cut.clone(), DecodeOptions::default()).collect();
        assert_eq!(all.len(), 5);
        assert!(all[..4].iter().all(|r| r.is_ok()));
        assert!(matches!(all[4], Err(ProtocolError::Truncated(_))));
        assert!(decode_messages(&cut).is_err());
        // a failed decode leaves the buffer untouched
        let _ = cut.split_to(4 * (body.len() / 5));
        let before = cut.clone();
        assert!(decode_message(&mut cut).is_err());
        assert_eq!(cut, before);
    }

    #[test]
    fn bad_magic_negative_lengths_bad_port() {
        let m = sample();
        let good = encode_message_ext(&m).unwrap();
        let mut bad = BytesMut::from(&good[..]);
        bad[4..8].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
        assert_eq!(
            decode_messages(&bad.freeze()),
            Err(ProtocolError::BadMagic(0xCBD4_3194))
        );

        let mut neg_topic = BytesMut::from(&good[..]);
        neg_topic[102] = 0x80; // V1 topic length byte is signed: -128
        assert!(matches!(
            decode_messages(&neg_topic.freeze()),
            Err(ProtocolError::InvalidField { .. })
        ));

        let mut huge_body = BytesMut::from(&good[..]);
        huge_body[84..88].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(
            decode_messages(&huge_body.freeze()),
            Err(ProtocolError::Truncated("message body"))
        );

        let mut port = BytesMut::from(&good[..]);
        port[52..56].copy_from_slice(&70_000i32.to_be_bytes());
        assert!(matches!(
            decode_messages(&port.freeze()),
            Err(ProtocolError::InvalidField { .. })
        ));
    }

    #[test]
    fn negative_body_and_props_lengths_mean_none() {
        let mut m = sample();
        m.body = Bytes::new();
        m.properties = Properties::new();
        let good = encode_message_ext(&m).unwrap();
        let mut raw = BytesMut::from(&good[..]);
        raw[84..88].copy_from_slice(&(-1i32).to_be_bytes());
        let n = raw.len();
        raw[n - 2..].copy_from_slice(&(-3i16).to_be_bytes());
        let back = decode_messages(&raw.freeze()).unwrap().remove(0);
        assert!(back.body.is_empty() && back.properties.is_empty());
        assert_eq!(back.topic, "TopicTest");
    }
}
