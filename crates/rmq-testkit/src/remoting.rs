//! A minimal, blocking remoting client for health checks (no dependency on `rmq-protocol`).
//!
//! Frame: `total_len: u32 BE` (everything after it), `header_len_and_type: u32 BE` (type in the
//! high byte, 0 = JSON), the header, then the body.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::tls::ClusterTls;

/// `GET_BROKER_CONFIG`, answered by every broker (cheap: no statistics involved).
pub(crate) const GET_BROKER_CONFIG: i32 = 26;
/// `GET_BROKER_CLUSTER_INFO`, answered by the name server.
pub(crate) const GET_BROKER_CLUSTER_INFO: i32 = 106;
/// `UPDATE_AND_CREATE_TOPIC`, answered by a broker after it re-registered with the name server.
pub(crate) const UPDATE_AND_CREATE_TOPIC: i32 = 17;

const MAX_FRAME: usize = 16 * 1024 * 1024;

static OPAQUE: AtomicI32 = AtomicI32::new(1);

/// A response: code (0 = success), remark and body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) code: i32,
    pub(crate) remark: String,
    pub(crate) body: Vec<u8>,
}

/// Sends a request with header fields `ext` and no body, and waits for its response; over TLS
/// when `tls` is given.
pub(crate) fn request(
    addr: &str,
    code: i32,
    ext: &[(&str, String)],
    timeout: Duration,
    tls: Option<&ClusterTls>,
) -> Result<Response> {
    let err = |reason: String| Error::Remoting {
        addr: addr.to_string(),
        reason,
    };
    let sock: SocketAddr = addr.parse().map_err(|e| err(format!("bad address: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout).map_err(|e| err(format!("connect: {e}")))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| err(e.to_string()))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| err(e.to_string()))?;
    match tls {
        None => exchange(&mut stream, code, ext, &err),
        Some(tls) => {
            let name = tls.kit_server_name()?;
            let conn = rustls::ClientConnection::new(tls.kit_client().clone(), name)
                .map_err(|e| err(format!("TLS: {e}")))?;
            let mut stream = rustls::StreamOwned::new(conn, stream);
            exchange(&mut stream, code, ext, &err)
        }
    }
}

/// Writes one request on `stream` and reads its response.
fn exchange<S: Read + Write>(
    stream: &mut S,
    code: i32,
    ext: &[(&str, String)],
    err: &dyn Fn(String) -> Error,
) -> Result<Response> {
    let opaque = OPAQUE.fetch_add(1, Ordering::Relaxed);
    stream
        .write_all(&encode(code, opaque, ext))
        .map_err(|e| err(format!("write: {e}")))?;
    stream.flush().map_err(|e| err(format!("write: {e}")))?;

    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| err(format!("read: {e}")))?;
    let len = u32::from_be_bytes(len) as usize;
    if !(4..=MAX_FRAME).contains(&len) {
        return Err(err(format!("bad frame length {len}")));
    }
    let mut frame = vec![0u8; len];
    stream
        .read_exact(&mut frame)
        .map_err(|e| err(format!("read: {e}")))?;
    let (response, resp_opaque) = decode(&frame).map_err(err)?;
    if resp_opaque != opaque {
        return Err(err(format!(
            "opaque {resp_opaque} does not match request {opaque}"
        )));
    }
    Ok(response)
}

fn encode(code: i32, opaque: i32, ext: &[(&str, String)]) -> Vec<u8> {
    let ext: serde_json::Map<String, Value> = ext
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
        .collect();
    let header = json!({
        "code": code,
        "flag": 0,
        "language": "JAVA",
        "opaque": opaque,
        "serializeTypeCurrentRPC": "JSON",
        "version": 0,
        "extFields": ext,
    })
    .to_string()
    .into_bytes();
    // Header sizes are tiny; the casts cannot truncate.
    let header_len = header.len() as u32;
    let mut frame = Vec::with_capacity(8 + header.len());
    frame.extend_from_slice(&(4 + header_len).to_be_bytes());
    frame.extend_from_slice(&header_len.to_be_bytes());
    frame.extend_from_slice(&header);
    frame
}

/// The response and its opaque, from a frame without its length prefix.
pub(crate) fn decode(frame: &[u8]) -> std::result::Result<(Response, i32), String> {
    let Some((tag, rest)) = frame.split_first_chunk::<4>() else {
        return Err("frame shorter than its header length".into());
    };
    let tag = u32::from_be_bytes(*tag);
    let header_len = (tag & 0x00ff_ffff) as usize;
    if header_len > rest.len() {
        return Err(format!("header length {header_len} exceeds frame"));
    }
    let (header, body) = rest.split_at(header_len);
    match tag >> 24 {
        0 => {
            let v: Value = serde_json::from_slice(header).map_err(|e| format!("bad JSON header: {e}"))?;
            let int = |k: &str| {
                v.get(k)
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok())
            };
            let code = int("code").ok_or("header has no code")?;
            let remark = v
                .get("remark")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Ok((
                Response {
                    code,
                    remark,
                    body: body.to_vec(),
                },
                int("opaque").unwrap_or(0),
            ))
        }
        1 => {
            // ROCKETMQ binary header: code i16, language u8, version i16, opaque i32, ...
            if header.len() < 9 {
                return Err("binary header too short".into());
            }
            let code = i32::from(i16::from_be_bytes([header[0], header[1]]));
            let opaque = i32::from_be_bytes([header[5], header[6], header[7], header[8]]);
            Ok((
                Response {
                    code,
                    remark: String::new(),
                    body: body.to_vec(),
                },
                opaque,
            ))
        }
        other => Err(format!("unknown serialize type {other}")),
    }
}

/// Broker names the name server lists under `cluster`, from a `GET_BROKER_CLUSTER_INFO` body.
///
/// The body is fastjson output whose `brokerAddrTable` uses bare integer keys (not JSON), so
/// only the standard-JSON `clusterAddrTable` value is parsed.
pub(crate) fn cluster_brokers(body: &[u8], cluster: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let Some(at) = text.find("\"clusterAddrTable\"") else {
        return Vec::new();
    };
    let rest = &text[at + "\"clusterAddrTable\"".len()..];
    let Some(rest) = rest.trim_start().strip_prefix(':') else {
        return Vec::new();
    };
    let table = serde_json::Deserializer::from_str(rest)
        .into_iter::<Value>()
        .next();
    let mut names: Vec<String> = match table {
        Some(Ok(Value::Object(map))) => map
            .get(cluster)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_json() {
        let frame = encode(17, 7, &[("topic", "T".to_string())]);
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert!(String::from_utf8_lossy(&frame).contains(r#""extFields":{"topic":"T"}"#));
        let (response, opaque) = decode(&frame[4..]).unwrap();
        assert_eq!((response.code, opaque, response.body.len()), (17, 7, 0));
    }

    #[test]
    fn cluster_brokers_from_fastjson_body() {
        let body = br#"{"brokerAddrTable":{"broker-b":{"brokerAddrs":{0:"127.0.0.1:2"},"brokerName":"broker-b"},"broker-a":{"brokerAddrs":{0:"127.0.0.1:1"}}},"clusterAddrTable":{"C":["broker-b","broker-a"],"D":["x"]}}"#;
        assert_eq!(cluster_brokers(body, "C"), ["broker-a", "broker-b"]);
        assert!(cluster_brokers(body, "E").is_empty());
        assert!(cluster_brokers(b"{}", "C").is_empty());
    }
}
