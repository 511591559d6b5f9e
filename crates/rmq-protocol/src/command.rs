//! `RemotingCommand`: one request or response on the wire.

use bytes::Bytes;

use crate::code::{LanguageCode, RequestCode, ResponseCode, CLIENT_VERSION};
use crate::error::Result;
use crate::ext::{CommandHeader, ExtFields};

/// Flag bit: this command is a response.
pub const FLAG_RESPONSE: i32 = 0x1;
/// Flag bit: this request expects no response.
pub const FLAG_ONEWAY: i32 = 0x2;

/// How a command's header is serialized on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// fastjson-compatible JSON text (type byte 0). What a stock Java broker answers with.
    #[default]
    Json,
    /// The compact ROCKETMQ binary layout (type byte 1).
    RocketMq,
}

impl SerializeType {
    /// The type byte in the frame's header word.
    pub fn code(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// The name used in the JSON `serializeTypeCurrentRPC` field.
    pub fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

/// A request or response: header fields, custom header ([`ExtFields`]) and an opaque body.
///
/// ```
/// use rmq_protocol::{RemotingCommand, RequestCode};
/// let cmd = RemotingCommand::new_request(RequestCode::GET_BROKER_CLUSTER_INFO, Default::default());
/// assert!(!cmd.is_response());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code for requests, response code for responses.
    pub code: i32,
    /// The sender's language.
    pub language: LanguageCode,
    /// The sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id, echoed by the response.
    pub opaque: i32,
    /// Flag bits ([`FLAG_RESPONSE`], [`FLAG_ONEWAY`]).
    pub flag: i32,
    /// Human-readable remark (error text on responses).
    pub remark: Option<String>,
    /// The custom header.
    pub ext_fields: ExtFields,
    /// The body; may be empty.
    pub body: Bytes,
    /// How the header is (or will be) serialized.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A request with the given code and custom header, announcing this client's language and version.
    pub fn new_request(code: RequestCode, ext_fields: ExtFields) -> Self {
        RemotingCommand {
            code: code.0,
            language: LanguageCode::RUST,
            version: CLIENT_VERSION as i32,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields,
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A request built from a typed header.
    pub fn request<H: CommandHeader>(code: RequestCode, header: &H) -> Self {
        Self::new_request(code, header.to_ext())
    }

    /// A response to the request with `opaque`.
    pub fn new_response(code: ResponseCode, opaque: i32, remark: Option<String>) -> Self {
        RemotingCommand {
            code: code.0,
            language: LanguageCode::RUST,
            version: CLIENT_VERSION as i32,
            opaque,
            flag: FLAG_RESPONSE,
            remark,
            ext_fields: ExtFields::new(),
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// Set the body (builder style).
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Set the serialize type (builder style).
    pub fn with_serialize_type(mut self, t: SerializeType) -> Self {
        self.serialize_type = t;
        self
    }

    /// Whether this is a response.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether this is a oneway request.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// Mark this request oneway.
    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// The code read as a request code.
    pub fn request_code(&self) -> RequestCode {
        RequestCode(self.code)
    }

    /// The code read as a response code.
    pub fn response_code(&self) -> ResponseCode {
        ResponseCode(self.code)
    }

    /// Decode the custom header as `H`.
    pub fn decode_header<H: CommandHeader>(&self) -> Result<H> {
        H::read_from(&self.ext_fields)
    }
}
