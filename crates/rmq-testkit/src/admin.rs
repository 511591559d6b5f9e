//! Administration helpers: mqadmin, topics, Java programs and quick health checks.

use std::ffi::OsString;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cluster::Cluster;
use crate::config::TOOLS_JVM_ARGS;
use crate::error::{Error, IoContext, Result};
use crate::process;
use crate::remoting;
use crate::tls::ClusterTls;

const MQADMIN_MAIN: &str = "org.apache.rocketmq.tools.command.MQAdminStartup";
/// Timeout of the kit's own admin requests.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Resource usage of one server JVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStats {
    /// `namesrv`, `broker-a`, ...
    pub name: String,
    /// Process id.
    pub pid: u32,
    /// Resident set size in KiB (from `ps`), if it could be read.
    pub rss_kib: Option<u64>,
}

impl Cluster {
    /// Runs `mqadmin <args>` (Java `MQAdminStartup` from the same jars) against this cluster's
    /// name server and returns its stdout.
    ///
    /// The name server is preset (`-n` is not needed, but allowed). Fails with
    /// [`Error::Command`] if the JVM exits non-zero, reports `... command failed` or does not
    /// know the sub command. Each call starts a JVM (2-5 s).
    ///
    /// ```no_run
    /// let cluster = rmq_testkit::Cluster::shared();
    /// let out = cluster.mqadmin(&["clusterList"]).unwrap();
    /// assert!(out.contains("broker-a"));
    /// ```
    pub fn mqadmin(&self, args: &[&str]) -> Result<String> {
        let home = self.dir().join("tools");
        let mut jvm_args: Vec<String> = TOOLS_JVM_ARGS.iter().map(|s| s.to_string()).collect();
        jvm_args.push(format!("-Drocketmq.namesrv.addr={}", self.namesrv_addr()));
        jvm_args.extend(crate::acl::tools_jvm_args(self.options.acl.as_ref(), &home)?);
        let mut jvm_args: Vec<OsString> = jvm_args.into_iter().map(OsString::from).collect();
        jvm_args.extend(self.tls().map(ClusterTls::client_jvm_args).unwrap_or_default());
        let mut cmd = self
            .runtime
            .jvm_command(&home, "rmq.tools.logback.xml", jvm_args, MQADMIN_MAIN);
        cmd.args(args)
            .env("NAMESRV_ADDR", self.namesrv_addr())
            .current_dir(self.dir());
        let shown = format!("mqadmin {}", args.join(" "));
        let output = cmd.output().ctx(|| format!("running {shown}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // MQAdminStartup prints failures (stack trace, unknown sub command) and still exits 0.
        let failed = stdout.contains("command failed")
            || stderr.contains("command failed")
            || stdout.starts_with("The sub command");
        if !output.status.success() || failed {
            return Err(Error::Command {
                command: shown,
                status: output.status.to_string(),
                output: format!("{stdout}{stderr}"),
            });
        }
        Ok(stdout)
    }

    /// Creates (or updates) `topic` with `queues_per_broker` read and write queues on every
    /// running broker, like `mqadmin updateTopic -c <cluster>` but without starting a JVM
    /// (one `UPDATE_AND_CREATE_TOPIC` request per broker). Each broker registers the topic with
    /// the name server before answering, so the route is complete when this returns.
    pub fn create_topic(&self, topic: &str, queues_per_broker: u32) -> Result<()> {
        let mut running = Vec::new();
        for (broker, jvm) in self.brokers.iter().zip(self.lock_procs().iter_mut().skip(1)) {
            if jvm.as_mut().is_some_and(|j| j.exit_status().is_none()) {
                running.push(broker.addr.clone());
            }
        }
        if running.is_empty() {
            return Err(Error::InvalidState("no broker is running".into()));
        }
        let queues = queues_per_broker.to_string();
        let ext = [
            ("topic", topic.to_string()),
            ("defaultTopic", "TBW102".to_string()),
            ("readQueueNums", queues.clone()),
            ("writeQueueNums", queues),
            ("perm", "6".to_string()),
            ("topicFilterType", "SINGLE_TAG".to_string()),
            ("topicSysFlag", "0".to_string()),
            ("order", "false".to_string()),
        ];
        let ext = crate::acl::signed_ext(self.options.acl.as_ref(), &ext);
        for addr in running {
            let response = remoting::request(
                &addr,
                remoting::UPDATE_AND_CREATE_TOPIC,
                &ext,
                ADMIN_TIMEOUT,
                self.tls(),
            )?;
            if response.code != 0 {
                return Err(Error::Remoting {
                    addr,
                    reason: format!(
                        "creating topic {topic}: code {} {}",
                        response.code, response.remark
                    ),
                });
            }
        }
        Ok(())
    }

    /// The Java class path of the RocketMQ jars (`<lib>/*`).
    pub fn java_classpath(&self) -> OsString {
        self.runtime.classpath()
    }

    /// A `java` command for `main_class` (e.g. `org.apache.rocketmq.example.benchmark.Producer`)
    /// with the same jars and Java 17 flags as the servers, `user.home` inside the cluster
    /// directory, and the name server preset (`NAMESRV_ADDR`, `-Drocketmq.namesrv.addr`). On a TLS
    /// cluster the Java client's TLS properties are set too (`tls.enable`, the cluster CA, the
    /// kit's client certificate). `jvm_args` go before the main class; add program arguments
    /// with `.arg(..)`.
    pub fn java_command(&self, main_class: &str, jvm_args: &[&str]) -> Command {
        let addr = self.namesrv_addr();
        let namesrv = OsString::from(format!("-Drocketmq.namesrv.addr={addr}"));
        let tls = self.tls().map(ClusterTls::client_jvm_args).unwrap_or_default();
        let args = std::iter::once(namesrv)
            .chain(tls)
            .chain(jvm_args.iter().map(OsString::from));
        let mut cmd = self.runtime.jvm_command(
            &self.dir().join("java"),
            "rmq.client.logback.xml",
            args,
            main_class,
        );
        cmd.env("NAMESRV_ADDR", addr);
        cmd
    }

    /// Names of the brokers the name server currently lists for this cluster (a direct
    /// `GET_BROKER_CLUSTER_INFO` request; milliseconds, no JVM), sorted.
    pub fn registered_brokers(&self) -> Result<Vec<String>> {
        registered_brokers(&self.namesrv_addr(), self.cluster_name(), self.tls())
    }

    /// Sends one request (`GET_BROKER_CONFIG`) to the broker and waits up to `timeout` for
    /// any answer. A paused or dead broker fails with [`Error::Remoting`].
    pub fn ping_broker(&self, name: &str, timeout: Duration) -> Result<()> {
        let addr = self.broker_addr(name)?;
        remoting::request(&addr, remoting::GET_BROKER_CONFIG, &[], timeout, self.tls()).map(drop)
    }

    /// Pid and resident memory of every running server JVM.
    pub fn process_stats(&self) -> Vec<ProcessStats> {
        let procs = self.lock_procs();
        self.nodes
            .iter()
            .zip(procs.iter())
            .filter_map(|(node, jvm)| {
                let pid = jvm.as_ref()?.pid();
                Some(ProcessStats {
                    name: node.name.clone(),
                    pid,
                    rss_kib: process::rss_kib(pid),
                })
            })
            .collect()
    }
}

/// Broker names registered under `cluster` at the name server `namesrv_addr`, sorted.
pub(crate) fn registered_brokers(
    namesrv_addr: &str,
    cluster: &str,
    tls: Option<&ClusterTls>,
) -> Result<Vec<String>> {
    let response = remoting::request(
        namesrv_addr,
        remoting::GET_BROKER_CLUSTER_INFO,
        &[],
        ADMIN_TIMEOUT,
        tls,
    )?;
    if response.code != 0 {
        return Err(Error::Remoting {
            addr: namesrv_addr.to_string(),
            reason: format!("code {} {}", response.code, response.remark),
        });
    }
    Ok(remoting::cluster_brokers(&response.body, cluster))
}

/// A topic or group name unique within this machine and run: `<prefix>_<pid>_<time>_<n>`.
/// Characters RocketMQ rejects in names are replaced by `_`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() % 100_000_000);
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}_{}_{millis}_{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_valid() {
        let a = unique_name("Topic.Test");
        let b = unique_name("Topic.Test");
        assert_ne!(a, b);
        assert!(a.starts_with("Topic_Test_"));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert!(a.len() < 127);
    }
}
