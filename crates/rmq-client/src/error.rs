//! The one public error type of the client.

use std::fmt;
use std::time::Duration;

use rmq_protocol::{ProtocolError, ResponseCode};

/// What went wrong. Match on it through [`Error::kind`]; new kinds may be added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A TCP connection could not be established (refused, unreachable, or the connect timeout passed).
    Connect {
        /// The address we tried.
        addr: String,
    },
    /// A request got no response within its timeout. The request may still have been processed.
    Timeout {
        /// The peer address, when known.
        addr: Option<String>,
        /// How long we waited.
        after: Duration,
    },
    /// The connection closed (or was closed because its stream was corrupt) while a request was pending.
    Disconnected {
        /// The peer address.
        addr: String,
    },
    /// A local I/O error other than connect.
    Io,
    /// The peer sent bytes that do not decode.
    Protocol(ProtocolError),
    /// The broker or name server answered with a non-success code.
    Broker {
        /// The response code.
        code: ResponseCode,
        /// The remark the server sent, if any.
        remark: Option<String>,
    },
    /// The name server has no route for this topic (`TOPIC_NOT_EXIST`).
    TopicNotExist {
        /// The topic.
        topic: String,
    },
    /// No broker address could be found for what was asked (e.g. a broker without a master).
    BrokerNotFound {
        /// The broker name.
        broker: String,
    },
    /// No name server address is configured or reachable.
    NoNameServer,
    /// An argument or configuration value is invalid. Raised before any network call.
    InvalidArgument(String),
    /// The client (or the handle used) has been shut down.
    Shutdown,
}

/// The error type of every fallible operation in this crate.
///
/// ```
/// # use rmq_client::{Error, ErrorKind};
/// fn handle(e: &Error) {
///     if e.is_timeout() { /* the message may still have been stored */ }
///     if let Some(code) = e.response_code() { println!("broker said {code}"); }
/// }
/// ```
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    context: Option<String>,
}

impl Error {
    /// Build an error of `kind`.
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind, context: None }
    }

    /// Attach a human-readable detail (e.g. the underlying OS error).
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether the operation timed out (its outcome is unknown).
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, ErrorKind::Timeout { .. })
    }

    /// Whether the same operation may succeed if tried again (possibly elsewhere): connection problems,
    /// timeouts, and the broker codes the Java producer retries on.
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ErrorKind::Connect { .. } | ErrorKind::Timeout { .. } | ErrorKind::Disconnected { .. } => true,
            ErrorKind::Io => true,
            ErrorKind::Broker { code, .. } => code.is_send_retryable(),
            ErrorKind::TopicNotExist { .. } => true,
            _ => false,
        }
    }

    /// The server's response code, when the error came from a server answer.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match &self.kind {
            ErrorKind::Broker { code, .. } => Some(*code),
            ErrorKind::TopicNotExist { .. } => Some(ResponseCode::TOPIC_NOT_EXIST),
            _ => None,
        }
    }

    /// The server's remark, when the error came from a server answer.
    pub fn remark(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Broker { remark, .. } => remark.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn broker(code: ResponseCode, remark: Option<String>) -> Self {
        Error::new(ErrorKind::Broker { code, remark })
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument(msg.into()))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(c) = &self.context {
            d.field("context", c);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Connect { addr } => write!(f, "cannot connect to {addr}")?,
            ErrorKind::Timeout { addr: Some(a), after } => {
                write!(f, "request to {a} timed out after {after:?}")?
            }
            ErrorKind::Timeout { addr: None, after } => write!(f, "timed out after {after:?}")?,
            ErrorKind::Disconnected { addr } => write!(f, "connection to {addr} closed")?,
            ErrorKind::Io => write!(f, "I/O error")?,
            ErrorKind::Protocol(e) => write!(f, "protocol error: {e}")?,
            ErrorKind::Broker { code, remark } => {
                write!(f, "server answered {code}")?;
                if let Some(r) = remark {
                    write!(f, ": {r}")?;
                }
            }
            ErrorKind::TopicNotExist { topic } => write!(f, "topic {topic} does not exist")?,
            ErrorKind::BrokerNotFound { broker } => write!(f, "no address for broker {broker}")?,
            ErrorKind::NoNameServer => write!(f, "no name server available")?,
            ErrorKind::InvalidArgument(m) => write!(f, "invalid argument: {m}")?,
            ErrorKind::Shutdown => write!(f, "client is shut down")?,
        }
        if let Some(c) = &self.context {
            write!(f, " ({c})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::new(ErrorKind::Protocol(e))
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates() {
        let e = Error::broker(ResponseCode::SYSTEM_BUSY, Some("[OVERLOAD]".into()));
        assert!(e.is_retryable());
        assert_eq!(e.response_code(), Some(ResponseCode::SYSTEM_BUSY));
        assert_eq!(e.to_string(), "server answered SYSTEM_BUSY (2): [OVERLOAD]");
        let t = Error::new(ErrorKind::Timeout {
            addr: None,
            after: Duration::from_secs(3),
        });
        assert!(t.is_timeout() && t.is_retryable());
        assert!(!Error::invalid("x").is_retryable());
        assert!(!Error::broker(ResponseCode::MESSAGE_ILLEGAL, None).is_retryable());
    }
}
