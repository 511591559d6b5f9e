//! Framing: "check, then parse" over a byte buffer, and encoding.
//!
//! A frame is `[i32 total][i32 (type << 24 | headerLen)][header][body]`, where `total` counts everything
//! after itself. [`check`] looks at the buffered bytes without copying or allocating and says whether a
//! whole frame is there (so a partial frame costs nothing); [`decode`] then splits it off and parses it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::command::{RemotingCommand, SerializeType};
use crate::error::{ProtocolError, Result};
use crate::serialize;

/// The Java default frame limit: 16 MiB for the whole frame including its length prefix.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Outcome of [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStatus {
    /// Not enough bytes yet; at least this many in total are needed before checking again.
    Incomplete(usize),
    /// A whole frame of this many bytes (including the length prefix) is at the front of the buffer.
    Complete(usize),
}

/// Check whether `buf` starts with a complete frame, validating what can be validated so far.
///
/// Errors mean the stream is desynchronised (the connection should be closed): a negative, too small or
/// over-limit length (the HTTP/2 preface `"PRI "` read as a length is over any sane limit), an unknown
/// serialize type, or a header length that does not fit the frame.
pub fn check(buf: &[u8], max_frame: usize) -> Result<FrameStatus> {
    if buf.len() < 4 {
        return Ok(FrameStatus::Incomplete(4));
    }
    let total = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as i64;
    if total < 4 {
        return Err(ProtocolError::InvalidFrameLength(total));
    }
    let frame_len = total as u64 + 4;
    if frame_len > max_frame as u64 {
        return Err(ProtocolError::FrameTooLarge {
            len: frame_len,
            max: max_frame,
        });
    }
    if buf.len() >= 8 {
        let word = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let ty = (word >> 24) as u8;
        if ty > 1 {
            return Err(ProtocolError::UnknownSerializeType(ty));
        }
        let header_len = (word & 0x00FF_FFFF) as usize;
        if header_len > total as usize - 4 {
            return Err(ProtocolError::HeaderLengthOutOfRange {
                header_len,
                frame_len: total as usize,
            });
        }
    }
    let frame_len = frame_len as usize;
    if buf.len() < frame_len {
        Ok(FrameStatus::Incomplete(frame_len))
    } else {
        Ok(FrameStatus::Complete(frame_len))
    }
}

/// If `buf` holds a complete frame, split it off and parse it.
///
/// Returns `Ok(None)` (consuming nothing) when more bytes are needed.
pub fn decode(buf: &mut BytesMut, max_frame: usize) -> Result<Option<RemotingCommand>> {
    match check(buf, max_frame)? {
        FrameStatus::Incomplete(_) => Ok(None),
        FrameStatus::Complete(n) => {
            let mut frame = buf.split_to(n).freeze();
            frame.advance(4);
            parse(frame).map(Some)
        }
    }
}

/// Parse one frame given without its 4-byte length prefix. The body is a zero-copy slice of `frame`.
pub fn parse(mut frame: Bytes) -> Result<RemotingCommand> {
    if frame.len() < 4 {
        return Err(ProtocolError::InvalidFrameLength(frame.len() as i64));
    }
    let word = frame.get_u32();
    let ty = (word >> 24) as u8;
    let header_len = (word & 0x00FF_FFFF) as usize;
    if header_len > frame.len() {
        return Err(ProtocolError::HeaderLengthOutOfRange {
            header_len,
            frame_len: frame.len() + 4,
        });
    }
    let header = frame.split_to(header_len);
    let mut cmd = match ty {
        0 => serialize::decode_json_header(&header)?,
        1 => serialize::decode_binary_header(&header)?,
        other => return Err(ProtocolError::UnknownSerializeType(other)),
    };
    cmd.body = frame;
    Ok(cmd)
}

/// Append the wire form of `cmd` to `out`.
///
/// A command whose code does not fit 16 bits is written as JSON even when ROCKETMQ was asked for, as the
/// binary layout cannot express it. Fails only when the header exceeds the 24-bit length field.
pub fn encode(cmd: &RemotingCommand, out: &mut BytesMut) -> Result<()> {
    let start = out.len();
    out.reserve(8 + 256 + cmd.body.len());
    out.put_u64(0); // placeholder for total length + header word
    let ty = match cmd.serialize_type {
        SerializeType::RocketMq if serialize::fits_binary(cmd) => {
            serialize::encode_binary_header(cmd, out);
            SerializeType::RocketMq
        }
        _ => {
            serialize::encode_json_header(cmd, out);
            SerializeType::Json
        }
    };
    let header_len = out.len() - start - 8;
    if header_len > 0x00FF_FFFF {
        out.truncate(start);
        return Err(ProtocolError::TooLarge {
            what: "header",
            len: header_len,
            max: 0x00FF_FFFF,
        });
    }
    out.put_slice(&cmd.body);
    let total = out.len() - start - 4;
    if total > i32::MAX as usize {
        out.truncate(start);
        return Err(ProtocolError::TooLarge {
            what: "frame",
            len: total,
            max: i32::MAX as usize,
        });
    }
    let word = ((ty.code() as u32) << 24) | header_len as u32;
    out[start..start + 4].copy_from_slice(&(total as u32).to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    Ok(())
}

/// Encode `cmd` into a fresh buffer.
pub fn encode_to_bytes(cmd: &RemotingCommand) -> Result<Bytes> {
    let mut out = BytesMut::new();
    encode(cmd, &mut out)?;
    Ok(out.freeze())
}
