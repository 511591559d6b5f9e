//! TLS clusters: certificates generated at start (rcgen), the Java servers' TLS settings, and the
//! kit's own TLS client for its health checks.
//!
//! With [`ClusterOptions::tls`](crate::ClusterOptions::tls) set, the name server and every broker
//! run with `tls.server.mode=enforcing`: a connection whose first byte is not a TLS handshake is
//! closed. Brokers register with the name server over TLS (`tls.enable=true`), verifying its
//! certificate against the cluster CA and presenting a client certificate. `mqadmin` and
//! [`Cluster::java_command`](crate::Cluster::java_command) get the matching client settings.
//!
//! The Java side reads its TLS settings from system properties (`TlsSystemConfig`):
//! `tls.server.certPath` / `keyPath` (PKCS#8 PEM) / `trustCertPath`, `tls.server.need.client.auth`
//! (`none`, `optional`, `require`), `tls.server.authClient`, and `tls.client.*` for its outgoing
//! connections; `tls.test.mode.enable=false` makes it use them instead of a self-signed certificate
//! and trust-all. `tls.config.file` points into the cluster directory so that a host's
//! `/etc/rocketmq/tls.properties` cannot interfere.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::error::{Error, IoContext, Result};
use crate::runtime::path_property;

/// Whether the servers ask clients for a certificate (`tls.server.need.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for (the default).
    #[default]
    None,
    /// A client certificate is asked for and verified against the cluster CA when sent; clients
    /// without one are accepted.
    Optional,
    /// Mutual TLS: clients without a certificate issued by the cluster CA are refused.
    Require,
}

impl ClientAuth {
    fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Optional => "optional",
            ClientAuth::Require => "require",
        }
    }
}

/// TLS settings of a test cluster.
///
/// ```
/// use rmq_testkit::{ClientAuth, ClusterOptions, TlsOptions};
/// let options = ClusterOptions {
///     brokers: 1,
///     tls: Some(TlsOptions { client_auth: ClientAuth::Require, ..Default::default() }),
///     ..Default::default()
/// };
/// assert!(options.tls.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Client certificates. Default [`ClientAuth::None`].
    pub client_auth: ClientAuth,
    /// Subject alternative names of the servers' certificate (IP addresses become IP SANs).
    /// Default `localhost` and `127.0.0.1`, the address every server listens on. The first one
    /// is the name the kit's own client verifies.
    pub server_names: Vec<String>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            client_auth: ClientAuth::None,
            server_names: vec!["localhost".into(), "127.0.0.1".into()],
        }
    }
}

/// A certificate authority made at run time (ECDSA P-256), issuing server and client certificates.
pub struct CertificateAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority").finish_non_exhaustive()
    }
}

fn rcgen_err(what: &str) -> impl Fn(rcgen::Error) -> Error + '_ {
    move |e| Error::InvalidState(format!("generating {what}: {e}"))
}

