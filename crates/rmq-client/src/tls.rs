//! TLS to name servers and brokers: rustls with the *ring* provider.
//!
//! Set [`ClientConfig::tls`](crate::ClientConfig::tls) and every connection of the client (name
//! servers and brokers alike) completes a TLS handshake before its first request. Servers must accept
//! TLS: a RocketMQ server in `tls.server.mode=enforcing` or `permissive` does.
//!
//! ```no_run
//! use rmq_client::tls::{ClientIdentity, TlsConfig};
//! use rmq_client::ClientConfig;
//!
//! let mut cfg = ClientConfig::new("mq.example.com:9876");
//! cfg.tls = Some(
//!     TlsConfig::new()
//!         .ca_pem_file("/etc/rocketmq/ca.pem")
//!         // Mutual TLS, for servers with `tls.server.need.client.auth=require`.
//!         .client_identity(ClientIdentity::pem_files("/etc/rocketmq/client.pem", "/etc/rocketmq/client.key")),
//! );
//! ```
//!
//! The server's certificate is verified against the configured CAs and, unless
//! [`TlsConfig::verify_hostname`] is turned off, against the host of the address connected to (a DNS
//! name, or an IP address which the certificate must list as an IP SAN). Brokers are reached at the
//! addresses they register with the name server, usually IP addresses.
//!
//! Failures surface as [`ErrorKind::Tls`] with a [`TlsFailure`] saying why; no request is written
//! before the handshake has completed.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::{Error, ErrorKind, Result, TlsFailure};

/// PEM data: a file, read when the client starts, or the text itself.
///
/// `Debug` shows the path or the length, never the content.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    /// A PEM file.
    File(PathBuf),
    /// PEM text.
    Inline(Vec<u8>),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(p) => f.debug_tuple("File").field(p).finish(),
            Pem::Inline(b) => write!(f, "Inline(<{} bytes>)", b.len()),
        }
    }
}

impl Pem {
    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::File(p) => std::fs::read(p).map_err(|e| {
                Error::invalid(format!("TLS: cannot read the {what} file {}: {e}", p.display()))
            }),
            Pem::Inline(b) => Ok(b.clone()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Pem::File(p) => p.display().to_string(),
            Pem::Inline(_) => "inline PEM".to_owned(),
        }
    }

    fn certificates(&self, what: &str) -> Result<Vec<CertificateDer<'static>>> {
        let data = self.read(what)?;
        let certs = CertificateDer::pem_slice_iter(&data)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::invalid(format!("TLS: bad {what} PEM in {}: {e}", self.describe())))?;
        if certs.is_empty() {
            return Err(Error::invalid(format!(
                "TLS: no CERTIFICATE block in the {what} {}",
                self.describe()
            )));
        }
        Ok(certs)
    }
}

/// Which certificate authorities the client trusts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CaRoots {
    /// The operating system's trust store (the default), read once when the client starts.
    #[default]
    System,
    /// Only these CA certificates (each PEM may hold several).
    Pem(Vec<Pem>),
}

/// A client certificate chain and its private key, for servers that require mutual TLS.
///
/// The key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM. `Debug` never shows key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub cert_chain: Pem,
    /// The private key of the leaf certificate.
    pub key: Pem,
}

impl ClientIdentity {
    /// Certificate chain and key from PEM files.
    pub fn pem_files(cert_chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        ClientIdentity {
            cert_chain: Pem::File(cert_chain.into()),
            key: Pem::File(key.into()),
        }
    }

    /// Certificate chain and key from PEM text.
    pub fn pem(cert_chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        ClientIdentity {
            cert_chain: Pem::Inline(cert_chain.into()),
            key: Pem::Inline(key.into()),
        }
    }

    fn load(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let chain = self.cert_chain.certificates("client certificate")?;
        let data = self.key.read("client key")?;
        // Never echo the parse error's input: only say where the key was expected.
        let key = PrivateKeyDer::from_pem_slice(&data)
            .map_err(|_| Error::invalid(format!("TLS: no private key in {}", self.key.describe())))?;
        Ok((chain, key))
    }
}

