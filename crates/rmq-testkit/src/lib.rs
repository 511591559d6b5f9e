//! Starts real Apache RocketMQ clusters (name server + brokers, the Java servers from Maven
//! Central) for integration tests.
//!
//! ```no_run
//! use rmq_testkit::{unique_name, Cluster};
//!
//! // One cluster per test binary, started on first use and shared by its tests.
//! let cluster = Cluster::shared();
//! let topic = unique_name("orders");
//! cluster.create_topic(&topic, 8).unwrap();
//! let namesrv = cluster.namesrv_addr(); // point the client under test here
//! # let _ = namesrv;
//! ```
//!
//! # Requirements
//! `java` (17+, found through `JAVA_HOME` or `PATH`) and, on the first run only, `mvn`. The
//! jars (RocketMQ [`ROCKETMQ_VERSION`], from `runtime/pom.xml`) are resolved into
//! `$XDG_CACHE_HOME/rocketmq-rs/` (default `~/.cache/rocketmq-rs/`) or into
//! [`RUNTIME_DIR_ENV`]; later runs use that directory without starting Maven.
//!
//! # The servers
//! All listen on `127.0.0.1` on free ports, with small heaps, small mapped files,
//! `autoCreateTopicEnable` and `enablePropertyFilter` (SQL92 filters) on. Each JVM's stdout
//! and stderr go to a file in the cluster directory ([`Cluster::logs_tail`]), nothing is
//! printed on success, and log tails are printed when a test fails. No JVM outlives the test
//! process: dropping a [`Cluster`] kills them, and a watchdog kills them when the process exits
//! without dropping it. Set [`KEEP_DIR_ENV`]`=1` to keep the stores and logs.
//!
//! [`DevCluster`] starts a cluster whose JVMs outlive the starting process (for `rmq dev up`),
//! recorded under a dev home and stopped with [`DevCluster::down`].
//!
//! With [`ClusterOptions::tls`] the servers enforce TLS, with certificates generated at start
//! ([`ClusterTls`]).
//!
//! With [`ClusterOptions::acl`] the brokers enforce ACL 2.0 (authentication and authorization),
//! with a super user and test users ([`AclOptions`]).
//!
//! [`FaultProxy`] is a TCP proxy with run-time switchable faults (drop, reset, black-hole,
//! delay, corrupt, throttle, and per-request-code answers for RocketMQ frames);
//! [`ProxiedCluster`] puts one in front of the name server and of every broker so that a client
//! reaches the cluster only through them.
//!
//! Diagnostics go through `tracing`.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod acl;
mod admin;
mod cluster;
mod config;
mod dev;
mod error;
mod faults;
mod lock;
mod logs;
mod node;
mod ports;
mod process;
mod proxied;
mod proxy;
mod remoting;
mod runtime;
mod tls;

pub use acl::{AclGrant, AclOptions, AclUser};
pub use admin::{unique_name, ProcessStats};
pub use cluster::{BrokerInfo, Cluster, KEEP_DIR_ENV};
pub use config::{ClusterOptions, FlushDiskType, BROKER_JVM_ARGS, NAMESRV_JVM_ARGS, START_TIMEOUT_ENV};
pub use dev::{
    dev_home, DevCluster, DevOptions, DevProcess, DevStatus, DEV_CLUSTER_NAME, DEV_HOME_ENV, DEV_NAMESRV_PORT,
};
pub use error::{Error, Result};
pub use proxied::ProxiedCluster;
pub use proxy::{Fault, FaultProxy, ProxyStats};
pub use runtime::{Runtime, RuntimeSource, ROCKETMQ_VERSION, RUNTIME_DIR_ENV};
pub use tls::{CertificateAuthority, ClientAuth, ClusterTls, Identity, IdentityFiles, TlsOptions};
