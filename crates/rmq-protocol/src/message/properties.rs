//! Message properties: the well-known keys, the [`Properties`] map and its wire string.
//!
//! On the wire the properties are one string: `name 0x01 value 0x02` per pair, with a trailing `0x02`
//! after the last pair too, UTF-8, at most 32767 bytes (its length travels as an `i16`).

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
pub use crate::message::property_map::{Iter, Properties};

/// Separates a name from its value (Java `MessageDecoder.NAME_VALUE_SEPARATOR`).
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Ends every name/value pair (Java `MessageDecoder.PROPERTY_SEPARATOR`).
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Largest encoded properties string, in bytes (the length is an `i16` on the wire).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;
/// Separates several keys inside the [`KEYS`] property.
pub const KEY_SEPARATOR: &str = " ";

/// Index keys of a message, several separated by [`KEY_SEPARATOR`].
pub const KEYS: &str = "KEYS";
/// The message tag.
pub const TAGS: &str = "TAGS";
/// Whether the broker waits for flush/replication before answering (`"true"` by default).
pub const WAIT_STORE_MSG_OK: &str = "WAIT";
/// Delay level 1..=18.
pub const DELAY_TIME_LEVEL: &str = "DELAY";
/// The original topic of a retried message.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// The original topic of a delayed or half message.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// The original queue id of a delayed or half message.
pub const REAL_QUEUE_ID: &str = "REAL_QID";
/// `"true"` on transactional half messages.
pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
/// Producer group of a half message.
pub const PRODUCER_GROUP: &str = "PGROUP";
/// Queue min offset, set by the client after a pull.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Queue max offset, set by the client after a pull.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Legacy buyer id.
pub const BUYER_ID: &str = "BUYER_ID";
/// The first message id of a retry chain.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy transfer flag.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy correction flag.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Legacy MQ2 flag.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Reconsume count of a client-side fallback retry send.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Message region.
pub const MSG_REGION: &str = "MSG_REGION";
/// Trace switch.
pub const TRACE_SWITCH: &str = "TRACE_ON";
/// The client message id (UNIQ_KEY).
pub const UNIQ_CLIENT_MESSAGE_ID_KEYIDX: &str = "UNIQ_KEY";
/// Extended unique info.
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// Maximum reconsume times of a client-side fallback retry send.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// When consumption started (ms), used for consume-timeout detection.
pub const CONSUME_START_TIMESTAMP: &str = "CONSUME_START_TIME";
/// 5.x inner batch: number of inner messages.
pub const INNER_NUM: &str = "INNER_NUM";
/// 5.x inner batch: base queue offset.
pub const INNER_BASE: &str = "INNER_BASE";
/// Duplication info.
pub const DUP_INFO: &str = "DUP_INFO";
/// First transaction check delay in seconds.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Queue offset of the prepared (half) message.
pub const TRANSACTION_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Transaction id, set on the local message after a half send.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// Transaction check counter.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Namespace instance id.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request-reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Request-reply: client to reply to.
pub const MESSAGE_REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request-reply time to live.
pub const MESSAGE_TTL: &str = "TTL";
/// Request-reply arrive time.
pub const REPLY_MESSAGE_ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Request-reply push time.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Cluster name of the storing broker.
pub const CLUSTER: &str = "CLUSTER";
/// Message type (`reply` for reply messages).
pub const MESSAGE_TYPE: &str = "MSG_TYPE";
/// Pop checkpoint.
pub const POP_CK: &str = "POP_CK";
/// Pop checkpoint offset.
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// First pop time.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// FIFO grouping key (5.x semantics).
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// Forward queue id.
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// Redirect flag.
pub const REDIRECT: &str = "REDIRECT";
/// LMQ: inner multi dispatch.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// LMQ: inner multi queue offset.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// Trace context.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// 5.x arbitrary delay, seconds.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// 5.x arbitrary delay, milliseconds.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// 5.x delivery timestamp (ms since the epoch).
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// Timer internals: enqueue time.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// Timer internals: dequeue time.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// Timer internals: roll count.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// Timer internals: out time.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// Timer internals: deleted unique key.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// Timer internals: delay level.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// Born host property.
pub const BORN_HOST: &str = "__BORNHOST";
/// Born timestamp property.
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// Body CRC appended by the broker when enabled (10 decimal digits).
pub const CRC32: &str = "__CRC32#";
/// DLQ: original topic.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// DLQ: original message id.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// Properties whose name starts with this prefix are never persisted by the broker.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
/// Transient topic sysFlag (set by the client when pulling).
pub const TRANSIENT_TOPIC_CONFIG: &str = "__RMQ.TRANSIENT.TOPIC_SYS_FLAG";
/// Transient group sysFlag (set by the client when pulling).
pub const TRANSIENT_GROUP_CONFIG: &str = "__RMQ.TRANSIENT.GROUP_SYS_FLAG";
/// Legacy start-deliver-time property, inspected by Java hooks only.
pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";

