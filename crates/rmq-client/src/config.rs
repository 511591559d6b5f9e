//! Settings shared by every producer and consumer: name servers, identity, timeouts, TLS.

use std::time::Duration;

use rmq_protocol::SerializeType;

use crate::acl::Credentials;
use crate::error::{Error, Result};
use crate::tls::TlsConfig;

/// Client-wide settings (the Java client's `ClientConfig`).
///
/// ```
/// use rmq_client::ClientConfig;
/// let cfg = ClientConfig::new("127.0.0.1:9876;127.0.0.2:9876");
/// assert_eq!(cfg.name_servers().unwrap().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Name-server addresses, `host:port` separated by `;`. Required.
    pub namesrv_addr: String,
    /// Instance name, part of the client id. Default `"DEFAULT"`, which is replaced by `<pid>#<nanos>` so
    /// that two clients in one process (or on one host) never share an id.
    pub instance_name: String,
    /// Optional unit name, appended to the client id.
    pub unit_name: Option<String>,
    /// The IP announced in the client id. Default: the first non-loopback IPv4 address of this host.
    pub client_ip: Option<String>,
    /// Timeout of ordinary requests to name servers and brokers (route, heartbeat, offsets): 3 s.
    pub request_timeout: Duration,
    /// TCP connect timeout: 3 s.
    pub connect_timeout: Duration,
    /// How often routes of the topics in use are refreshed: 30 s.
    pub poll_name_server_interval: Duration,
    /// How often heartbeats are sent to every broker: 30 s.
    pub heartbeat_interval: Duration,
    /// Header serialization of requests: JSON (default, like the Java client) or the ROCKETMQ binary form.
    pub serialize_type: SerializeType,
    /// Largest frame accepted from a server: 16 MiB.
    pub max_frame: usize,
    /// Access key and secret for brokers with ACL on: every request is signed like the Java client's
    /// `AclClientRPCHook` does (see [`crate::acl`]). Default none. `Debug` never shows the secret.
    pub credentials: Option<Credentials>,
    /// TLS to name servers and brokers (CAs, client certificate, hostname verification); see
    /// [`crate::tls`]. Default none: plain TCP. Files are read when the client starts.
    pub tls: Option<TlsConfig>,
}

impl ClientConfig {
    /// Settings with defaults and the given name-server list.
    pub fn new(namesrv_addr: impl Into<String>) -> Self {
        ClientConfig {
            namesrv_addr: namesrv_addr.into(),
            instance_name: "DEFAULT".into(),
            unit_name: None,
            client_ip: None,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            poll_name_server_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(30),
            serialize_type: SerializeType::Json,
            max_frame: rmq_protocol::frame::DEFAULT_MAX_FRAME,
            credentials: None,
            tls: None,
        }
    }

    /// Sign every request with `credentials` (builder style).
    ///
    /// ```
    /// use rmq_client::{acl::Credentials, ClientConfig};
    /// let cfg = ClientConfig::new("127.0.0.1:9876").with_credentials(Credentials::new("alice", "s3cret"));
    /// assert!(!format!("{cfg:?}").contains("s3cret"));
    /// ```
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The name-server addresses, validated.
    pub fn name_servers(&self) -> Result<Vec<String>> {
        let addrs: Vec<String> = self
            .namesrv_addr
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if addrs.is_empty() {
            return Err(Error::invalid("namesrv_addr is empty"));
        }
        for a in &addrs {
            let ok = a
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err(Error::invalid(format!(
                    "name server address {a:?} is not host:port"
                )));
            }
        }
        Ok(addrs)
    }

    /// The client id `ip@instance[@unit]`, resolving the default instance name and IP.
    pub fn client_id(&self) -> String {
        let ip = self.client_ip.clone().unwrap_or_else(local_ip);
        let instance = self.resolved_instance_name();
        match &self.unit_name {
            Some(u) if !u.is_empty() => format!("{ip}@{instance}@{u}"),
            _ => format!("{ip}@{instance}"),
        }
    }

    /// The instance name, with `"DEFAULT"` replaced by `<pid>#<nanos>` (computed once per process).
    pub fn resolved_instance_name(&self) -> String {
        if self.instance_name == "DEFAULT" {
            default_instance_name()
        } else {
            self.instance_name.clone()
        }
    }
}

fn default_instance_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static BASE: OnceLock<String> = OnceLock::new();
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let base = BASE.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        format!("{}#{}", std::process::id(), nanos)
    });
    // Several clients in one process get distinct ids, as they would with distinct Java client instances.
    match SEQ.fetch_add(1, Ordering::Relaxed) {
        0 => base.clone(),
        n => format!("{base}#{n}"),
    }
}

/// The first non-loopback IPv4 address of this host, else `127.0.0.1`.
pub(crate) fn local_ip() -> String {
    use std::sync::OnceLock;
    static IP: OnceLock<String> = OnceLock::new();
    IP.get_or_init(|| {
        if_addrs::get_if_addrs()
            .ok()
            .and_then(|ifs| {
                ifs.into_iter()
                    .filter(|i| !i.is_loopback())
                    .map(|i| i.ip())
                    .find(|ip| ip.is_ipv4())
                    .map(|ip| ip.to_string())
            })
            .unwrap_or_else(|| "127.0.0.1".to_owned())
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_server_validation() {
        assert!(ClientConfig::new("").name_servers().is_err());
        assert!(ClientConfig::new("localhost").name_servers().is_err());
        assert_eq!(
            ClientConfig::new(" a:1 ; b:2;").name_servers().unwrap(),
            vec!["a:1", "b:2"]
        );
    }

    #[test]
    fn client_ids_are_distinct() {
        let c = ClientConfig::new("a:1");
        let (a, b) = (c.client_id(), c.client_id());
        assert_ne!(a, b);
        assert!(a.contains('@'));
        let mut named = ClientConfig::new("a:1");
        named.instance_name = "x".into();
        named.unit_name = Some("u".into());
        named.client_ip = Some("1.2.3.4".into());
        assert_eq!(named.client_id(), "1.2.3.4@x@u");
    }
}
