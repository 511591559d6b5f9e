//! Property tests for framing and both header serializations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rmq_protocol::{frame, ExtFields, LanguageCode, ProtocolError, RemotingCommand, SerializeType};

fn arb_command() -> impl Strategy<Value = RemotingCommand> {
    (
        -32768i32..32768,
        0u8..14,
        -32768i32..32768,
        any::<i32>(),
        0i32..4,
        proptest::option::of("\\PC{0,40}"),
        proptest::collection::vec(("[a-zA-Z_]{1,12}", "\\PC{1,30}"), 0..8),
        proptest::collection::vec(any::<u8>(), 0..200),
        any::<bool>(),
    )
        .prop_map(|(code, lang, version, opaque, flag, remark, ext, body, binary)| {
            let ext: ExtFields = ext.into_iter().collect();
            RemotingCommand {
                code,
                language: LanguageCode(lang),
                version,
                opaque,
                flag,
                remark: remark.filter(|r| !r.is_empty()),
                ext_fields: ext,
                body: Bytes::from(body),
                serialize_type: if binary {
                    SerializeType::RocketMq
                } else {
                    SerializeType::Json
                },
            }
        })
}

proptest! {
    #[test]
    fn round_trip(cmd in arb_command()) {
        let mut buf = BytesMut::new();
        frame::encode(&cmd, &mut buf).unwrap();
        let back = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(back, cmd);
    }

    #[test]
    fn decode_at_every_split_point(cmds in proptest::collection::vec(arb_command(), 1..4), cut in any::<prop::sample::Index>()) {
        let mut wire = BytesMut::new();
        for c in &cmds {
            frame::encode(c, &mut wire).unwrap();
        }
        let cut = cut.index(wire.len() + 1);
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut got = Vec::new();
        while let Some(c) = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME).unwrap() {
            got.push(c);
        }
        buf.extend_from_slice(&wire[cut..]);
        while let Some(c) = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME).unwrap() {
            got.push(c);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, cmds);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut buf = BytesMut::from(&bytes[..]);
        for _ in 0..4 {
            match frame::decode(&mut buf, 1 << 16) {
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
    }
}

#[test]
fn hostile_lengths_are_typed_errors() {
    let max = frame::DEFAULT_MAX_FRAME;
    let check = |b: &[u8]| frame::decode(&mut BytesMut::from(b), max);
    // The HTTP/2 preface read as a length.
    assert!(matches!(
        check(b"PRI * HTTP/2.0"),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
    assert!(matches!(
        check(&[0x80, 0, 0, 0]),
        Err(ProtocolError::InvalidFrameLength(_))
    ));
    assert!(matches!(
        check(&[0, 0, 0, 2]),
        Err(ProtocolError::InvalidFrameLength(2))
    ));
    // Header length beyond the frame, detected from the first 8 bytes already.
    assert!(matches!(
        check(&[0, 0, 0, 8, 0, 0, 0, 9]),
        Err(ProtocolError::HeaderLengthOutOfRange { .. })
    ));
    // Unknown serialize type.
    assert!(matches!(
        check(&[0, 0, 0, 8, 2, 0, 0, 0]),
        Err(ProtocolError::UnknownSerializeType(2))
    ));
    // Just over a configured limit.
    let mut b = BytesMut::new();
    frame::encode(
        &RemotingCommand::new_request(rmq_protocol::RequestCode(1), ExtFields::new())
            .with_body(vec![0u8; 100]),
        &mut b,
    )
    .unwrap();
    let n = b.len();
    assert!(matches!(
        frame::decode(&mut b.clone(), n - 1),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
    assert!(frame::decode(&mut b, n).unwrap().is_some());
}

#[test]
fn bad_headers_are_typed_errors() {
    // JSON header that is not JSON.
    let mut f = BytesMut::from(&[0, 0, 0, 7, 0, 0, 0, 3, b'{', b'x', b'}'][..]);
    assert!(matches!(
        frame::decode(&mut f, 1024),
        Err(ProtocolError::MalformedHeader { format: "JSON", .. })
    ));
    // Binary header whose remark length runs past the header.
    let mut h = vec![0u8, 1, 12, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];
    h.extend_from_slice(&1000i32.to_be_bytes());
    h.extend_from_slice(&0i32.to_be_bytes());
    let mut f = BytesMut::new();
    f.extend_from_slice(&((4 + h.len()) as u32).to_be_bytes());
    f.extend_from_slice(&((1u32 << 24) | h.len() as u32).to_be_bytes());
    f.extend_from_slice(&h);
    assert!(matches!(
        frame::decode(&mut f, 1024),
        Err(ProtocolError::MalformedHeader {
            format: "ROCKETMQ",
            ..
        })
    ));
    // Binary ext value that is not UTF-8.
    let mut h = vec![0u8, 1, 12, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let entry = [0u8, 1, b'k', 0, 0, 0, 2, 0xff, 0xfe];
    h.extend_from_slice(&(entry.len() as i32).to_be_bytes());
    h.extend_from_slice(&entry);
    let mut f = BytesMut::new();
    f.extend_from_slice(&((4 + h.len()) as u32).to_be_bytes());
    f.extend_from_slice(&((1u32 << 24) | h.len() as u32).to_be_bytes());
    f.extend_from_slice(&h);
    assert!(matches!(
        frame::decode(&mut f, 1024),
        Err(ProtocolError::InvalidUtf8(_))
    ));
}
