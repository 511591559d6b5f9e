//! Clusters with ACL: RocketMQ 5 "ACL 2.0" on every broker, a super user and test users.
//!
//! RocketMQ 5.5.0 enforces access control only through ACL 2.0 (the `auth` module): with
//! `authenticationEnabled` a broker checks every request's `AccessKey` and HmacSHA1 `Signature`
//! (exactly what the Java client's `AclClientRPCHook` sends) against its users, and with
//! `authorizationEnabled` it checks the user's ACL for the topic and group of the request. Users and
//! ACLs live in each broker's local RocksDB store (`LocalAuthenticationMetadataProvider`,
//! `LocalAuthorizationMetadataProvider`), so the kit creates them on every broker, with the
//! `AUTH_CREATE_USER` / `AUTH_CREATE_ACL` requests `mqadmin createUser` / `createAcl` send, signed
//! as the super user. The 4.x "ACL 1.0" (`aclEnable` with `plain_acl.yml`) is gone from 5.5.0:
//! the flag is still parsed but nothing reads it. Name servers do no access control.
//!
//! Both failure kinds come back as `NO_PERMISSION` (16); the remark tells them apart
//! (`check signature failed.`, `User:x is not found.` for authentication;
//! `User:x has no permission to access Topic:t ...` for authorization).
//!
//! The kit's own requests ([`Cluster::create_topic`]) and [`Cluster::mqadmin`] (through
//! `conf/tools.yml`) use the super user. ACL and TLS are not combined by the kit yet: users are
//! created over plain TCP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use crate::cluster::Cluster;
use crate::error::{Error, IoContext, Result};
use crate::remoting;

/// `AUTH_CREATE_USER`.
const AUTH_CREATE_USER: i32 = 3001;
/// `AUTH_CREATE_ACL` (merges into an existing ACL of the subject).
const AUTH_CREATE_ACL: i32 = 3006;
const TIMEOUT: Duration = Duration::from_secs(10);

/// ACL settings of a cluster: a super user plus users created once the brokers run.
///
/// ```
/// use rmq_testkit::{AclOptions, AclUser, ClusterOptions};
/// let acl = AclOptions::new("admin", "admin-secret")
///     .user(AclUser::new("alice", "alice-secret").allow(&["Topic:orders", "Group:billing"], &["Pub", "Sub"]))
///     .user(AclUser::new("mallory", "mallory-secret"));
/// let options = ClusterOptions { brokers: 1, acl: Some(acl), ..Default::default() };
/// assert_eq!(options.acl.unwrap().users.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclOptions {
    /// The super user: created by every broker at start (`initAuthenticationUser`), used by the
    /// brokers among themselves (`innerClientAuthenticationCredentials`), by the kit's own
    /// requests and by `mqadmin`. Default `rmq-admin` / `rmq-admin-secret`.
    pub admin: AclUser,
    /// Users created on every broker once the cluster runs, in order. Default none.
    pub users: Vec<AclUser>,
    /// Also check permissions (`authorizationEnabled`), not just credentials. Default true.
    pub authorization: bool,
}

impl Default for AclOptions {
    fn default() -> Self {
        AclOptions::new("rmq-admin", "rmq-admin-secret")
    }
}

impl AclOptions {
    /// Authentication and authorization on, with this super user and no other users.
    pub fn new(admin: impl Into<String>, password: impl Into<String>) -> Self {
        AclOptions {
            admin: AclUser::super_user(admin, password),
            users: Vec::new(),
            authorization: true,
        }
    }

    /// Adds a user created at start.
    pub fn user(mut self, user: AclUser) -> Self {
        self.users.push(user);
        self
    }

