//! The `extFields` map of a command and the trait typed headers implement to convert to and from it.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::{ProtocolError, Result};

/// The custom-header map of a command: string keys to string values, in insertion order.
///
/// Insertion order is kept so that encoding is deterministic (and matches the Java client's "fast codes"
/// order for the send and pull headers). Lookups are linear, which is faster than hashing for the dozen or
/// so entries real headers carry. Inserting an existing key replaces its value (last one wins, as in Java).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExtFields {
    entries: Vec<(Cow<'static, str>, String)>,
}

impl ExtFields {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Insert or replace `key`.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Insert `key` only when `value` is `Some`.
    pub fn insert_opt<V: ToString>(&mut self, key: &'static str, value: Option<V>) {
        if let Some(v) = value {
            self.insert(key, v.to_string());
        }
    }

    /// Remove `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// Iterate in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// A required string field.
    pub fn required(&self, header: &'static str, field: &'static str) -> Result<&str> {
        self.get(field)
            .ok_or(ProtocolError::MissingField { header, field })
    }

    /// A required field parsed with `FromStr` (integers, longs).
    pub fn required_parse<T: FromStr>(&self, header: &'static str, field: &'static str) -> Result<T> {
        let v = self.required(header, field)?;
        v.trim()
            .parse()
            .map_err(|_| ProtocolError::invalid_field(field, v))
    }

    /// An optional field parsed with `FromStr`; an unparseable value is an error.
    pub fn optional_parse<T: FromStr>(&self, field: &'static str) -> Result<Option<T>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ProtocolError::invalid_field(field, v)),
        }
    }

    /// An optional boolean, parsed leniently like Java's `Boolean.parseBoolean` ("true" in any case is
    /// true, anything else false).
    pub fn optional_bool(&self, field: &str) -> Option<bool> {
        self.get(field).map(|v| v.eq_ignore_ascii_case("true"))
    }

    /// An optional string field, owned.
    pub fn optional_string(&self, field: &str) -> Option<String> {
        self.get(field).map(str::to_owned)
    }
}

impl fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<String>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = ExtFields::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

/// A typed custom header: converts to and from a command's [`ExtFields`].
///
/// Encoding never fails; decoding fails with [`ProtocolError::MissingField`] or
/// [`ProtocolError::InvalidField`] when a required field is absent or unparseable.
pub trait CommandHeader: Sized {
    /// Write this header's fields into `ext`.
    fn write_to(&self, ext: &mut ExtFields);

    /// Read this header from `ext`.
    fn read_from(ext: &ExtFields) -> Result<Self>;

    /// Convenience: this header as a fresh map.
    fn to_ext(&self) -> ExtFields {
        let mut ext = ExtFields::new();
        self.write_to(&mut ext);
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_and_keeps_order() {
        let mut m = ExtFields::new();
        m.insert("b", "1");
        m.insert("a", "2");
        m.insert("b", "3");
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![("b", "3"), ("a", "2")]);
        assert_eq!(m.required_parse::<i64>("H", "b"), Ok(3));
        assert!(matches!(
            m.required("H", "zz"),
            Err(ProtocolError::MissingField { field: "zz", .. })
        ));
        m.insert("n", "x1");
        assert!(matches!(
            m.required_parse::<i32>("H", "n"),
            Err(ProtocolError::InvalidField { .. })
        ));
        m.insert("t", "TRUE");
        assert_eq!(m.optional_bool("t"), Some(true));
    }
}
