//! Decode arbitrary bytes as a properties string; never panic, and the result re-encodes to a string
//! that decodes to the same map.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::{decode_properties, encode_properties};

fuzz_target!(|data: &[u8]| {
    let props = decode_properties(data);
    for (k, v) in props.iter() {
        assert!(!k.is_empty() && !v.is_empty());
    }
    if let Ok(wire) = encode_properties(&props) {
        assert_eq!(decode_properties(wire.as_bytes()), props);
    }
});