    /// `broker.conf` entries turning ACL 2.0 on.
    pub(crate) fn broker_properties(&self) -> Vec<(String, String)> {
        const AUTHN: &str = "org.apache.rocketmq.auth.authentication.provider";
        const AUTHZ: &str = "org.apache.rocketmq.auth.authorization.provider";
        let (name, password) = (&self.admin.name, &self.admin.password);
        let mut p = vec![
            ("authenticationEnabled", "true".to_string()),
            (
                "authenticationProvider",
                format!("{AUTHN}.DefaultAuthenticationProvider"),
            ),
            (
                "authenticationMetadataProvider",
                format!("{AUTHN}.LocalAuthenticationMetadataProvider"),
            ),
            (
                "initAuthenticationUser",
                json!({"username": name, "password": password}).to_string(),
            ),
            (
                "innerClientAuthenticationCredentials",
                json!({"accessKey": name, "secretKey": password}).to_string(),
            ),
            ("authorizationEnabled", self.authorization.to_string()),
        ];
        if self.authorization {
            p.push((
                "authorizationProvider",
                format!("{AUTHZ}.DefaultAuthorizationProvider"),
            ));
            p.push((
                "authorizationMetadataProvider",
                format!("{AUTHZ}.LocalAuthorizationMetadataProvider"),
            ));
        }
        p.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// A user (`User:<name>` subject) and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclUser {
    /// User name: the client's access key.
    pub name: String,
    /// Password: the client's secret key.
    pub password: String,
    /// A `Super` user may do anything; a `Normal` one only what its grants allow.
    pub super_user: bool,
    /// Policy entries of the user's ACL.
    pub grants: Vec<AclGrant>,
}

impl AclUser {
    /// A normal user without any permission.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        AclUser {
            name: name.into(),
            password: password.into(),
            super_user: false,
            grants: Vec::new(),
        }
    }

    /// A super user.
    pub fn super_user(name: impl Into<String>, password: impl Into<String>) -> Self {
        AclUser {
            super_user: true,
            ..AclUser::new(name, password)
        }
    }

    /// Allows `actions` (`Pub`, `Sub`, `Get`, `Update`, `All`, ...) on `resources` (`Topic:orders`,
    /// `Group:billing`, `Topic:orders_*` for a prefix, `Group:*`, ...).
    pub fn allow(mut self, resources: &[&str], actions: &[&str]) -> Self {
        self.grants.push(AclGrant::new(resources, actions, true));
        self
    }

    /// Denies `actions` on `resources` (a deny wins over an allow).
    pub fn deny(mut self, resources: &[&str], actions: &[&str]) -> Self {
        self.grants.push(AclGrant::new(resources, actions, false));
        self
    }
}

/// One ACL policy entry per resource: `actions` allowed or denied on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclGrant {
    /// `Topic:<name>`, `Group:<name>`, a `*` suffix for a prefix, `Topic:*`, ...
    pub resources: Vec<String>,
    /// `Pub`, `Sub`, `Create`, `Update`, `Delete`, `Get`, `List`, `All`.
    pub actions: Vec<String>,
    /// `Allow` (true) or `Deny`.
    pub allow: bool,
}

impl AclGrant {
    /// An entry for `resources` and `actions`.
    pub fn new(resources: &[&str], actions: &[&str], allow: bool) -> Self {
        AclGrant {
            resources: resources.iter().map(|s| s.to_string()).collect(),
            actions: actions.iter().map(|s| s.to_string()).collect(),
            allow,
        }
    }
}

impl Cluster {
    /// Creates `user` and its grants on every running broker, signed as the super user. Fails
    /// with [`Error::InvalidState`] on a cluster started without [`ClusterOptions::acl`](crate::ClusterOptions::acl).
    pub fn create_user(&self, user: &AclUser) -> Result<()> {
        let body = json!({
            "username": user.name,
            "password": user.password,
            "userType": if user.super_user { "Super" } else { "Normal" },
            "userStatus": "enable",
        });
        self.acl_request_all(AUTH_CREATE_USER, &[("username", user.name.clone())], &body)?;
        for grant in &user.grants {
            self.grant(&user.name, grant)?;
        }
        Ok(())
    }

    /// Adds `grant` to the ACL of the user `name` on every running broker.
    pub fn grant(&self, name: &str, grant: &AclGrant) -> Result<()> {
        let subject = format!("User:{name}");
        let entries: Vec<Value> = grant
            .resources
            .iter()
            .map(|r| {
                json!({
                    "resource": r,
                    "actions": grant.actions,
                    "decision": if grant.allow { "Allow" } else { "Deny" },
                })
            })
            .collect();
        let body = json!({
            "subject": subject,
            "policies": [{"policyType": "Custom", "entries": entries}],
        });
        self.acl_request_all(AUTH_CREATE_ACL, &[("subject", subject.clone())], &body)
    }

    /// Creates the users of [`AclOptions::users`] (at start).
    pub(crate) fn create_acl_users(&self) -> Result<()> {
        let Some(acl) = &self.options.acl else {
            return Ok(());
        };
        for user in &acl.users {
            self.create_user(user)?;
        }
        Ok(())
    }

    fn acl_request_all(&self, code: i32, ext: &[(&str, String)], body: &Value) -> Result<()> {
        let acl = self.options.acl.as_ref().ok_or_else(|| {
            Error::InvalidState("the cluster was started without ClusterOptions::acl".into())
        })?;
        let body = body.to_string().into_bytes();
        let mut running = Vec::new();
        for (broker, jvm) in self.brokers.iter().zip(self.lock_procs().iter_mut().skip(1)) {
            if jvm.as_mut().is_some_and(|j| j.exit_status().is_none()) {
                running.push(broker.addr.clone());
            }
        }
        for addr in running {
            let response = signed_request(&addr, code, ext, &body, &acl.admin)?;
            if response.code != 0 {
                return Err(Error::Remoting {
                    addr,
                    reason: format!("ACL request {code}: code {} {}", response.code, response.remark),
                });
            }
        }
        Ok(())
    }
}

/// `ext` plus `AccessKey` and `Signature` of the super user when `acl` is set (requests without a body).
pub(crate) fn signed_ext<'a>(acl: Option<&AclOptions>, ext: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
    let mut ext = ext.to_vec();
    if let Some(acl) = acl {
        sign(&mut ext, &[], &acl.admin);
    }
    ext
}