/// The names `Message.putUserProperty` refuses (Java `MessageConst.STRING_HASH_SET`).
pub const SYSTEM_PROPERTIES: &[&str] = &[
    TRACE_SWITCH,
    MSG_REGION,
    KEYS,
    TAGS,
    WAIT_STORE_MSG_OK,
    DELAY_TIME_LEVEL,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QUEUE_ID,
    TRANSACTION_PREPARED,
    PRODUCER_GROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    MQ2_FLAG,
    RECONSUME_TIME,
    UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIMESTAMP,
    POP_CK,
    POP_CK_OFFSET,
    FIRST_POP_TIME,
    TRANSACTION_PREPARED_QUEUE_OFFSET,
    DUP_INFO,
    EXTEND_UNIQ_INFO,
    INSTANCE_ID,
    CORRELATION_ID,
    MESSAGE_REPLY_TO_CLIENT,
    MESSAGE_TTL,
    REPLY_MESSAGE_ARRIVE_TIME,
    PUSH_REPLY_TIME,
    CLUSTER,
    MESSAGE_TYPE,
    INNER_MULTI_QUEUE_OFFSET,
    TIMER_DELAY_MS,
    TIMER_DELAY_SEC,
    TIMER_DELIVER_MS,
    TIMER_ENQUEUE_MS,
    TIMER_DEQUEUE_MS,
    TIMER_ROLL_TIMES,
    TIMER_OUT_MS,
    TIMER_DEL_UNIQKEY,
    TIMER_DELAY_LEVEL,
    BORN_HOST,
    BORN_TIMESTAMP,
    DLQ_ORIGIN_TOPIC,
    DLQ_ORIGIN_MESSAGE_ID,
    CRC32,
];

/// Whether `name` is reserved for the system (see [`SYSTEM_PROPERTIES`]).
pub fn is_system_property(name: &str) -> bool {
    SYSTEM_PROPERTIES.contains(&name)
}

fn check_part(what: &'static str, s: &str) -> Result<()> {
    if s.bytes().any(|b| b == 0x01 || b == 0x02) {
        return Err(ProtocolError::invalid_field(what, s));
    }
    Ok(())
}

/// Check that `props` can be encoded: no name or value contains `0x01`/`0x02`, and the encoded string fits
/// in [`MAX_PROPERTIES_LEN`] bytes. Returns the encoded length.
pub fn validate_properties(props: &Properties) -> Result<usize> {
    for (k, v) in props.iter() {
        check_part("property name", k)?;
        check_part("property value", v)?;
    }
    let len = props.encoded_len();
    if len > MAX_PROPERTIES_LEN {
        return Err(ProtocolError::TooLarge {
            what: "properties",
            len,
            max: MAX_PROPERTIES_LEN,
        });
    }
    Ok(len)
}

/// Encode `props` as the wire string (the form the send header's `properties` field carries).
///
/// Fails with [`ProtocolError::InvalidField`] if a name or value contains `0x01` or `0x02`, and with
/// [`ProtocolError::TooLarge`] beyond 32767 bytes. Empty names or values are written but Java (and
/// [`decode_properties`]) drop them when reading.
pub fn encode_properties(props: &Properties) -> Result<String> {
    let len = validate_properties(props)?;
    let mut s = String::with_capacity(len);
    for (k, v) in props.iter() {
        s.push_str(k);
        s.push(NAME_VALUE_SEPARATOR);
        s.push_str(v);
        s.push(PROPERTY_SEPARATOR);
    }
    Ok(s)
}

/// Append the encoded `props` to `out` and return the number of bytes written (see [`encode_properties`]).
pub fn encode_properties_into(props: &Properties, out: &mut BytesMut) -> Result<usize> {
    let len = validate_properties(props)?;
    out.reserve(len);
    for (k, v) in props.iter() {
        out.put_slice(k.as_bytes());
        out.put_u8(0x01);
        out.put_slice(v.as_bytes());
        out.put_u8(0x02);
    }
    Ok(len)
}

