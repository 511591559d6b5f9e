//! A small tolerant JSON reader and writer for fastjson's non-standard output: object keys that are not
//! strings (bare numbers, or whole JSON objects such as a `MessageQueue`).
//!
//! The reader is iterative over input bytes, bounded in nesting depth, and never panics; anything it
//! cannot make sense of is a [`ProtocolError::Json`].

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{ProtocolError, Result};
use crate::message::MessageQueue;

/// Deepest nesting accepted (serde_json's own default limit is 128).
const MAX_DEPTH: usize = 128;

/// A parsed JSON value whose object keys may be any value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// A number, as written (validated when converted).
    Num(String),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(Node, Node)>),
}

fn err(msg: impl Into<String>) -> ProtocolError {
    ProtocolError::Json(msg.into())
}

/// Parse a whole document.
pub(crate) fn parse(input: &[u8]) -> Result<Node> {
    let mut p = Parser { s: input, pos: 0 };
    let node = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(err(format!("trailing characters at byte {}", p.pos)));
    }
    Ok(node)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(format!("expected '{}' at byte {}", c as char, self.pos)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(err("nesting too deep"));
        }
        self.ws();
        match self.peek() {
            None => Err(err("unexpected end of input")),
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Node::Obj(entries));
                }
                loop {
                    let key = self.value(depth + 1)?;
                    self.expect(b':')?;
                    let val = self.value(depth + 1)?;
                    entries.push((key, val));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Node::Obj(entries));
                        }
                        _ => return Err(err(format!("expected ',' or '}}' at byte {}", self.pos))),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Node::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Node::Arr(items));
                        }
                        _ => return Err(err(format!("expected ',' or ']' at byte {}", self.pos))),
                    }
                }
            }
            Some(b'"') => self.string().map(Node::Str),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while matches!(self.peek(), Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                    self.pos += 1;
                }
                let raw = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                Ok(Node::Num(raw.to_owned()))
            }
            Some(_) => {
                for (word, node) in [
                    ("true", Node::Bool(true)),
                    ("false", Node::Bool(false)),
                    ("null", Node::Null),
                ] {
                    if self.s[self.pos..].starts_with(word.as_bytes()) {
                        self.pos += word.len();
                        return Ok(node);
                    }
                }
                Err(err(format!("unexpected character at byte {}", self.pos)))
            }
        }
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Result<String> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek().ok_or_else(|| err("unterminated string"))?;
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek().ok_or_else(|| err("unterminated escape"))?;
                    self.pos += 1;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(err(format!("bad escape at byte {}", self.pos))),
                    };
                    match simple {
                        Some(b) => out.push(b),
                        None => {
                            let ch = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| err("string is not valid UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| err("truncated \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| err("bad \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| err("bad \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`: one code point, joining a surrogate pair; a lone surrogate becomes U+FFFD.
    fn unicode_escape(&mut self) -> Result<char> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.s[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }
}

impl Node {
    /// The value of string key `key` in an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Obj(entries) => entries.iter().find_map(|(k, v)| match k {
                Node::Str(s) if s == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// Convert to a standard JSON value; non-string keys become their compact JSON text.
    pub(crate) fn to_value(&self) -> Result<Value> {
        Ok(match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(raw) => {
                let n: serde_json::Number = raw.parse().map_err(|_| err(format!("bad number {raw:?}")))?;
                Value::Number(n)
            }
            Node::Str(s) => Value::String(s.clone()),
            Node::Arr(items) => Value::Array(items.iter().map(Node::to_value).collect::<Result<_>>()?),
            Node::Obj(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let key = match k {
                        Node::Str(s) => s.clone(),
                        Node::Num(raw) => raw.clone(),
                        other => {
                            let mut text = String::new();
                            write_canonical(&other.to_value()?, &mut text);
                            text
                        }
                    };
                    map.insert(key, v.to_value()?);
                }
                Value::Object(map)
            }
        })
    }

    /// Deserialize this node (after [`Node::to_value`]) into `T`.
    pub(crate) fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.to_value()?).map_err(|e| err(e.to_string()))
    }
}

/// Compact JSON with object keys sorted at every level (independent of serde_json's `preserve_order`).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json(out, k);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Parse fastjson output (which may use non-string object keys: bare numbers, or whole objects such as
/// a `MessageQueue`) into a standard JSON value. A non-string key becomes its compact JSON text, with an
/// object key's own keys sorted, so equal inputs give equal values.
///
/// ```
/// let v = rmq_protocol::header::parse_fastjson(br#"{{"topic":"t","queueId":0,"brokerName":"b"}:42, 7:"x"}"#).unwrap();
/// assert_eq!(v[r#"{"brokerName":"b","queueId":0,"topic":"t"}"#], 42);
/// assert_eq!(v["7"], "x");
/// ```
pub fn parse_fastjson(bytes: &[u8]) -> Result<Value> {
    parse(bytes)?.to_value()
}

/// A `MessageQueue` written as a map key: a JSON object, a string holding one, or Java's `toString`.
fn mq_from_key(key: &Node) -> Result<MessageQueue> {
    match key {
        Node::Obj(_) => key.deserialize(),
        Node::Str(s) if s.trim_start().starts_with('{') => parse(s.as_bytes())?.deserialize(),
        Node::Str(s) => mq_from_display(s).ok_or_else(|| err(format!("bad MessageQueue key {s:?}"))),
        _ => Err(err("MessageQueue key is not an object")),
    }
}

/// Parse Java's `MessageQueue [topic=t, brokerName=b, queueId=0]`.
fn mq_from_display(s: &str) -> Option<MessageQueue> {
    let inner = s.strip_prefix("MessageQueue [")?.strip_suffix(']')?;
    let rest = inner.strip_prefix("topic=")?;
    let (topic, rest) = rest.split_once(", brokerName=")?;
    let (broker, qid) = rest.rsplit_once(", queueId=")?;
    Some(MessageQueue {
        topic: topic.to_owned(),
        broker_name: broker.to_owned(),
        queue_id: qid.trim().parse().ok()?,
    })
}

/// The entries of a map keyed by `MessageQueue`, in any of the forms seen on the wire:
/// fastjson object keys `{{mq}:v,…}`, string keys (JSON text or Java `toString`), the Gson
/// array-of-pairs form `[[{mq},v],…]`, and the C++ form `[{brokerName,queueId,topic,<value_key>:v},…]`.
pub(crate) fn mq_entries<'a>(node: &'a Node, value_key: &str) -> Result<Vec<(MessageQueue, &'a Node)>> {
    match node {
        Node::Null => Ok(Vec::new()),
        Node::Obj(entries) => entries.iter().map(|(k, v)| Ok((mq_from_key(k)?, v))).collect(),
        Node::Arr(items) => items
            .iter()
            .map(|item| match item {
                Node::Arr(pair) if pair.len() == 2 => Ok((mq_from_key(&pair[0])?, &pair[1])),
                Node::Obj(_) => {
                    let v = item
                        .get(value_key)
                        .ok_or_else(|| err(format!("array entry without {value_key:?}")))?;
                    Ok((item.deserialize()?, v))
                }
                _ => Err(err("unrecognised MessageQueue map entry")),
            })
            .collect(),
        _ => Err(err("MessageQueue map is neither an object nor an array")),
    }
}

/// Append `v` as compact JSON (`null` if it cannot be serialized, which our types never do).
pub(crate) fn push_json<T: Serialize + ?Sized>(out: &mut String, v: &T) {
    match serde_json::to_string(v) {
        Ok(s) => out.push_str(&s),
        Err(_) => out.push_str("null"),
    }
}

/// Append a `MessageQueue` as fastjson writes it: `{"brokerName":…,"queueId":…,"topic":…}`.
pub(crate) fn push_mq(out: &mut String, mq: &MessageQueue) {
    out.push_str("{\"brokerName\":");
    push_json(out, &mq.broker_name);
    out.push_str(",\"queueId\":");
    out.push_str(&mq.queue_id.to_string());
    out.push_str(",\"topic\":");
    push_json(out, &mq.topic);
    out.push('}');
}

/// Append a map keyed by `MessageQueue` in fastjson form: `{{mq}:v,…}`.
pub(crate) fn push_mq_map<'a, V: Serialize + 'a>(
    out: &mut String,
    entries: impl IntoIterator<Item = (&'a MessageQueue, &'a V)>,
) {
    out.push('{');
    for (i, (mq, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_mq(out, mq);
        out.push(':');
        push_json(out, v);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_and_bare_keys() {
        let n =
            parse(br#"{ {"brokerName":"b","queueId":0,"topic":"t"} : 42, 7:"x", "k":[true,null,-1.5e3]}"#)
                .unwrap();
        let v = n.to_value().unwrap();
        assert_eq!(v[r#"{"brokerName":"b","queueId":0,"topic":"t"}"#], 42);
        assert_eq!(v["7"], "x");
        assert_eq!(v["k"][2].as_f64(), Some(-1500.0));
    }

    #[test]
    fn strings_and_escapes() {
        let n = parse(br#"["a\"b\\c\/\n\u00e9\ud83d\ude80\ud800x", "\u4e2d"]"#).unwrap();
        assert_eq!(
            n,
            Node::Arr(vec![
                Node::Str("a\"b\\c/\n\u{e9}\u{1F680}\u{FFFD}x".into()),
                Node::Str("\u{4e2d}".into())
            ])
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\"",
            b"{\"a\":}",
            b"[1,]x",
            b"\"\\u12",
            b"\"\\x\"",
            b"tru",
            b"{} {}",
            b"\"\xff\"",
            b"[-]",
        ] {
            let r = parse(bad).and_then(|n| n.to_value());
            assert!(r.is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn mq_map_forms() {
        let forms: [&[u8]; 5] = [
            br#"{{"brokerName":"b","queueId":1,"topic":"t"}:5}"#,
            br#"{"{\"topic\":\"t\",\"brokerName\":\"b\",\"queueId\":1}":5}"#,
            br#"{"MessageQueue [topic=t, brokerName=b, queueId=1]":5}"#,
            br#"[[{"topic":"t","brokerName":"b","queueId":1},5]]"#,
            br#"[{"brokerName":"b","queueId":1,"topic":"t","offset":5}]"#,
        ];
        for f in forms {
            let n = parse(f).unwrap();
            let e = mq_entries(&n, "offset").unwrap();
            assert_eq!(e.len(), 1, "{}", String::from_utf8_lossy(f));
            assert_eq!(
                e[0].0,
                MessageQueue {
                    topic: "t".into(),
                    broker_name: "b".into(),
                    queue_id: 1
                }
            );
            assert_eq!(e[0].1.deserialize::<i64>().unwrap(), 5);
        }
        assert!(mq_entries(&parse(b"{\"x\":1}").unwrap(), "offset").is_err());
        assert!(mq_entries(&parse(b"[1]").unwrap(), "offset").is_err());
    }

    #[test]
    fn writer_round_trips() {
        let mq = MessageQueue {
            topic: "t\"q".into(),
            broker_name: "b".into(),
            queue_id: -1,
        };
        let mut s = String::new();
        push_mq_map(&mut s, [(&mq, &7i64)]);
        assert_eq!(s, r#"{{"brokerName":"b","queueId":-1,"topic":"t\"q"}:7}"#);
        let n = parse(s.as_bytes()).unwrap();
        assert_eq!(mq_entries(&n, "offset").unwrap()[0].0, mq);
    }
}
