//! Runs every input of the fuzz corpora (`fuzz/corpus/<target>/`) and any saved crash
//! (`fuzz/artifacts/<target>/`) through the same decoders and checks as the fuzz targets, on stable, so CI
//! guards them without nightly or cargo-fuzz. `client_driver` needs the client and runs in
//! `crates/rmq-client/tests/fuzz_corpus.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use rmq_protocol::frame;
use rmq_protocol::message::{
    decode_batch, decode_messages_with, decode_properties, encode_batch, encode_message_ext,
    encode_properties, split_inner_batch, DecodeOptions, MessageIter,
};
use rmq_protocol::route::{ClusterInfo, TopicRouteData};

/// The body of the `response_decode` target, compiled here from the same file.
#[path = "../../../fuzz/drivers/response_decode.rs"]
mod response_decode;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Same body as `fuzz/fuzz_targets/frame_decode.rs`.
fn frame_decode(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(cmd)) = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME) {
        let _ = frame::encode_to_bytes(&cmd);
    }
}

/// Same body as `fuzz/fuzz_targets/message_batch_decode.rs`.
fn message_batch_decode(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let opts = DecodeOptions {
        max_body: 1 << 20,
        ..DecodeOptions::default()
    };
    let _ = decode_messages_with(&body, &opts);
    for msg in MessageIter::new(body.clone(), opts).flatten() {
        let _ = msg.msg_id();
        let _ = split_inner_batch(&msg);
        if let Ok(again) = encode_message_ext(&msg) {
            let raw = DecodeOptions {
                decompress: false,
                ..opts
            };
            let back = decode_messages_with(&again, &raw).expect("re-encoded message must decode");
            assert_eq!(back.len(), 1);
            assert_eq!(back[0].body, msg.body);
            assert_eq!(back[0].properties, msg.properties);
            assert_eq!(back[0].topic, msg.topic);
        }
    }
    if let Ok(msgs) = decode_batch(&body) {
        if let Ok(again) = encode_batch(&msgs) {
            assert_eq!(decode_batch(&again).expect("re-encoded batch must decode"), msgs);
        }
    }
}

/// Same body as `fuzz/fuzz_targets/properties_decode.rs`.
fn properties_decode(data: &[u8]) {
    let props = decode_properties(data);
    for (k, v) in props.iter() {
        assert!(!k.is_empty() && !v.is_empty());
    }
    if let Ok(wire) = encode_properties(&props) {
        assert_eq!(decode_properties(wire.as_bytes()), props);
    }
}

/// Same body as `fuzz/fuzz_targets/route_json.rs`.
fn route_json(data: &[u8]) {
    let _ = TopicRouteData::from_json(data);
    let _ = ClusterInfo::from_json(data);
}

/// The target's body, or `None` for a target whose corpus another crate's test runs.
fn target_fn(name: &str) -> Option<fn(&[u8])> {
    Some(match name {
        "client_driver" => return None,
        "frame_decode" => frame_decode,
        "message_batch_decode" => message_batch_decode,
        "properties_decode" => properties_decode,
        "response_decode" => response_decode::run,
        "route_json" => route_json,
        other => panic!("fuzz corpus for unknown target {other:?}: add it to tests/fuzz_corpus.rs"),
    })
}

/// Run every file under `fuzz/<kind>/<target>/`; returns how many inputs ran per target.
fn run_all(kind: &str) -> Vec<(String, usize)> {
    let root = fuzz_dir().join(kind);
    let mut out = Vec::new();
    let Ok(targets) = std::fs::read_dir(&root) else {
        return out;
    };
    let mut targets: Vec<_> = targets
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    targets.sort();
    for dir in targets {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some(run) = target_fn(&name) else {
            continue;
        };
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in &files {
            let data = std::fs::read(file).unwrap();
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{} panicked on {}", name, file.display());
        }
        out.push((name, files.len()));
    }
    out
}

#[test]
fn corpora_never_panic() {
    let ran = run_all("corpus");
    let names: Vec<&str> = ran.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "frame_decode",
            "message_batch_decode",
            "properties_decode",
            "response_decode",
            "route_json"
        ]
    );
    for (name, n) in &ran {
        assert!(*n > 0, "empty corpus for {name}");
    }
}

#[test]
fn saved_crashes_stay_fixed() {
    // `fuzz/artifacts/<target>/` holds crash inputs while they are being fixed; fixed ones are copied into
    // the corpus. Either way none may panic.
    run_all("artifacts");
}