/// Decode a properties string with Java's lenient rules (`MessageDecoder.string2messageProperties`).
///
/// The string is split on `0x02`; a segment is kept only if it has a non-empty name before its first
/// `0x01` and a non-empty value after it (the value may itself contain `0x01`). Anything else is
/// silently dropped, and a later duplicate name overrides an earlier one. Invalid UTF-8 is replaced by
/// U+FFFD, as Java's `new String(bytes, UTF_8)` does.
pub fn decode_properties(bytes: &[u8]) -> Properties {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    Properties::parse(text)
}

/// [`decode_properties`] over an already decoded string (e.g. the send header's `properties` field).
pub fn decode_properties_str(s: &str) -> Properties {
    Properties::parse(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
    }

    #[test]
    fn encodes_with_trailing_separator() {
        let p = props(&[("TAGS", "tagA"), ("KEYS", "k1 k2"), ("WAIT", "true")]);
        let s = encode_properties(&p).unwrap();
        assert_eq!(s, "TAGS\u{1}tagA\u{2}KEYS\u{1}k1 k2\u{2}WAIT\u{1}true\u{2}");
        assert_eq!(s.len(), p.encoded_len());
        let mut buf = BytesMut::new();
        assert_eq!(encode_properties_into(&p, &mut buf).unwrap(), s.len());
        assert_eq!(&buf[..], s.as_bytes());
        assert_eq!(encode_properties(&Properties::new()).unwrap(), "");
    }

    #[test]
    fn decode_round_trip_keeps_order() {
        let p = props(&[("b", "2"), ("a", "1"), ("ключ", "значение ✓")]);
        let back = decode_properties(encode_properties(&p).unwrap().as_bytes());
        assert_eq!(back, p);
        assert_eq!(back.keys().collect::<Vec<_>>(), ["b", "a", "ключ"]);
    }

    #[test]
    fn java_lenient_rules() {
        // empty value, empty name, no separator, too short, trailing junk without 0x02
        let s = "a\u{1}\u{2}\u{1}v\u{2}novalue\u{2}x\u{2}k\u{1}v\u{2}\u{2}\u{2}tail\u{1}end";
        let p = decode_properties(s.as_bytes());
        assert_eq!(p, props(&[("k", "v"), ("tail", "end")]));
        // the value may contain 0x01 (only the first one separates)
        let p = decode_properties(b"k\x01a\x01b\x02");
        assert_eq!(p.get("k"), Some("a\u{1}b"));
        // last duplicate wins, first position kept
        let p = decode_properties(b"a\x011\x02b\x012\x02a\x013\x02");
        assert_eq!(p.iter().collect::<Vec<_>>(), [("a", "3"), ("b", "2")]);
        assert!(decode_properties(b"").is_empty());
        assert!(decode_properties(b"\x02\x02\x01\x01").is_empty());
    }

    #[test]
    fn many_duplicates_dedup() {
        let mut s = String::new();
        for i in 0..1000 {
            s.push_str(&format!("k{}\u{1}{i}\u{2}", i % 10));
        }
        let p = decode_properties(s.as_bytes());
        assert_eq!(p.len(), 10);
        assert_eq!(p.get("k3"), Some("993"));
        assert_eq!(p.keys().next(), Some("k0"));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let p = decode_properties(b"k\x01\xff\x02");
        assert_eq!(p.get("k"), Some("\u{FFFD}"));
    }

    #[test]
    fn rejects_separators_and_oversize() {
        for bad in [
            props(&[("a\u{1}", "v")]),
            props(&[("a", "v\u{2}")]),
            props(&[("a", "\u{1}")]),
        ] {
            assert!(matches!(
                encode_properties(&bad),
                Err(ProtocolError::InvalidField { .. })
            ));
        }
        let big = props(&[("k", &"x".repeat(MAX_PROPERTIES_LEN - 3))]);
        assert_eq!(encode_properties(&big).unwrap().len(), MAX_PROPERTIES_LEN);
        let too_big = props(&[("k", &"x".repeat(MAX_PROPERTIES_LEN - 2))]);
        assert_eq!(
            encode_properties(&too_big),
            Err(ProtocolError::TooLarge {
                what: "properties",
                len: MAX_PROPERTIES_LEN + 1,
                max: MAX_PROPERTIES_LEN
            })
        );
    }

    #[test]
    fn system_set() {
        assert_eq!(SYSTEM_PROPERTIES.len(), 51);
        assert!(is_system_property("UNIQ_KEY"));
        assert!(is_system_property("__CRC32#"));
        assert!(!is_system_property("__SHARDINGKEY"));
        assert!(!is_system_property("my-key"));
    }
}
