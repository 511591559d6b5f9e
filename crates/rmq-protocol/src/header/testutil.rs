//! Shared helpers for the header unit tests.

use crate::error::ProtocolError;
use crate::ext::{CommandHeader, ExtFields};

/// Encode `h`, decode it back, assert equality, and return the ext map.
pub(crate) fn round_trip<H: CommandHeader + PartialEq + std::fmt::Debug>(h: H) -> ExtFields {
    let ext = h.to_ext();
    assert_eq!(H::read_from(&ext).unwrap(), h);
    ext
}

/// Assert that removing `key` from `ext` makes decoding fail with `MissingField` naming it.
pub(crate) fn assert_missing<H: CommandHeader + std::fmt::Debug>(ext: &ExtFields, key: &'static str) {
    let mut e = ext.clone();
    e.remove(key);
    match H::read_from(&e) {
        Err(ProtocolError::MissingField { field, .. }) => assert_eq!(field, key),
        other => panic!("expected MissingField({key}), got {other:?}"),
    }
}
