//! How one header field converts to and from its ext string, chosen by the field's Rust type.

use crate::error::{ProtocolError, Result};
use crate::ext::ExtFields;

/// A value that has a string form on the wire.
pub(crate) trait ExtScalar: Sized {
    /// The wire string.
    fn to_ext(&self) -> String;
    /// Parse the wire string of `field`.
    fn from_ext(field: &'static str, v: &str) -> Result<Self>;
}

impl ExtScalar for String {
    fn to_ext(&self) -> String {
        self.clone()
    }
    fn from_ext(_field: &'static str, v: &str) -> Result<Self> {
        Ok(v.to_owned())
    }
}

macro_rules! int_scalar {
    ($($t:ty),*) => {$(
        impl ExtScalar for $t {
            fn to_ext(&self) -> String {
                self.to_string()
            }
            fn from_ext(field: &'static str, v: &str) -> Result<Self> {
                v.trim().parse().map_err(|_| ProtocolError::invalid_field(field, v))
            }
        }
    )*};
}
int_scalar!(i32, i64);

impl ExtScalar for bool {
    fn to_ext(&self) -> String {
        if *self { "true" } else { "false" }.to_owned()
    }
    /// Java `Boolean.parseBoolean`: "true" in any case is true, everything else false.
    fn from_ext(_field: &'static str, v: &str) -> Result<Self> {
        Ok(v.eq_ignore_ascii_case("true"))
    }
}

/// A header field: how it is written and how its absence is treated.
pub(crate) trait ExtField: Sized {
    /// Write under `key` (or not at all).
    fn put(&self, key: &'static str, ext: &mut ExtFields);
    /// Read `key` of header `header`.
    fn take(ext: &ExtFields, header: &'static str, key: &'static str) -> Result<Self>;
}

/// Required (`@CFNotNull`) fields: always written, absence is an error.
macro_rules! required_field {
    ($($t:ty),*) => {$(
        impl ExtField for $t {
            fn put(&self, key: &'static str, ext: &mut ExtFields) {
                ext.insert(key, self.to_ext());
            }
            fn take(ext: &ExtFields, header: &'static str, key: &'static str) -> Result<Self> {
                <$t as ExtScalar>::from_ext(key, ext.required(header, key)?)
            }
        }
    )*};
}
required_field!(String, i32, i64);

/// A Java primitive `boolean`: always written, `false` when absent.
impl ExtField for bool {
    fn put(&self, key: &'static str, ext: &mut ExtFields) {
        ext.insert(key, self.to_ext());
    }
    fn take(ext: &ExtFields, _header: &'static str, key: &'static str) -> Result<Self> {
        Ok(ext.optional_bool(key).unwrap_or(false))
    }
}

/// A nullable field: written when `Some`.
impl<T: ExtScalar> ExtField for Option<T> {
    fn put(&self, key: &'static str, ext: &mut ExtFields) {
        if let Some(v) = self {
            ext.insert(key, v.to_ext());
        }
    }
    fn take(ext: &ExtFields, _header: &'static str, key: &'static str) -> Result<Self> {
        ext.get(key).map(|v| T::from_ext(key, v)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_and_primitive_semantics() {
        let mut ext = ExtFields::new();
        ext.insert("n", "12x");
        assert!(matches!(
            <Option<i32> as ExtField>::take(&ext, "H", "n"),
            Err(ProtocolError::InvalidField { field: "n", .. })
        ));
        assert_eq!(<Option<i32> as ExtField>::take(&ext, "H", "m"), Ok(None));
        assert_eq!(<bool as ExtField>::take(&ext, "H", "m"), Ok(false));
        assert!(matches!(
            <String as ExtField>::take(&ext, "H", "m"),
            Err(ProtocolError::MissingField {
                header: "H",
                field: "m"
            })
        ));
    }
}
