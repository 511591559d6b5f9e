//! The two header serializations: fastjson-compatible JSON and the compact ROCKETMQ binary layout.

use bytes::{BufMut, BytesMut};
use serde::Deserialize;

use crate::code::LanguageCode;
use crate::command::{RemotingCommand, SerializeType};
use crate::error::{ProtocolError, Result};
use crate::ext::ExtFields;

/// Append `s` as a JSON string literal.
pub(crate) fn write_json_str(out: &mut BytesMut, s: &str) {
    out.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.put_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.put_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put_slice(b"\\u00");
                out.put_u8(HEX[(b >> 4) as usize]);
                out.put_u8(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.put_slice(&bytes[start..]);
    out.put_u8(b'"');
}

fn write_json_int(out: &mut BytesMut, v: i64) {
    let mut buf = itoa_buf(v);
    out.put_slice(buf.as_bytes_mut());
}

struct IntBuf {
    bytes: [u8; 20],
    start: usize,
}

impl IntBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

fn itoa_buf(v: i64) -> IntBuf {
    let mut bytes = [0u8; 20];
    let mut i = bytes.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        bytes[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        bytes[i] = b'-';
    }
    IntBuf { bytes, start: i }
}

/// Encode the JSON header: keys in fastjson's alphabetical order, null members omitted.
///
/// Requests always carry `extFields` (`{}` when empty), as the Java client attaches a header object to
/// every request it makes; responses carry it only when non-empty, as Java's bare responses do.
pub(crate) fn encode_json_header(cmd: &RemotingCommand, out: &mut BytesMut) {
    out.put_slice(b"{\"code\":");
    write_json_int(out, cmd.code as i64);
    if !cmd.ext_fields.is_empty() || !cmd.is_response() {
        out.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            write_json_str(out, k);
            out.put_u8(b':');
            write_json_str(out, v);
        }
        out.put_u8(b'}');
    }
    out.put_slice(b",\"flag\":");
    write_json_int(out, cmd.flag as i64);
    out.put_slice(b",\"language\":");
    let lang = cmd.language.name().unwrap_or("OTHER");
    write_json_str(out, lang);
    out.put_slice(b",\"opaque\":");
    write_json_int(out, cmd.opaque as i64);
    if let Some(remark) = &cmd.remark {
        out.put_slice(b",\"remark\":");
        write_json_str(out, remark);
    }
    out.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    write_json_int(out, cmd.version as i64);
    out.put_u8(b'}');
}

#[derive(Deserialize)]
struct JsonHeader {
    #[serde(default)]
    code: i32,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    version: Option<i32>,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default, rename = "extFields")]
    ext_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Decode a JSON header into a command (body left empty).
pub(crate) fn decode_json_header(bytes: &[u8]) -> Result<RemotingCommand> {
    let h: JsonHeader = serde_json::from_slice(bytes).map_err(|e| ProtocolError::MalformedHeader {
        format: "JSON",
        reason: e.to_string(),
    })?;
    let mut ext = ExtFields::with_capacity(h.ext_fields.as_ref().map_or(0, |m| m.len()));
    for (k, v) in h.ext_fields.into_iter().flatten() {
        let v = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        ext.insert(k, v);
    }
    let language = h
        .language
        .as_deref()
        .and_then(LanguageCode::from_name)
        .unwrap_or(LanguageCode::OTHER);
    Ok(RemotingCommand {
        code: h.code,
        language,
        version: h.version.unwrap_or(0),
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields: ext,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

/// Whether a command can be expressed in the binary layout (its code and version fit 16 bits).
pub(crate) fn fits_binary(cmd: &RemotingCommand) -> bool {
    i16::try_from(cmd.code).is_ok() && i16::try_from(cmd.version).is_ok()
}

/// Encode the ROCKETMQ binary header. Callers check [`fits_binary`] first.
pub(crate) fn encode_binary_header(cmd: &RemotingCommand, out: &mut BytesMut) {
    out.put_i16(cmd.code as i16);
    out.put_u8(cmd.language.0);
    out.put_i16(cmd.version as i16);
    out.put_i32(cmd.opaque);
    out.put_i32(cmd.flag);
    match &cmd.remark {
        Some(r) if !r.is_empty() => {
            out.put_i32(r.len() as i32);
            out.put_slice(r.as_bytes());
        }
        _ => out.put_i32(0),
    }
    let ext_len: usize = cmd
        .ext_fields
        .iter()
        .map(|(k, v)| 2 + k.len() + 4 + v.len())
        .sum();
    out.put_i32(ext_len as i32);
    for (k, v) in cmd.ext_fields.iter() {
        // An empty value is written with length 0, as Java writes "" (and decodes it as null).
        out.put_i16(k.len() as i16);
        out.put_slice(k.as_bytes());
        out.put_i32(v.len() as i32);
        out.put_slice(v.as_bytes());
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| ProtocolError::MalformedHeader {
                format: "ROCKETMQ",
                reason: format!("{what} runs past the header"),
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i16(&mut self, what: &'static str) -> Result<i16> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self, what: &'static str) -> Result<i32> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn len(&mut self, raw: i64, what: &'static str) -> Result<usize> {
        usize::try_from(raw)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or_else(|| ProtocolError::MalformedHeader {
                format: "ROCKETMQ",
                reason: format!("bad {what} length {raw}"),
            })
    }
    fn string(&mut self, n: usize, what: &'static str) -> Result<String> {
        let b = self.take(n, what)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| ProtocolError::InvalidUtf8(what))
    }
}

/// Decode a ROCKETMQ binary header into a command (body left empty).
pub(crate) fn decode_binary_header(bytes: &[u8]) -> Result<RemotingCommand> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let code = r.i16("code")? as i32;
    let language = LanguageCode(r.u8("language")?);
    let version = r.i16("version")? as i32;
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.i32("remark")?;
    let remark_len = r.len(remark_len as i64, "remark")?;
    let remark = if remark_len == 0 {
        None
    } else {
        Some(r.string(remark_len, "remark")?)
    };
    let ext_len = r.i32("extFields")?;
    let ext_len = r.len(ext_len as i64, "extFields")?;
    let ext_bytes = r.take(ext_len, "extFields")?;
    let mut ext = ExtFields::new();
    let mut e = Reader {
        buf: ext_bytes,
        pos: 0,
    };
    while e.pos < ext_bytes.len() {
        let kl = e.i16("ext key")?;
        let kl = e.len(kl as i64, "ext key")?;
        let key = e.string(kl, "ext key")?;
        let vl = e.i32("ext value")?;
        let vl = e.len(vl as i64, "ext value")?;
        let value = e.string(vl, "ext value")?;
        if !value.is_empty() {
            ext.insert(key, value);
        }
    }
    if r.pos != bytes.len() {
        return Err(ProtocolError::MalformedHeader {
            format: "ROCKETMQ",
            reason: format!("{} trailing bytes", bytes.len() - r.pos),
        });
    }
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields: ext,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes() {
        let mut out = BytesMut::new();
        write_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(&out[..], "\"a\\\"b\\\\c\\nd\\u0001é\"".as_bytes());
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn ints() {
        for v in [0i64, -1, 7, i32::MIN as i64, i64::MIN, i64::MAX] {
            let mut out = BytesMut::new();
            write_json_int(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
    }
}
