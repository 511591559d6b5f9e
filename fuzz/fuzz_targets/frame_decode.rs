//! Feed arbitrary bytes to the frame decoder, draining every complete frame; it must never panic.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::frame;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    // Each successful decode consumes at least a 4-byte length prefix, so this loop terminates.
    while let Ok(Some(cmd)) = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME) {
        // Whatever decodes must encode again.
        let _ = frame::encode_to_bytes(&cmd);
    }
});
