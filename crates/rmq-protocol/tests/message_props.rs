//! Property tests for the message codec: round trips, truncation and garbage never panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rmq_protocol::message::{
    compress, create_offset_msg_id, decode_batch, decode_message, decode_messages, decode_offset_msg_id,
    decode_properties, encode_batch, encode_message_ext_into, encode_properties, sysflag, CompressionType,
    DecodeOptions, Message, MessageExt, MessageIter, MessageVersion, Properties,
};

fn prop_text() -> impl Strategy<Value = String> {
    // any non-empty string without the two separators, including non-ASCII and control characters
    proptest::string::string_regex("[^\u{1}\u{2}]{1,24}").unwrap()
}

fn properties() -> impl Strategy<Value = Properties> {
    proptest::collection::vec((prop_text(), prop_text()), 0..12).prop_map(|pairs| pairs.into_iter().collect())
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            // an IPv4-mapped address decodes as IPv4, as in Java; that case has its own unit test
            .prop_filter("not IPv4-mapped", |(ip, _)| Ipv6Addr::from(*ip)
                .to_ipv4_mapped()
                .is_none())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Packing {
    Plain,
    Compressed(CompressionType),
    /// ZLIB announced with compression bits 0 (pre-4.9.4 clients).
    LegacyZlib,
}

fn packing() -> impl Strategy<Value = Packing> {
    prop_oneof![
        3 => Just(Packing::Plain),
        1 => Just(Packing::Compressed(CompressionType::Zlib)),
        1 => Just(Packing::Compressed(CompressionType::Lz4)),
        1 => Just(Packing::Compressed(CompressionType::Zstd)),
        1 => Just(Packing::LegacyZlib),
    ]
}

fn message_ext() -> impl Strategy<Value = MessageExt> {
    let head = (
        proptest::string::string_regex("[a-zA-Z0-9_%|-]{1,200}").unwrap(),
        proptest::collection::vec(any::<u8>(), 0..600),
        any::<i32>(),
        properties(),
        any::<i32>(),
        any::<i64>(),
        prop_oneof![
            Just(0),
            Just(sysflag::MULTI_TAGS),
            Just(sysflag::TRANSACTION_PREPARED_TYPE),
            Just(0xC)
        ],
    );
    let tail = (
        any::<i64>(),
        socket_addr(),
        any::<i64>(),
        socket_addr(),
        any::<i64>(),
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
    );
    (head, tail).prop_map(
        |((topic, body, flag, properties, queue_id, queue_offset, sys_flag), t)| MessageExt {
            message: Message {
                topic,
                body: body.into(),
                flag,
                properties,
            },
            queue_id,
            store_size: 0,
            queue_offset,
            sys_flag,
            born_timestamp: t.0,
            born_host: t.1,
            store_timestamp: t.2,
            store_host: t.3,
            commit_log_offset: t.4,
            body_crc: t.5,
            reconsume_times: t.6,
            prepared_transaction_offset: t.7,
        },
    )
}

/// The stored form of `m` under `packing` and what decoding it must give back.
fn stored_and_expected(m: &MessageExt, packing: Packing, version: MessageVersion) -> (Bytes, MessageExt) {
    let mut stored = m.clone();
    match packing {
        Packing::Plain => {}
        Packing::Compressed(ty) => {
            stored.body = compress(ty, 5, &m.body).unwrap().into();
            stored.sys_flag |= sysflag::COMPRESSED | ty.sys_flag_bits();
        }
        Packing::LegacyZlib => {
            stored.body = compress(CompressionType::Zlib, 5, &m.body).unwrap().into();
            stored.sys_flag |= sysflag::COMPRESSED;
        }
    }
    let mut out = BytesMut::new();
    encode_message_ext_into(&stored, version, &mut out).unwrap();
    let bytes = out.freeze();

    let mut expected = stored;
    expected.store_size = bytes.len() as i32;
    if m.born_host.is_ipv6() {
        expected.sys_flag |= sysflag::BORNHOST_V6;
    }
    if m.store_host.is_ipv6() {
        expected.sys_flag |= sysflag::STOREHOST_V6;
    }
    if !expected.body.is_empty() {
        // decompressed, COMPRESSED cleared (type bits kept); an empty stored body is never decompressed
        expected.body = m.body.clone();
        expected.sys_flag &= !sysflag::COMPRESSED;
    }
    (bytes, expected)
}

fn version(topic: &str, force_v2: bool) -> MessageVersion {
    if force_v2 || topic.len() > 127 {
        MessageVersion::V2
    } else {
        MessageVersion::V1
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn properties_round_trip(props in properties()) {
        let wire = encode_properties(&props).unwrap();
        prop_assert_eq!(wire.len(), props.encoded_len());
        let back = decode_properties(wire.as_bytes());
        prop_assert_eq!(&back, &props);
        prop_assert!(back.keys().eq(props.keys()), "insertion order kept");
    }

    #[test]
    fn properties_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let p = decode_properties(&bytes);
        for (k, v) in p.iter() {
            prop_assert!(!k.is_empty() && !v.is_empty());
            prop_assert!(!k.contains(['\u{1}', '\u{2}']) && !v.contains('\u{2}'), "bad pair");
        }
    }

    #[test]
    fn properties_decode_matches_reference(
        bytes in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(b'a'), Just(b'b'), Just(0x80), Just(0xC3), Just(0xA9)],
            0..120,
        )
    ) {
        // Java's rules, written naively: split on 0x02, name before the first 0x01, both non-empty,
        // last value wins at the first position.
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut want: Vec<(String, String)> = Vec::new();
        for seg in text.split('\u{2}') {
            if let Some((k, v)) = seg.split_once('\u{1}') {
                if !k.is_empty() && !v.is_empty() {
                    match want.iter_mut().find(|(wk, _)| wk == k) {
                        Some(slot) => slot.1 = v.to_owned(),
                        None => want.push((k.to_owned(), v.to_owned())),
                    }
                }
            }
        }
        let got = decode_properties(&bytes);
        let got: Vec<(String, String)> = got.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn message_ext_round_trip(m in message_ext(), packing in packing(), force_v2 in any::<bool>()) {
        let (bytes, expected) = stored_and_expected(&m, packing, version(&m.topic, force_v2));
        let mut buf = bytes.clone();
        let back = decode_message(&mut buf).unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(&back, &expected);
        prop_assert_eq!(back.offset_msg_id(), create_offset_msg_id(m.store_host, m.commit_log_offset));
    }

    #[test]
    fn pull_body_truncation_is_an_error_or_a_prefix(
        msgs in proptest::collection::vec((message_ext(), packing()), 1..4),
        cut_frac in 0.0f64..1.0,
    ) {
        let mut body = BytesMut::new();
        let mut expected = Vec::new();
        for (m, p) in &msgs {
            let (bytes, e) = stored_and_expected(m, *p, version(&m.topic, false));
            body.extend_from_slice(&bytes);
            expected.push(e);
        }
        let body = body.freeze();
        prop_assert_eq!(&decode_messages(&body).unwrap(), &expected);
        let cut = ((body.len() as f64) * cut_frac) as usize;
        let truncated = body.slice(..cut);
        match decode_messages(&truncated) {
            Ok(got) => {
                prop_assert!(got.len() < expected.len());
                prop_assert_eq!(&got[..], &expected[..got.len()]);
            }
            Err(_) => {
                let ok: Vec<_> = MessageIter::new(truncated, DecodeOptions::default())
                    .take_while(|r| r.is_ok())
                    .map(|r| r.unwrap())
                    .collect();
                prop_assert_eq!(&ok[..], &expected[..ok.len()]);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), magic_v2 in any::<bool>()) {
        let _ = decode_messages(&Bytes::from(bytes.clone()));
        let _ = decode_batch(&Bytes::from(bytes.clone()));
        // again with a valid magic so the decoder gets past the header
        let mut b = bytes;
        if b.len() >= 8 {
            let magic = if magic_v2 { MessageVersion::V2 } else { MessageVersion::V1 }.magic_code();
            b[4..8].copy_from_slice(&magic.to_be_bytes());
            let _ = decode_messages(&Bytes::from(b));
        }
    }

    #[test]
    fn batch_round_trip(items in proptest::collection::vec(
        (proptest::collection::vec(any::<u8>(), 0..200), any::<i32>(), properties()), 0..6)
    ) {
        let msgs: Vec<Message> = items
            .into_iter()
            .map(|(body, flag, properties)| Message { topic: String::new(), body: body.into(), flag, properties })
            .collect();
        let bytes = encode_batch(&msgs).unwrap();
        prop_assert_eq!(decode_batch(&bytes).unwrap(), msgs);
    }

    #[test]
    fn offset_msg_id_round_trip(addr in socket_addr(), offset in any::<i64>()) {
        let id = create_offset_msg_id(addr, offset);
        prop_assert_eq!(id.len(), if addr.is_ipv4() { 32 } else { 56 });
        prop_assert!(id.bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)));
        prop_assert_eq!(decode_offset_msg_id(&id).unwrap(), (addr, offset));
    }

    #[test]
    fn offset_msg_id_decode_never_panics(s in "\\PC{0,60}") {
        let _ = decode_offset_msg_id(&s);
    }
}
