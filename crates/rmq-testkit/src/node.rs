//! One server of a cluster: its ports, directories, config file and launch command.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::config::{self, ClusterOptions};
use crate::error::{IoContext, Result};
use crate::logs;
use crate::process::{Jvm, Watchdog};
use crate::runtime::Runtime;
use crate::tls::ClusterTls;

/// Printed on stdout by both servers once they serve requests (brokers: after registering).
pub(crate) const READY_MARKER: &str = "boot success";

/// Printed when a port is taken; the start is retried on other ports.
pub(crate) const BIND_CONFLICT: &str = "Address already in use";

/// Which server a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    NameServer,
    Broker,
}

impl Kind {
    /// Ports a node uses, relative to its listen port (brokers: fast port and HA port).
    pub(crate) fn port_offsets(self) -> &'static [i32] {
        match self {
            Kind::NameServer => &[0],
            Kind::Broker => &[-2, 0, 1],
        }
    }
}

/// Static description of a node; the running JVM lives in the cluster state.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) port: u16,
    /// `user.home` of the JVM; holds the store, `logs/rocketmqlogs/` and the config.
    pub(crate) home: PathBuf,
    /// The JVM's stdout and stderr, appended across restarts.
    pub(crate) log: PathBuf,
    /// TLS system properties (empty without TLS).
    pub(crate) tls_args: Vec<OsString>,
}

impl Node {
    /// Creates the node's directory under `cluster_dir` and writes its config file.
    pub(crate) fn create(
        cluster_dir: &Path,
        name: &str,
        kind: Kind,
        port: u16,
        options: &ClusterOptions,
        namesrv_addr: &str,
        tls: Option<&ClusterTls>,
    ) -> Result<Node> {
        let home = cluster_dir.join(name);
        fs::create_dir_all(&home).ctx(|| format!("creating {}", home.display()))?;
        let node = Node {
            name: name.to_string(),
            kind,
            port,
            log: cluster_dir.join(format!("{name}.log")),
            home,
            tls_args: tls.map(ClusterTls::server_jvm_args).unwrap_or_default(),
        };
        let conf = node.conf_path();
        fs::write(&conf, node.config_text(options, namesrv_addr))
            .ctx(|| format!("writing {}", conf.display()))?;
        Ok(node)
    }

    /// `127.0.0.1:<port>`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn conf_path(&self) -> PathBuf {
        self.home.join(match self.kind {
            Kind::NameServer => "namesrv.conf",
            Kind::Broker => "broker.conf",
        })
    }

    fn config_text(&self, options: &ClusterOptions, namesrv_addr: &str) -> String {
        let mut text = String::new();
        let mut put = |k: &str, v: &str| text.push_str(&config::property_line(k, v));
        match self.kind {
            Kind::NameServer => {
                put("listenPort", &self.port.to_string());
                put("bindAddress", "127.0.0.1");
                put("kvConfigPath", &self.home.join("kvConfig.json").to_string_lossy());
                for (k, v) in &options.namesrv_properties {
                    put(k, v);
                }
            }
            Kind::Broker => {
                let store = self.home.join("store");
                put("brokerClusterName", &options.cluster_name);
                put("brokerName", &self.name);
                put("namesrvAddr", namesrv_addr);
                put("listenPort", &self.port.to_string());
                put("storePathRootDir", &store.to_string_lossy());
                put("storePathCommitLog", &store.join("commitlog").to_string_lossy());
                put("flushDiskType", options.flush_disk_type.as_str());
                for (k, v) in config::BROKER_DEFAULTS {
                    put(k, v);
                }
                for (k, v) in options.acl.iter().flat_map(|a| a.broker_properties()) {
                    put(&k, &v);
                }
                for (k, v) in &options.broker_properties {
                    put(k, v);
                }
            }
        }
        text
    }

    /// The launch command: kit flags, TLS properties, then the user's flags, then `-c <conf>`.
    fn command(&self, runtime: &Runtime, options: &ClusterOptions) -> Command {
        let (main, logback, defaults, extra) = match self.kind {
            Kind::NameServer => (
                "org.apache.rocketmq.namesrv.NamesrvStartup",
                "rmq.namesrv.logback.xml",
                config::NAMESRV_JVM_ARGS,
                &options.namesrv_jvm_args,
            ),
            Kind::Broker => (
                "org.apache.rocketmq.broker.BrokerStartup",
                "rmq.broker.logback.xml",
                config::BROKER_JVM_ARGS,
                &options.broker_jvm_args,
            ),
        };
        let jvm_args = defaults
            .iter()
            .map(OsString::from)
            .chain(self.tls_args.iter().cloned())
            .chain(extra.iter().map(OsString::from));
        let mut cmd = runtime.jvm_command(&self.home, logback, jvm_args, main);
        cmd.arg("-c").arg(self.conf_path());
        // Anything a server writes relative to its working directory stays in `home` too.
        cmd.current_dir(&self.home);
        cmd
    }

    /// Spawns the JVM (not waiting for readiness); without a watchdog it may outlive this
    /// process (see [`Jvm::detach`]).
    pub(crate) fn spawn(
        &self,
        runtime: &Runtime,
        options: &ClusterOptions,
        dog: Option<&Arc<Watchdog>>,
    ) -> Result<Jvm> {
        Jvm::spawn(&self.name, self.command(runtime, options), &self.log, dog)
    }

    /// The RocketMQ server log inside `user.home`.
    pub(crate) fn server_log(&self) -> PathBuf {
        let file = match self.kind {
            Kind::NameServer => "namesrv.log",
            Kind::Broker => "broker.log",
        };
        self.home.join("logs").join("rocketmqlogs").join(file)
    }

    /// The last `lines` of the JVM output and of the server log.
    pub(crate) fn logs_tail(&self, lines: usize) -> String {
        format!(
            "==== {name}: stdout/stderr ({out}) ====\n{}\n==== {name}: {log} ====\n{}\n",
            logs::file_tail(&self.log, lines),
            logs::file_tail(&self.server_log(), lines),
            name = self.name,
            out = self.log.display(),
            log = self.server_log().display(),
        )
    }
}
