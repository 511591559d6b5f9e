//! [`Properties`]: the ordered string map of a message, stored compactly.
//!
//! All names and values live in one `String` and the map keeps byte ranges into it, so a decoded map
//! costs two allocations however many pairs it has (decoding a pull body is the hot path). Replacing or
//! removing a pair leaves its old bytes behind until they outweigh the live ones, when the text is
//! compacted.

use std::fmt;

/// One pair: byte ranges of the name and the value in [`Properties::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    name: (usize, usize),
    value: (usize, usize),
}

/// A message's properties: string names to string values, in insertion order.
///
/// Inserting an existing name replaces its value in place (as a Java `HashMap` does, last one wins).
/// Lookups are linear, which beats hashing for the handful of pairs real messages carry. Equality ignores
/// order: two maps are equal when they hold the same pairs.
///
/// ```
/// use rmq_protocol::message::Properties;
///
/// let mut p = Properties::new();
/// p.insert("TAGS", "TagA");
/// p.insert("KEYS", "k1 k2");
/// p.insert("TAGS", "TagB");
/// assert_eq!(p.get("TAGS"), Some("TagB"));
/// assert_eq!(p.iter().collect::<Vec<_>>(), [("TAGS", "TagB"), ("KEYS", "k1 k2")]);
/// ```
#[derive(Clone, Default)]
pub struct Properties {
    text: String,
    entries: Vec<Entry>,
}

impl Properties {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` pairs.
    pub fn with_capacity(n: usize) -> Self {
        Properties {
            text: String::with_capacity(n * 16),
            entries: Vec::with_capacity(n),
        }
    }

    /// Parse a properties string with Java's lenient rules (see
    /// [`decode_properties`](crate::message::decode_properties)), keeping `text` as the storage.
    pub(crate) fn parse(text: String) -> Self {
        let bytes = text.as_bytes();
        let mut entries = Vec::with_capacity(8);
        let mut seg_start = 0;
        let mut sep = None;
        let mut i = 0;
        while i < bytes.len() {
            // Word at a time: find the first byte below 3 (a separator, or NUL) among the next 8; the
            // bytes before it need no look. Names and values are mostly printable text.
            let j = match bytes.get(i..i + 8) {
                Some(chunk) => {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(chunk);
                    let x = u64::from_le_bytes(word);
                    let low = x.wrapping_sub(0x0303_0303_0303_0303) & !x & 0x8080_8080_8080_8080;
                    if low == 0 {
                        i += 8;
                        continue;
                    }
                    // The lowest flagged byte is exact (false positives only occur above a true one).
                    i + (low.trailing_zeros() / 8) as usize
                }
                None => i,
            };
            match bytes[j] {
                0x02 => {
                    push_segment(&mut entries, seg_start, sep, j);
                    seg_start = j + 1;
                    sep = None;
                }
                0x01 if sep.is_none() => sep = Some(j),
                _ => {}
            }
            i = j + 1;
        }
        push_segment(&mut entries, seg_start, sep, bytes.len());
        let mut props = Properties { text, entries };
        props.dedup_last_wins();
        props
    }

    fn slice(&self, (start, end): (usize, usize)) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|e| self.slice(e.name) == name)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| self.slice(e.name) == name)
            .map(|e| self.slice(e.value))
    }

    /// Whether `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    fn append(&mut self, s: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    /// Set `name` to `value`, returning the previous value.
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Option<String> {
        let (name, value) = (name.as_ref(), value.as_ref());
        match self.position(name) {
            Some(i) => {
                let old = self.slice(self.entries[i].value).to_owned();
                self.entries[i].value = self.append(value);
                self.maybe_compact();
                Some(old)
            }
            None => {
                let name = self.append(name);
                let value = self.append(value);
                self.entries.push(Entry { name, value });
                None
            }
        }
    }

    /// Remove `name`, returning its value. Keeps the order of the other pairs.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.position(name)?;
        let old = self.slice(self.entries[i].value).to_owned();
        self.entries.remove(i);
        self.maybe_compact();
        Some(old)
    }