/// TLS settings of a client (see the [module docs](self)).
///
/// ```
/// use rmq_client::tls::TlsConfig;
/// let tls = TlsConfig::new().ca_pem_file("ca.pem");
/// assert!(tls.verify_hostname);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// Trusted CAs. Default [`CaRoots::System`].
    pub ca: CaRoots,
    /// Client certificate and key, sent when the server asks for one (mutual TLS). Default none.
    pub client_identity: Option<ClientIdentity>,
    /// Check that the server certificate names the host connected to. Default `true`. Turning it off
    /// still verifies the chain against [`ca`](Self::ca) but accepts a certificate issued for any
    /// name: only for test clusters whose certificates do not name their hosts.
    pub verify_hostname: bool,
    /// The name to verify (and send as SNI) instead of each address's host, for clusters reached
    /// by IP whose certificates carry one DNS name. Default none.
    pub server_name: Option<String>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca: CaRoots::System,
            client_identity: None,
            verify_hostname: true,
            server_name: None,
        }
    }
}

impl TlsConfig {
    /// System CAs, no client certificate, hostname verification on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust the CA certificates in this PEM file (in addition to other PEMs given; instead of the
    /// system store).
    pub fn ca_pem_file(self, path: impl Into<PathBuf>) -> Self {
        self.add_ca(Pem::File(path.into()))
    }

    /// Trust the CA certificates in this PEM text (in addition to other PEMs given; instead of the
    /// system store).
    pub fn ca_pem(self, pem: impl Into<Vec<u8>>) -> Self {
        self.add_ca(Pem::Inline(pem.into()))
    }

    fn add_ca(mut self, pem: Pem) -> Self {
        match &mut self.ca {
            CaRoots::Pem(list) => list.push(pem),
            _ => self.ca = CaRoots::Pem(vec![pem]),
        }
        self
    }

    /// Present this certificate when the server asks for one.
    pub fn client_identity(mut self, identity: ClientIdentity) -> Self {
        self.client_identity = Some(identity);
        self
    }

    /// Turn hostname verification on (default) or off; see [`TlsConfig::verify_hostname`](Self#structfield.verify_hostname).
    pub fn verify_hostname(mut self, on: bool) -> Self {
        self.verify_hostname = on;
        self
    }

    /// Verify this name instead of each address's host.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Load the certificates and keys and build the connector. Fails with
    /// [`ErrorKind::InvalidArgument`] on unreadable files or bad PEM.
    pub fn connector(&self) -> Result<TlsConnector> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(self.root_store()?);
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(format!("TLS: {e}")))?;
        let builder = if self.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| Error::invalid(format!("TLS: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyNameVerifier(inner)))
        };
        let config = match &self.client_identity {
            Some(id) => {
                let (chain, key) = id.load()?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::invalid(format!("TLS: client certificate or key unusable: {e}")))?
            }
            None => builder.with_no_client_auth(),
        };
        let server_name = match &self.server_name {
            Some(n) => Some(
                ServerName::try_from(n.clone())
                    .map_err(|e| Error::invalid(format!("TLS: server name {n:?}: {e}")))?,
            ),
            None => None,
        };
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
            summary: Arc::from(format!(
                "ca: {}, client certificate: {}, verify hostname: {}",
                match &self.ca {
                    CaRoots::System => "system".to_owned(),
                    CaRoots::Pem(p) => format!("{} PEM", p.len()),
                },
                self.client_identity.is_some(),
                self.verify_hostname
            )),
        })
    }

    fn root_store(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        match &self.ca {
            CaRoots::System => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                    return Err(Error::invalid(format!(
                        "TLS: no CA certificate found in the system store ({})",
                        errors.join("; ")
                    )));
                }
            }
            CaRoots::Pem(pems) => {
                for pem in pems {
                    for cert in pem.certificates("CA certificate")? {
                        roots.add(cert).map_err(|e| {
                            Error::invalid(format!("TLS: unusable CA certificate in {}: {e}", pem.describe()))
                        })?;
                    }
                }
            }
        }
        Ok(roots)
    }
}