impl CertificateAuthority {
    /// A new self-signed CA whose subject common name is `name`.
    pub fn new(name: &str) -> Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("a CA"))?;
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(rcgen_err("a CA key"))?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(rcgen_err("a CA"))?;
        Ok(CertificateAuthority { issuer })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names, or IP addresses which become IP SANs; may be empty),
    /// with common name `common_name`, usable by servers and by clients, and its new key.
    pub fn issue(&self, common_name: &str, names: &[&str]) -> Result<Identity> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).map_err(rcgen_err("a certificate"))?;
        params.distinguished_name = dn(common_name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(rcgen_err("a key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_err("a certificate"))?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "rmq-testkit");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A certificate and its private key, PEM (the key PKCS#8, as RocketMQ expects). `Debug` hides the key.
#[derive(Clone)]
pub struct Identity {
    /// The certificate.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert_pem", &format_args!("<{} bytes>", self.cert_pem.len()))
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl Identity {
    /// Writes `<stem>.pem` and `<stem>.key` into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<IdentityFiles> {
        fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        let files = IdentityFiles {
            cert: dir.join(format!("{stem}.pem")),
            key: dir.join(format!("{stem}.key")),
        };
        fs::write(&files.cert, &self.cert_pem).ctx(|| format!("writing {}", files.cert.display()))?;
        fs::write(&files.key, &self.key_pem).ctx(|| format!("writing {}", files.key.display()))?;
        Ok(files)
    }
}

/// Where an [`Identity`] was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityFiles {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The private key, PKCS#8 PEM.
    pub key: PathBuf,
}

/// The TLS material of a running cluster: its CA, the servers' certificate and a client certificate,
/// all under `<cluster dir>/tls/`.
pub struct ClusterTls {
    options: TlsOptions,
    dir: PathBuf,
    ca: CertificateAuthority,
    ca_cert: PathBuf,
    server: IdentityFiles,
    client: IdentityFiles,
    client_identity: Identity,
    kit_client: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterTls")
            .field("options", &self.options)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl ClusterTls {
    /// Generates the CA and certificates into `<cluster_dir>/tls/`.
    pub(crate) fn generate(cluster_dir: &Path, options: &TlsOptions) -> Result<ClusterTls> {
        let dir = cluster_dir.join("tls");
        fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let ca = CertificateAuthority::new("rmq-testkit CA")?;
        let ca_cert = dir.join("ca.pem");
        fs::write(&ca_cert, ca.cert_pem()).ctx(|| format!("writing {}", ca_cert.display()))?;
        let names: Vec<&str> = options.server_names.iter().map(String::as_str).collect();
        let server = ca.issue("rmq-testkit server", &names)?.write(&dir, "server")?;
        let client_identity = ca.issue("rmq-testkit client", &[])?;
        let client = client_identity.write(&dir, "client")?;
        let kit_client = kit_client_config(&ca, &client_identity)?;
        Ok(ClusterTls {
            options: options.clone(),
            dir,
            ca,
            ca_cert,
            server,
            client,
            client_identity,
            kit_client,
        })
    }

    /// The options the material was made for.
    pub fn options(&self) -> &TlsOptions {
        &self.options
    }

    /// The CA that issued every certificate of the cluster; issue more with it.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// The CA certificate file (PEM): what clients must trust.
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert
    }

    /// The certificate and key the servers present.
    pub fn server_files(&self) -> &IdentityFiles {
        &self.server
    }

    /// A client certificate issued by the cluster CA (no names), as files.
    pub fn client_files(&self) -> &IdentityFiles {
        &self.client
    }

    /// The same client certificate, PEM.
    pub fn client_identity(&self) -> &Identity {
        &self.client_identity
    }

    /// The directory holding the material.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// System properties of a server JVM: enforcing TLS on its ports and TLS (verified, with the
    /// client certificate) on its own outgoing connections.
    pub(crate) fn server_jvm_args(&self) -> Vec<std::ffi::OsString> {
        let mut args = vec![
            "-Dtls.server.mode=enforcing".into(),
            path_property("tls.server.certPath", &self.server.cert),
            path_property("tls.server.keyPath", &self.server.key),
            path_property("tls.server.trustCertPath", &self.ca_cert),
            format!(
                "-Dtls.server.need.client.auth={}",
                self.options.client_auth.as_str()
            )
            .into(),
            format!(
                "-Dtls.server.authClient={}",
                self.options.client_auth != ClientAuth::None
            )
            .into(),
        ];
        args.extend(self.client_jvm_args());
        args
    }

    /// System properties of a Java client (mqadmin, Java programs, a broker's outgoing connections).
    pub(crate) fn client_jvm_args(&self) -> Vec<std::ffi::OsString> {
        vec![
            "-Dtls.enable=true".into(),
            "-Dtls.test.mode.enable=false".into(),
            path_property("tls.config.file", &self.dir.join("tls.properties.absent")),
            "-Dtls.client.authServer=true".into(),
            path_property("tls.client.trustCertPath", &self.ca_cert),
            path_property("tls.client.certPath", &self.client.cert),
            path_property("tls.client.keyPath", &self.client.key),
        ]
    }

    /// The kit's own TLS client settings (CA trusted, client certificate presented).
    pub(crate) fn kit_client(&self) -> &Arc<rustls::ClientConfig> {
        &self.kit_client
    }

    /// The name the kit's own client verifies: the first of [`TlsOptions::server_names`].
    pub(crate) fn kit_server_name(&self) -> Result<ServerName<'static>> {
        let name = self
            .options
            .server_names
            .first()
            .cloned()
            .unwrap_or_else(|| "localhost".to_string());
        ServerName::try_from(name.clone())
            .map_err(|e| Error::InvalidState(format!("TLS server name {name:?}: {e}")))
    }
}

fn kit_client_config(ca: &CertificateAuthority, client: &Identity) -> Result<Arc<rustls::ClientConfig>> {
    let bad = |e: String| Error::InvalidState(format!("the kit's TLS client: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    let ca_der = CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).map_err(|e| bad(e.to_string()))?;
    roots.add(ca_der).map_err(|e| bad(e.to_string()))?;
    let chain =
        vec![CertificateDer::from_pem_slice(client.cert_pem.as_bytes()).map_err(|e| bad(e.to_string()))?];
    let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad(e.to_string()))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_certificates_the_kit_client_accepts() {
        let ca = CertificateAuthority::new("test CA").unwrap();
        let id = ca.issue("srv", &["localhost", "127.0.0.1"]).unwrap();
        assert!(id.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(
            id.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "PKCS#8 for Java"
        );
        assert!(!format!("{id:?}").contains("PRIVATE"));
        kit_client_config(&ca, &id).unwrap();
    }
}
