//! Cluster options.

use std::time::Duration;

use crate::acl::AclOptions;
use crate::tls::TlsOptions;

/// How a broker flushes the commit log (`flushDiskType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushDiskType {
    /// `ASYNC_FLUSH` (the broker default).
    #[default]
    Async,
    /// `SYNC_FLUSH`: a send succeeds only after the message is on disk.
    Sync,
}

impl FlushDiskType {
    /// The value RocketMQ expects in `broker.conf`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlushDiskType::Async => "ASYNC_FLUSH",
            FlushDiskType::Sync => "SYNC_FLUSH",
        }
    }
}

/// What [`Cluster::start`](crate::Cluster::start) launches.
///
/// ```
/// use rmq_testkit::{ClusterOptions, FlushDiskType};
/// let options = ClusterOptions { brokers: 1, flush_disk_type: FlushDiskType::Sync, ..Default::default() }
///     .broker_property("traceTopicEnable", "true");
/// assert_eq!(options.brokers, 1);
/// ```
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of master brokers, named `broker-a`, `broker-b`, ... Default 2. Zero starts only
    /// a name server.
    pub brokers: usize,
    /// `brokerClusterName`. Default `RmqTestCluster`.
    pub cluster_name: String,
    /// `flushDiskType` of every broker. Default [`FlushDiskType::Async`].
    pub flush_disk_type: FlushDiskType,
    /// Extra `broker.conf` entries, written after (so overriding) the kit's defaults, e.g.
    /// `("aclEnable", "true")`. Default empty.
    pub broker_properties: Vec<(String, String)>,
    /// Extra name server properties, written after the kit's defaults. Default empty.
    pub namesrv_properties: Vec<(String, String)>,
    /// Extra broker JVM flags, after (so overriding) [`BROKER_JVM_ARGS`]. Default empty.
    pub broker_jvm_args: Vec<String>,
    /// Extra name server JVM flags, after [`NAMESRV_JVM_ARGS`]. Default empty.
    pub namesrv_jvm_args: Vec<String>,
    /// How long each server may take to become ready. Default 120 s, or
    /// [`START_TIMEOUT_ENV`] seconds when set (for slow or crowded CI machines).
    pub start_timeout: Duration,
    /// ACL 2.0 on every broker (authentication, and authorization unless turned off), with a super
    /// user and test users; see [`AclOptions`]. Default none: no access control.
    pub acl: Option<AclOptions>,
    /// Run every server with TLS enforced, certificates generated at start (see
    /// [`Cluster::tls`](crate::Cluster::tls)). Default none: plain TCP.
    pub tls: Option<TlsOptions>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            brokers: 2,
            cluster_name: "RmqTestCluster".to_string(),
            flush_disk_type: FlushDiskType::Async,
            broker_properties: Vec::new(),
            namesrv_properties: Vec::new(),
            broker_jvm_args: Vec::new(),
            namesrv_jvm_args: Vec::new(),
            start_timeout: default_start_timeout(),
            acl: None,
            tls: None,
        }
    }
}

/// Environment variable overriding the default [`ClusterOptions::start_timeout`], in seconds.
pub const START_TIMEOUT_ENV: &str = "RMQ_TESTKIT_START_TIMEOUT_SECS";

fn default_start_timeout() -> Duration {
    let secs = std::env::var(START_TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    Duration::from_secs(secs.unwrap_or(120))
}

impl ClusterOptions {
    /// Adds a `broker.conf` entry for every broker.
    pub fn broker_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.broker_properties.push((key.into(), value.into()));
        self
    }

    /// Adds a name server property.
    pub fn namesrv_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.namesrv_properties.push((key.into(), value.into()));
        self
    }
}

/// Name server JVM flags: small heap, serial GC and C1 only, which start fastest on small
/// machines.
pub const NAMESRV_JVM_ARGS: &[&str] = &[
    "-Xms64m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
];

/// Broker JVM flags. For throughput measurements override with e.g. `-XX:TieredStopAtLevel=4`
/// `-Xms1g -Xmx1g` in [`ClusterOptions::broker_jvm_args`].
pub const BROKER_JVM_ARGS: &[&str] = &[
    "-Xms256m",
    "-Xmx512m",
    "-XX:MaxDirectMemorySize=512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
];

/// JVM flags of `mqadmin` runs.
pub(crate) const TOOLS_JVM_ARGS: &[&str] = &[
    "-Xms32m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
];

/// `broker.conf` entries every test broker gets (before the per-broker and user entries).
///
/// Small mapped files keep the store a few MiB; `waitTimeMillsInSendQueue` is raised from 200 ms
/// so that a loaded CI machine does not answer sends with "broker busy".
pub(crate) const BROKER_DEFAULTS: &[(&str, &str)] = &[
    ("brokerId", "0"),
    ("brokerRole", "ASYNC_MASTER"),
    ("brokerIP1", "127.0.0.1"),
    ("brokerIP2", "127.0.0.1"),
    ("bindAddress", "127.0.0.1"),
    ("autoCreateTopicEnable", "true"),
    ("autoCreateSubscriptionGroup", "true"),
    ("enablePropertyFilter", "true"),
    ("mappedFileSizeCommitLog", "67108864"),
    ("mappedFileSizeConsumeQueue", "60000"),
    ("maxIndexNum", "100000"),
    ("maxHashSlotNum", "40000"),
    ("deleteWhen", "04"),
    ("fileReservedTime", "1"),
    ("sendMessageThreadPoolNums", "2"),
    ("waitTimeMillsInSendQueue", "1000"),
];

/// `broker-a` ... `broker-z`, then `broker-26`, ...
pub(crate) fn broker_name(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => format!("broker-{}", char::from(b'a' + i)),
        _ => format!("broker-{index}"),
    }
}

/// A Java properties line; backslashes are escaped so paths survive.
pub(crate) fn property_line(key: &str, value: &str) -> String {
    format!("{key}={}\n", value.replace('\\', "\\\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lines() {
        assert_eq!(broker_name(0), "broker-a");
        assert_eq!(broker_name(25), "broker-z");
        assert_eq!(broker_name(26), "broker-26");
        assert_eq!(property_line("k", r"a\b"), "k=a\\\\b\n");
    }
}
