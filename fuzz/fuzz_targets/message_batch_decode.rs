//! Decode arbitrary bytes as a pull body (stored messages) and as a batch body; never panic, and
//! whatever decodes must re-encode and decode to the same values.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::{
    decode_batch, decode_messages_with, encode_batch, encode_message_ext, split_inner_batch, DecodeOptions,
    MessageIter,
};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    // A small cap keeps hostile compressed bodies cheap.
    let opts = DecodeOptions {
        max_body: 1 << 20,
        ..DecodeOptions::default()
    };
    let _ = decode_messages_with(&body, &opts);
    for msg in MessageIter::new(body.clone(), opts).flatten() {
        let _ = msg.msg_id();
        let _ = split_inner_batch(&msg);
        // Decoded values re-encode unless their properties cannot be written (e.g. a value with 0x01).
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
});
