//! ACL request signing, compatible with the Java client's `AclClientRPCHook`.
//!
//! Brokers with authentication on (RocketMQ 5 "ACL 2.0": `authenticationEnabled`; the 4.x "ACL 1.0"
//! `aclEnable` used the same scheme) accept a request only when its custom header carries an
//! `AccessKey` (the user name) and a `Signature` computed with the user's secret. What is signed, exactly
//! as `org.apache.rocketmq.acl.common.AclClientRPCHook` does it:
//!
//! 1. add `AccessKey` (and `SecurityToken`, when one is set) to the ext fields;
//! 2. take every ext field except `Signature`, ordered by key as Java's `TreeMap<String, String>` orders
//!    them (UTF-16 code units), and concatenate their **values** (keys are not signed);
//! 3. append the raw body;
//! 4. `Signature` = Base64(HmacSHA1(key = UTF-8 of the secret, data = UTF-8 of step 2 followed by step 3)).
//!
//! Set [`ClientConfig::credentials`](crate::ClientConfig::credentials) and every producer, consumer and
//! admin client built from that config signs each request it sends (heartbeats, oneway requests and the
//! answers it writes to broker-initiated requests included). The secret never appears in `Debug`
//! output, logs or errors.
//!
//! ```
//! use rmq_client::acl::{AclHook, Credentials};
//! use rmq_client::RpcHook;
//! use rmq_protocol::{ExtFields, RemotingCommand, RequestCode};
//!
//! let credentials = Credentials::new("alice", "s3cret");
//! assert!(!format!("{credentials:?}").contains("s3cret"));
//! let mut ext = ExtFields::new();
//! ext.insert("topic", "orders");
//! let mut request = RemotingCommand::new_request(RequestCode::SEND_MESSAGE_V2, ext);
//! AclHook::new(credentials).before_request("127.0.0.1:10911", &mut request);
//! assert_eq!(request.ext_fields.get("AccessKey"), Some("alice"));
//! assert!(request.ext_fields.get("Signature").is_some());
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rmq_protocol::{ExtFields, RemotingCommand};
use sha1::Sha1;

use crate::error::{Error, Result};
use crate::hook::RpcHook;

/// Ext field holding the access key (`SessionCredentials.ACCESS_KEY`).
pub const ACCESS_KEY: &str = "AccessKey";
/// Ext field holding the signature (`SessionCredentials.SIGNATURE`).
pub const SIGNATURE: &str = "Signature";
/// Ext field holding the optional security token (`SessionCredentials.SECURITY_TOKEN`).
pub const SECURITY_TOKEN: &str = "SecurityToken";

/// An access key, its secret and an optional security token (Java: `SessionCredentials`).
///
/// `Debug` shows the access key only; there is no accessor for the secret.
///
/// ```
/// use rmq_client::acl::Credentials;
/// let c = Credentials::new("alice", "s3cret").with_security_token("sts-token");
/// assert_eq!(c.access_key(), "alice");
/// let shown = format!("{c:?}");
/// assert!(shown.contains("alice") && !shown.contains("s3cret") && !shown.contains("sts-token"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key: String,
    secret_key: String,
    security_token: Option<String>,
}

impl Credentials {
    /// Credentials of the user `access_key` with password `secret_key`.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    /// Also send `token` as `SecurityToken` (signed like every other field).
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// The access key (user name), sent in clear as `AccessKey`.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// Whether a security token is set (its value is not exposed).
    pub fn has_security_token(&self) -> bool {
        self.security_token.is_some()
    }

    /// Both keys must be non-blank, as Java's `AclUtils` requires (and an empty HMAC key is refused by
    /// Java's `SecretKeySpec`).
    pub fn validate(&self) -> Result<()> {
        if self.access_key.trim().is_empty() {
            return Err(Error::invalid("credentials: access key is blank"));
        }
        if self.secret_key.trim().is_empty() {
            return Err(Error::invalid("credentials: secret key is blank"));
        }
        Ok(())
    }

