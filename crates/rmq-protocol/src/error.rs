//! Errors raised while decoding or encoding protocol data.

/// Everything that can go wrong turning bytes into protocol values (or back).
///
/// Each variant names what was wrong so that callers (and logs) can tell a desynchronised stream from a
/// merely unexpected value. None of these are produced by a panic path: the codec never panics on input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announced a length larger than the configured maximum.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Announced total length (including the 4-byte length prefix).
        len: u64,
        /// Configured limit.
        max: usize,
    },
    /// A frame announced a negative or impossibly small length.
    #[error("invalid frame length {0}")]
    InvalidFrameLength(i64),
    /// The header length does not fit inside the frame.
    #[error("header length {header_len} does not fit in a frame of {frame_len} bytes")]
    HeaderLengthOutOfRange {
        /// Announced header length.
        header_len: usize,
        /// Frame length after the length prefix.
        frame_len: usize,
    },
    /// The serialize-type byte is neither JSON (0) nor ROCKETMQ (1).
    #[error("unknown header serialize type {0}")]
    UnknownSerializeType(u8),
    /// A header could not be parsed.
    #[error("malformed {format} header: {reason}")]
    MalformedHeader {
        /// `"JSON"` or `"ROCKETMQ"`.
        format: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A string field was not valid UTF-8.
    #[error("field {0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// A required header field is absent.
    #[error("{header}: required field `{field}` is missing")]
    MissingField {
        /// Header type name.
        header: &'static str,
        /// Field (ext key) name.
        field: &'static str,
    },
    /// A header field is present but its value cannot be parsed.
    #[error("field `{field}` has invalid value {value:?}")]
    InvalidField {
        /// Field (ext key) name.
        field: &'static str,
        /// The offending value (truncated to 64 chars).
        value: String,
    },
    /// A stored message started with an unknown magic code.
    #[error("bad message magic code {0:#010x}")]
    BadMagic(u32),
    /// A message or body ended before a field it announced.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The compression type bits name an unknown algorithm.
    #[error("unknown compression type bits {0:#x}")]
    UnknownCompression(i32),
    /// Decompressing a body failed.
    #[error("decompression failed: {0}")]
    Decompress(String),
    /// Compressing a body failed (the compressor reported an error).
    #[error("compression failed: {0}")]
    Compress(String),
    /// A JSON body could not be parsed.
    #[error("invalid JSON body: {0}")]
    Json(String),
    /// A value is too large to encode (e.g. properties over 32767 bytes).
    #[error("{what} too large: {len} bytes (max {max})")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl ProtocolError {
    pub(crate) fn invalid_field(field: &'static str, value: &str) -> Self {
        let value = value.chars().take(64).collect();
        ProtocolError::InvalidField { field, value }
    }
}

/// Result alias for this crate.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