    /// Remove every pair.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.text.clear();
    }

    /// The pairs in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            props: self,
            inner: self.entries.iter(),
        }
    }

    /// The names in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Keep only the pairs for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let text = &self.text;
        let slice = |(s, e): (usize, usize)| text.get(s..e).unwrap_or_default();
        self.entries.retain(|e| keep(slice(e.name), slice(e.value)));
        self.maybe_compact();
    }

    /// Size in bytes of the encoded string (whether or not it is valid to encode).
    pub fn encoded_len(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.name.1 - e.name.0 + e.value.1 - e.value.0 + 2)
            .sum()
    }

    /// Rebuild the text when dead bytes outweigh the live ones.
    fn maybe_compact(&mut self) {
        let live = self.encoded_len();
        if self.text.len() <= 2 * live + 64 {
            return;
        }
        let mut text = String::with_capacity(live);
        for e in &mut self.entries {
            for range in [&mut e.name, &mut e.value] {
                let start = text.len();
                text.push_str(self.text.get(range.0..range.1).unwrap_or_default());
                *range = (start, text.len());
            }
        }
        self.text = text;
    }

    /// Drop later duplicates of a name, keeping its first position and its last value (Java `HashMap.put`
    /// semantics). Quadratic without allocating for a few pairs, sort-based beyond.
    fn dedup_last_wins(&mut self) {
        const LINEAR: usize = 16;
        let n = self.entries.len();
        if n < 2 {
            return;
        }
        let mut keep = vec![true; 0];
        if n <= LINEAR {
            let (text, entries) = (&self.text, &self.entries);
            if !(1..n).any(|i| (0..i).any(|f| same_name(text, entries, f, i))) {
                return; // the common case: no duplicates, no allocation
            }
            keep.resize(n, true);
            for i in 1..n {
                let first = (0..i).find(|&f| keep[f] && same_name(&self.text, &self.entries, f, i));
                if let Some(f) = first {
                    keep[i] = false;
                    self.entries[f].value = self.entries[i].value;
                }
            }
        } else {
            let (text, entries) = (&self.text, &self.entries);
            let name = |i: usize| text.get(entries[i].name.0..entries[i].name.1);
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| name(a).cmp(&name(b)).then(a.cmp(&b)));
            let mut moves = Vec::new();
            for group in order.chunk_by(|&a, &b| name(a) == name(b)) {
                if let [first, .., last] = *group {
                    moves.push((first, last));
                    keep.resize(n, true);
                    for &i in &group[1..] {
                        keep[i] = false;
                    }
                }
            }
            if moves.is_empty() {
                return;
            }
            for (first, last) in moves {
                self.entries[first].value = self.entries[last].value;
            }
        }
        let mut keep = keep.into_iter();
        self.entries.retain(|_| keep.next().unwrap_or(true));
    }
}

/// Keep the segment `[start, end)` if it has a non-empty name before its first `0x01` (at `sep`) and a
/// non-empty value after it. The separators are ASCII, so these are char boundaries.
fn push_segment(entries: &mut Vec<Entry>, start: usize, sep: Option<usize>, end: usize) {
    if let Some(sep) = sep {
        if sep > start && sep + 1 < end {
            entries.push(Entry {
                name: (start, sep),
                value: (sep + 1, end),
            });
        }
    }
}

fn same_name(text: &str, entries: &[Entry], a: usize, b: usize) -> bool {
    let (x, y) = (entries[a].name, entries[b].name);
    let bytes = text.as_bytes();
    x.1 - x.0 == y.1 - y.0 && bytes.get(x.0..x.1) == bytes.get(y.0..y.1)
}

/// Iterator over the pairs of a [`Properties`], in insertion order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    props: &'a Properties,
    inner: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let e = self.inner.next()?;
        Some((self.props.slice(e.name), self.props.slice(e.value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Properties {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Eq for Properties {}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut props = Properties::new();
        props.extend(iter);
        props
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Extend<(K, V)> for Properties {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_operations() {
        let mut p = Properties::new();
        assert_eq!(p.insert("a", "1"), None);
        assert_eq!(p.insert("b", String::from("2")), None);
        assert_eq!(p.insert("a", "3"), Some("1".to_owned()));
        assert_eq!(p.iter().collect::<Vec<_>>(), [("a", "3"), ("b", "2")]);
        assert_eq!(p.iter().len(), 2);
        assert!(p.contains_key("b") && !p.contains_key("c"));
        assert_eq!(p.remove("a"), Some("3".to_owned()));
        assert_eq!(p.remove("a"), None);
        assert_eq!(p.len(), 1);
        p.retain(|k, _| k != "b");
        assert!(p.is_empty());
        let x: Properties = [("x", "1"), ("y", "2")].into_iter().collect();
        let y: Properties = [("y", "2"), ("x", "1")].into_iter().collect();
        assert_eq!(x, y);
        assert_ne!(x, [("x", "1")].into_iter().collect::<Properties>());
        assert_eq!(
            format!("{:?}", [("x", "1")].into_iter().collect::<Properties>()),
            r#"{"x": "1"}"#
        );
        p.clear();
        assert_eq!(p.encoded_len(), 0);
    }

    #[test]
    fn repeated_updates_compact() {
        let mut p = Properties::new();
        p.insert("stay", "here");
        for i in 0..10_000 {
            p.insert("counter", i.to_string());
        }
        assert_eq!(p.get("counter"), Some("9999"));
        assert_eq!(p.get("stay"), Some("here"));
        assert!(
            p.text.len() <= 2 * p.encoded_len() + 64,
            "text not compacted: {}",
            p.text.len()
        );
        assert_eq!(p.keys().collect::<Vec<_>>(), ["stay", "counter"]);
    }

    #[test]
    fn dedup_keeps_first_position_last_value() {
        for n in [5usize, 40] {
            let text: String = (0..n).map(|i| format!("k{}\u{1}{i}\u{2}", i % 3)).collect();
            let p = Properties::parse(text);
            let got: Vec<_> = p.iter().collect();
            let last = |r: usize| ((n - 1 - r) / 3 * 3 + r).to_string();
            assert_eq!(
                got,
                [
                    ("k0", last(0).as_str()),
                    ("k1", last(1).as_str()),
                    ("k2", last(2).as_str())
                ],
                "n={n}"
            );
        }
    }
}