/// A built TLS client configuration, cheap to clone; made by [`TlsConfig::connector`] and used by
/// every connection of a client.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
    summary: Arc<str>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("settings", &self.summary)
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsConnector {
    /// Run the client handshake over `tcp`, connected to `addr` (`host:port`). Nothing but handshake
    /// messages is written before this returns.
    pub(crate) async fn handshake(&self, addr: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>> {
        let name = match &self.server_name {
            Some(n) => n.clone(),
            None => ServerName::try_from(host_of(addr).to_owned()).map_err(|e| {
                Error::new(ErrorKind::Connect {
                    addr: addr.to_owned(),
                })
                .with_context(format!("no TLS server name in the address: {e}"))
            })?,
        };
        match self.inner.connect(name, tcp).await {
            Ok(stream) => {
                let (_, session) = stream.get_ref();
                tracing::debug!(
                    addr,
                    version = ?session.protocol_version(),
                    suite = ?session.negotiated_cipher_suite().map(|s| s.suite()),
                    "TLS handshake done"
                );
                Ok(stream)
            }
            Err(e) => Err(handshake_error(addr, &e)),
        }
    }
}

/// The host part of `host:port` or `[v6]:port`.
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The rustls error inside an I/O error from a TLS stream.
fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

fn failure_of(e: &rustls::Error) -> TlsFailure {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::NameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsFailure::Expired,
            _ => TlsFailure::BadCertificate,
        },
        rustls::Error::AlertReceived(alert) => TlsFailure::Alert(format!("{alert:?}")),
        _ => TlsFailure::Handshake,
    }
}

fn handshake_error(addr: &str, e: &std::io::Error) -> Error {
    use std::io::ErrorKind as Io;
    let tls = |reason| {
        Error::new(ErrorKind::Tls {
            addr: addr.to_owned(),
            reason,
        })
    };
    if let Some(r) = rustls_error(e) {
        return tls(failure_of(r)).with_context(format!("handshake: {r}"));
    }
    match e.kind() {
        Io::UnexpectedEof | Io::ConnectionReset | Io::BrokenPipe => tls(TlsFailure::Closed).with_context(
            format!("handshake: {e} (does the server accept TLS on this port?)"),
        ),
        _ => Error::new(ErrorKind::Connect {
            addr: addr.to_owned(),
        })
        .with_context(format!("TLS handshake: {e}")),
    }
}

/// The error for a TLS session that failed after its handshake (e.g. the server rejected our client
/// certificate with an alert), if `e` is such a failure.
pub(crate) fn session_error(addr: &str, e: &std::io::Error) -> Option<Error> {
    let r = rustls_error(e)?;
    Some(
        Error::new(ErrorKind::Tls {
            addr: addr.to_owned(),
            reason: failure_of(r),
        })
        .with_context(format!("connection closed: {r}")),
    )
}

/// Verifies the chain like webpki but accepts a certificate issued for any name.
#[derive(Debug)]
struct AnyNameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // The name is checked last, after the chain, its validity period and revocation.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("127.0.0.1:9876"), "127.0.0.1");
        assert_eq!(host_of("mq.example.com:9876"), "mq.example.com");
        assert_eq!(host_of("[::1]:9876"), "::1");
    }

    #[test]
    fn debug_never_shows_key_material() {
        let tls = TlsConfig::new()
            .ca_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .client_identity(ClientIdentity::pem("CERT-TEXT", "SECRET-KEY-TEXT"));
        let shown = format!("{tls:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("AAAA"), "{shown}");
        assert!(shown.contains("bytes"), "{shown}");
    }

    #[test]
    fn bad_files_are_invalid_arguments() {
        let err = TlsConfig::new()
            .ca_pem_file("/nonexistent/ca.pem")
            .connector()
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(m) if m.contains("/nonexistent/ca.pem")));
        let err = TlsConfig::new().ca_pem("not pem").connector().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(m) if m.contains("no CERTIFICATE")));
    }
}
