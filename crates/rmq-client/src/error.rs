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
    /// TLS failed: the handshake was refused (untrusted or mismatched certificate, our client
    /// certificate rejected, no TLS on the server's port) or the peer ended the session with a TLS
    /// alert. Not retryable: the same configuration fails the same way. The context has rustls' message.
    Tls {
        /// The peer address.
        addr: String,
        /// What went wrong.
        reason: TlsFailure,
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
    /// A broker refused our credentials: no such user, a disabled user, a wrong secret (the signature
    /// does not match), or no credentials where the broker requires them. RocketMQ 5 answers these with
    /// `NO_PERMISSION` (16) and an authentication remark. Not retryable: the request fails the same way
    /// on every attempt.
    AuthFailed {
        /// The broker's remark, e.g. `check signature failed.`
        remark: Option<String>,
    },
    /// A broker's ACL does not allow our user this action on the topic or group (`NO_PERMISSION` with
    /// an authorization remark). Not retryable. A topic or broker that is merely not writable or
    /// readable stays [`ErrorKind::Broker`] with `NO_PERMISSION`, which the producer retries on another
    /// broker, as the Java producer does.
    PermissionDenied {
        /// The broker's remark, e.g. `User:bob has no permission to access Topic:orders from ...`
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

/// Why a TLS connection failed; see [`ErrorKind::Tls`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate chain does not lead to a trusted CA (`CaRoots` of the `TlsConfig`).
    UnknownIssuer,
    /// The certificate is trusted but not issued for the host connected to (hostname verification).
    NameMismatch,
    /// The certificate has expired or is not valid yet.
    Expired,
    /// Any other problem with the server's certificate (bad signature, wrong key usage, revoked, ...).
    BadCertificate,
    /// The server aborted with a TLS alert, e.g. because it rejected our client certificate; the
    /// alert's name (`BadCertificate`, `CertificateRequired`, `UnknownCA`, ...).
    Alert(String),
    /// The server closed the connection during the handshake: typically it does not speak TLS on
    /// this port, or it refused us before any certificate was exchanged.
    Closed,
    /// Any other handshake failure (no common protocol version or cipher suite, malformed messages).
    Handshake,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::UnknownIssuer => f.write_str("server certificate is not issued by a trusted CA"),
            TlsFailure::NameMismatch => f.write_str("server certificate is not valid for this host name"),
            TlsFailure::Expired => f.write_str("server certificate has expired or is not valid yet"),
            TlsFailure::BadCertificate => f.write_str("server certificate is invalid"),
            TlsFailure::Alert(a) => write!(f, "the server sent the alert {a}"),
            TlsFailure::Closed => f.write_str("the server closed the connection during the handshake"),
            TlsFailure::Handshake => f.write_str("handshake failed"),
        }
    }
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

    /// Whether the request may have been carried out by the server although this error came
    /// back: a timeout, a connection lost, or an I/O error, any of which may come after the
    /// request was written. A send that ends so is *indeterminate*: the message may be stored.
    pub fn is_indeterminate(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout { .. } | ErrorKind::Disconnected { .. } | ErrorKind::Io
        )
    }

    /// Whether the same operation may succeed if tried again (possibly elsewhere): connection problems,
    /// timeouts, and the broker codes the Java producer retries on. TLS failures are not: they come
    /// from configuration (certificates, trust) and repeat.
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
            ErrorKind::AuthFailed { .. } | ErrorKind::PermissionDenied { .. } => {
                Some(ResponseCode::NO_PERMISSION)
            }
            _ => None,
        }
    }

    /// The server's remark, when the error came from a server answer.
    pub fn remark(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Broker { remark, .. }
            | ErrorKind::AuthFailed { remark }
            | ErrorKind::PermissionDenied { remark } => remark.as_deref(),
            _ => None,
        }
    }

    /// The error for a server answer with `code`; ACL refusals get their own kinds.
    pub(crate) fn broker(code: ResponseCode, remark: Option<String>) -> Self {
        if code == ResponseCode::NO_PERMISSION {
            match remark.as_deref().map(acl_refusal) {
                Some(Some(AclRefusal::Authentication)) => {
                    return Error::new(ErrorKind::AuthFailed { remark })
                }
                Some(Some(AclRefusal::Authorization)) => {
                    return Error::new(ErrorKind::PermissionDenied { remark })
                }
                _ => {}
            }
        }
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
            ErrorKind::Tls { addr, reason } => write!(f, "TLS with {addr} failed: {reason}")?,
            ErrorKind::Io => write!(f, "I/O error")?,
            ErrorKind::Protocol(e) => write!(f, "protocol error: {e}")?,
            ErrorKind::Broker { code, remark } => {
                write!(f, "server answered {code}")?;
                if let Some(r) = remark {
                    write!(f, ": {r}")?;
                }
            }
            ErrorKind::AuthFailed { remark } => {
                write!(f, "authentication failed")?;
                if let Some(r) = remark {
                    write!(f, ": {r}")?;
                }
            }
            ErrorKind::PermissionDenied { remark } => {
                write!(f, "permission denied")?;
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

/// Which ACL check refused a request answered `NO_PERMISSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AclRefusal {
    Authentication,
    Authorization,
}

/// Tells ACL refusals from other `NO_PERMISSION` answers (a topic or broker not writable, a group not
/// allowed to consume) by the remark: RocketMQ 5 (`AuthenticationPipeline`, `AuthorizationPipeline`)
/// sends both ACL failures with that one code and the exception message as the remark.
fn acl_refusal(remark: &str) -> Option<AclRefusal> {
    let r = remark.trim().to_ascii_lowercase();
    // AclAuthorizationHandler: "User:bob has no permission to access Topic:t from 1.2.3.4, ...";
    // AbstractAuthorizationStrategy: "Authorization failed. Please verify your access rights ...".
    if r.contains("has no permission to access") || r.starts_with("authorization failed") {
        return Some(AclRefusal::Authorization);
    }
    // DefaultAuthenticationHandler and UserAuthorizationHandler: "check signature failed.",
    // "username cannot be null.", "User:bob is not found.", "User:bob not found.", "User:bob is disabled.";
    // AbstractAuthenticationStrategy: "Authentication failed. Please verify the credentials ...".
    let user_state = r.starts_with("user:") && (r.ends_with("not found.") || r.ends_with("is disabled."));
    if user_state
        || r.starts_with("check signature failed")
        || r.starts_with("username cannot be null")
        || r.starts_with("authentication failed")
    {
        return Some(AclRefusal::Authentication);
    }
    None
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
        let np = |r: &str| Error::broker(ResponseCode::NO_PERMISSION, Some(r.to_owned()));
        for r in [
            "check signature failed.",
            "User:bob is not found.",
            "User:bob is disabled.",
            "username cannot be null.",
        ] {
            let e = np(r);
            assert!(matches!(e.kind(), ErrorKind::AuthFailed { .. }), "{r}");
            assert!(!e.is_retryable());
            assert_eq!(e.response_code(), Some(ResponseCode::NO_PERMISSION));
            assert_eq!(e.remark(), Some(r));
        }
        let denied =
            np("User:bob has no permission to access Topic:t from 127.0.0.1, the decided policy is Default.");
        assert!(matches!(denied.kind(), ErrorKind::PermissionDenied { .. }));
        assert!(!denied.is_retryable());
        assert!(denied
            .to_string()
            .starts_with("permission denied: User:bob has no permission"));
        // Not ACL: the broker or topic is not writable; the producer tries another broker.
        let perm = np("the topic[t] sending message is forbidden");
        assert!(matches!(perm.kind(), ErrorKind::Broker { .. }) && perm.is_retryable());
        assert!(matches!(
            np("subscription group no permission, g").kind(),
            ErrorKind::Broker { .. }
        ));
        let tls = Error::new(ErrorKind::Tls {
            addr: "b:1".into(),
            reason: TlsFailure::NameMismatch,
        });
        assert!(!tls.is_retryable());
        assert_eq!(
            tls.to_string(),
            "TLS with b:1 failed: server certificate is not valid for this host name"
        );
    }
}
