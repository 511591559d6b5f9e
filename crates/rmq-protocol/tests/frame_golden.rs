//! Frames produced by the real Java `RemotingCommand` + `NettyEncoder` (see fixtures/README.md):
//! we decode every field as Java set it, and re-encode to the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bytes::BytesMut;
use rmq_protocol::{frame, SerializeType};
use serde_json::Value;

fn fixtures(prefix: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".json") {
            let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((name, v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no {prefix}* fixtures in {}", dir.display());
    out
}

#[test]
fn java_frames_decode_field_by_field() {
    for (name, fx) in fixtures("frame_") {
        let bytes = hex::decode(fx["hex"].as_str().unwrap()).unwrap();
        let exp = &fx["expected"];
        let mut buf = BytesMut::from(&bytes[..]);
        let cmd = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
            .unwrap()
            .expect(&name);
        assert!(buf.is_empty(), "{name}: frame not fully consumed");
        assert_eq!(cmd.code as i64, exp["code"].as_i64().unwrap(), "{name}: code");
        assert_eq!(cmd.language.name(), exp["language"].as_str(), "{name}: language");
        assert_eq!(
            cmd.version as i64,
            exp["version"].as_i64().unwrap(),
            "{name}: version"
        );
        assert_eq!(
            cmd.opaque as i64,
            exp["opaque"].as_i64().unwrap(),
            "{name}: opaque"
        );
        assert_eq!(cmd.flag as i64, exp["flag"].as_i64().unwrap(), "{name}: flag");
        assert_eq!(cmd.is_response(), exp["is_response"].as_bool().unwrap(), "{name}");
        assert_eq!(cmd.is_oneway(), exp["is_oneway"].as_bool().unwrap(), "{name}");
        assert_eq!(cmd.remark.as_deref(), exp["remark"].as_str(), "{name}: remark");
        let want_type = match exp["serialize_type"].as_str().unwrap() {
            "JSON" => SerializeType::Json,
            _ => SerializeType::RocketMq,
        };
        assert_eq!(cmd.serialize_type, want_type, "{name}");
        // Java reads a zero-length binary value as null; null entries are absent for us.
        let want_ext: Vec<(String, String)> = exp["ext_fields"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let mut got_ext: Vec<(String, String)> = cmd
            .ext_fields
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut want_sorted = want_ext.clone();
        want_sorted.sort();
        got_ext.sort();
        assert_eq!(got_ext, want_sorted, "{name}: ext fields");
        assert_eq!(
            hex::encode(&cmd.body),
            exp["body_hex"].as_str().unwrap(),
            "{name}: body"
        );
    }
}

#[test]
fn our_encoding_matches_java_bytes() {
    for (name, fx) in fixtures("frame_") {
        let bytes = hex::decode(fx["hex"].as_str().unwrap()).unwrap();
        let mut buf = BytesMut::from(&bytes[..]);
        let mut cmd = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
            .unwrap()
            .unwrap();
        // Java writes "" values on the wire and reads them back as null; restore them to compare bytes.
        if let Some(order) = fx["expected"]["ext_wire_order"].as_array() {
            let mut ext = rmq_protocol::ExtFields::new();
            for pair in order {
                let (k, v) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap_or(""));
                ext.insert(k.to_owned(), v.to_owned());
            }
            cmd.ext_fields = ext;
        }
        if name == "frame_code_truncation_rocketmq.json" {
            // Java silently truncates code 200050 to 16 bits (3442) in the binary form; we fall back to
            // JSON, which carries it intact. Check that deliberate difference instead of byte equality.
            let mut pop = cmd.clone();
            pop.code = 200050;
            let ours = frame::encode_to_bytes(&pop).unwrap();
            assert_eq!(ours[4], 0, "{name}: expected JSON fallback");
            let back = frame::decode(&mut BytesMut::from(&ours[..]), frame::DEFAULT_MAX_FRAME)
                .unwrap()
                .unwrap();
            assert_eq!(back.code, 200050);
        }
        let ours = frame::encode_to_bytes(&cmd).unwrap();
        if name == "frame_code_truncation_json.json" {
            // A request Java built without any header object: Java omits `extFields`, we always send
            // `{}` on requests (every request this client makes has a header). Same command otherwise.
            let back = frame::decode(&mut BytesMut::from(&ours[..]), frame::DEFAULT_MAX_FRAME)
                .unwrap()
                .unwrap();
            assert_eq!(back, cmd, "{name}");
            continue;
        }
        assert_eq!(
            hex::encode(&ours),
            hex::encode(&bytes),
            "{name}: re-encoded bytes differ"
        );
    }
}

#[test]
fn every_split_point_of_java_frames_decodes_the_same() {
    for (name, fx) in fixtures("frame_") {
        let bytes = hex::decode(fx["hex"].as_str().unwrap()).unwrap();
        let whole = frame::decode(&mut BytesMut::from(&bytes[..]), frame::DEFAULT_MAX_FRAME)
            .unwrap()
            .unwrap();
        for split in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..split]);
            assert!(
                frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
                    .unwrap()
                    .is_none(),
                "{name}@{split}"
            );
            assert_eq!(buf.len(), split, "partial frame must not be consumed");
            buf.extend_from_slice(&bytes[split..]);
            let got = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
                .unwrap()
                .unwrap();
            assert_eq!(got, whole, "{name}@{split}");
        }
    }
}