    /// Add `AccessKey`, `SecurityToken` (when set) and `Signature` to `cmd`, replacing earlier values.
    pub fn sign(&self, cmd: &mut RemotingCommand) {
        cmd.ext_fields.insert(ACCESS_KEY, self.access_key.clone());
        if let Some(token) = &self.security_token {
            cmd.ext_fields.insert(SECURITY_TOKEN, token.clone());
        }
        let signature = signature(&self.secret_key, &cmd.ext_fields, &cmd.body);
        cmd.ext_fields.insert(SIGNATURE, signature);
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The bytes Java signs: the values of every ext field but `Signature`, by key in `String.compareTo`
/// order, then the body (`AclUtils.combineRequestContent`).
pub fn signed_content(ext: &ExtFields, body: &[u8]) -> Vec<u8> {
    let mut fields: Vec<(&str, &str)> = ext.iter().filter(|(k, _)| *k != SIGNATURE).collect();
    fields.sort_by(|a, b| java_string_cmp(a.0, b.0));
    let len = fields.iter().map(|(_, v)| v.len()).sum::<usize>() + body.len();
    let mut content = Vec::with_capacity(len);
    for (_, v) in fields {
        content.extend_from_slice(v.as_bytes());
    }
    content.extend_from_slice(body);
    content
}

/// `Base64(HmacSHA1(secret, signed_content(ext, body)))`, as `AclSigner.calSignature`.
pub fn signature(secret_key: &str, ext: &ExtFields, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(&signed_content(ext, body));
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units (differs from Rust's byte order only
/// between supplementary characters and U+E000..U+FFFF).
fn java_string_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The RPC hook that signs requests with [`Credentials`] (Java: `AclClientRPCHook`).
///
/// Built for you from [`ClientConfig::credentials`](crate::ClientConfig::credentials); use it directly
/// only with a hand-made [`RemotingClient`](crate::RemotingClient). It must run after any hook that
/// changes the request, so that the signature covers the final fields.
#[derive(Debug, Clone)]
pub struct AclHook {
    credentials: Credentials,
}

impl AclHook {
    /// A hook signing with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        AclHook { credentials }
    }

    /// The credentials used.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

impl RpcHook for AclHook {
    fn before_request(&self, _addr: &str, cmd: &mut RemotingCommand) {
        self.credentials.sign(cmd);
    }
}

/// The hook a client runs: the user's hook, then ACL signing (last, so it signs the final request).
pub(crate) fn client_hook(
    user: Option<Arc<dyn RpcHook>>,
    credentials: Option<&Credentials>,
) -> Result<Option<Arc<dyn RpcHook>>> {
    let acl = match credentials {
        Some(c) => {
            c.validate()?;
            Some(Arc::new(AclHook::new(c.clone())) as Arc<dyn RpcHook>)
        }
        None => None,
    };
    Ok(match (user, acl) {
        (Some(u), Some(a)) => Some(Arc::new(crate::hook::HookChain::new(vec![u, a]))),
        (u, a) => u.or(a),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::RequestCode;

    fn ext(pairs: &[(&'static str, &str)]) -> ExtFields {
        let mut e = ExtFields::new();
        for (k, v) in pairs {
            e.insert(*k, *v);
        }
        e
    }

    #[test]
    fn content_is_values_by_key_then_body() {
        let e = ext(&[("b", "2"), ("a", "1"), ("Signature", "old"), ("C", "3")]);
        assert_eq!(signed_content(&e, b"body"), b"312body");
        assert_eq!(signed_content(&ExtFields::new(), b""), b"");
    }

    #[test]
    fn keys_sort_like_java_strings() {
        // U+1F600 is a surrogate pair (0xD83D ...) in UTF-16: before U+FF21, unlike in UTF-8.
        assert_eq!(java_string_cmp("\u{1F600}", "\u{FF21}"), Ordering::Less);
        assert_eq!(java_string_cmp("AccessKey", "a"), Ordering::Less);
        assert_eq!(java_string_cmp("ab", "a"), Ordering::Greater);
    }

    #[test]
    fn hmac_sha1_known_answer() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?".
        let e = ext(&[("x", "what do ya want for nothing?")]);
        assert_eq!(signature("Jefe", &e, b""), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    }

    #[test]
    fn sign_adds_fields_and_resigning_is_stable() {
        let creds = Credentials::new("ak", "sk").with_security_token("tok");
        let mut cmd =
            RemotingCommand::new_request(RequestCode::HEART_BEAT, ExtFields::new()).with_body(&b"{}"[..]);
        creds.sign(&mut cmd);
        assert_eq!(cmd.ext_fields.get(ACCESS_KEY), Some("ak"));
        assert_eq!(cmd.ext_fields.get(SECURITY_TOKEN), Some("tok"));
        let first = cmd.ext_fields.get(SIGNATURE).map(str::to_owned);
        creds.sign(&mut cmd);
        assert_eq!(cmd.ext_fields.get(SIGNATURE).map(str::to_owned), first);
        assert_eq!(cmd.ext_fields.len(), 3);
    }

    #[test]
    fn secret_is_never_shown() {
        let c = Credentials::new("ak", "very-secret").with_security_token("token-value");
        let shown = format!("{:?} {:?}", c, AclHook::new(c.clone()));
        assert!(
            !shown.contains("very-secret") && !shown.contains("token-value"),
            "{shown}"
        );
        assert!(Credentials::new(" ", "x").validate().is_err());
        assert!(Credentials::new("a", "").validate().is_err());
        assert!(c.validate().is_ok());
    }
}