/// JVM flags making `mqadmin` sign as the super user: `MQAdminStartup` reads the keys from
/// `<rocketmq.home.dir>/conf/tools.yml`, so `home` gets one and becomes the home directory (this
/// later `-D` wins over the runtime's).
pub(crate) fn tools_jvm_args(acl: Option<&AclOptions>, home: &Path) -> Result<Vec<String>> {
    let Some(acl) = acl else {
        return Ok(Vec::new());
    };
    let conf = home.join("conf");
    std::fs::create_dir_all(&conf).ctx(|| format!("creating {}", conf.display()))?;
    let yml = conf.join("tools.yml");
    let text = format!(
        "accessKey: {}\nsecretKey: {}\n",
        json!(acl.admin.name),
        json!(acl.admin.password)
    );
    std::fs::write(&yml, text).ctx(|| format!("writing {}", yml.display()))?;
    Ok(vec![format!("-Drocketmq.home.dir={}", home.display())])
}

/// Adds `AccessKey` and `Signature` as the Java `AclClientRPCHook` does: HmacSHA1 with the password
/// over the values of every field in key order (Java `String` order), then the body; Base64.
fn sign(ext: &mut Vec<(&str, String)>, body: &[u8], user: &AclUser) {
    ext.retain(|(k, _)| *k != "AccessKey" && *k != "Signature");
    ext.push(("AccessKey", user.name.clone()));
    let mut fields: Vec<&(&str, String)> = ext.iter().collect();
    fields.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let mut mac = match Hmac::<Sha1>::new_from_slice(user.password.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for (_, v) in fields {
        mac.update(v.as_bytes());
    }
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    ext.push(("Signature", signature));
}

/// One signed request with a body over plain TCP, waiting for the response.
fn signed_request(
    addr: &str,
    code: i32,
    ext: &[(&str, String)],
    body: &[u8],
    user: &AclUser,
) -> Result<remoting::Response> {
    static OPAQUE: AtomicI32 = AtomicI32::new(1_000_000);
    let err = |reason: String| Error::Remoting {
        addr: addr.to_string(),
        reason,
    };
    let mut ext = ext.to_vec();
    sign(&mut ext, body, user);
    let fields: serde_json::Map<String, Value> = ext
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
        .collect();
    let opaque = OPAQUE.fetch_add(1, Ordering::Relaxed);
    let header = json!({
        "code": code, "flag": 0, "language": "JAVA", "opaque": opaque,
        "serializeTypeCurrentRPC": "JSON", "version": 0, "extFields": fields,
    })
    .to_string()
    .into_bytes();
    let (header_len, body_len) = (header.len() as u32, body.len() as u32);
    let mut frame = Vec::with_capacity(8 + header.len() + body.len());
    frame.extend_from_slice(&(4 + header_len + body_len).to_be_bytes());
    frame.extend_from_slice(&header_len.to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(body);

    let sock: SocketAddr = addr.parse().map_err(|e| err(format!("bad address: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&sock, TIMEOUT).map_err(|e| err(format!("connect: {e}")))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| err(e.to_string()))?;
    stream.write_all(&frame).map_err(|e| err(format!("write: {e}")))?;
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| err(format!("read: {e}")))?;
    let len = u32::from_be_bytes(len) as usize;
    if !(4..=16 * 1024 * 1024).contains(&len) {
        return Err(err(format!("bad frame length {len}")));
    }
    let mut frame = vec![0u8; len];
    stream
        .read_exact(&mut frame)
        .map_err(|e| err(format!("read: {e}")))?;
    let (response, _) = remoting::decode(&frame).map_err(err)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_java() {
        // The `heartbeat` case of rmq-client's tests/fixtures/acl/signatures.json (Java AclClientRPCHook).
        let body = br#"{"clientID":"127.0.0.1@1#2","consumerDataSet":[],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"pg"}],"withoutSub":false}"#;
        let mut ext = Vec::new();
        sign(&mut ext, body, &AclUser::new("rocketmq2", "12345678"));
        assert_eq!(
            ext,
            [
                ("AccessKey", "rocketmq2".to_string()),
                ("Signature", "7BOjexVw0YUhNDp+Fyyh2LDC2lE=".to_string())
            ]
        );
    }

    #[test]
    fn broker_properties_turn_both_checks_on() {
        let p = AclOptions::default().broker_properties();
        let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("authenticationEnabled"), Some("true"));
        assert_eq!(get("authorizationEnabled"), Some("true"));
        // Compare as JSON: key order depends on whether serde_json's `preserve_order` is enabled
        // somewhere in the build.
        let user: serde_json::Value = get("initAuthenticationUser")
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default();
        assert_eq!(
            user,
            serde_json::json!({"username": "rmq-admin", "password": "rmq-admin-secret"})
        );
        assert!(get("authorizationProvider").is_some());
    }
}
