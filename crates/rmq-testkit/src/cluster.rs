//! A running cluster: one name server and N brokers, each a real Apache RocketMQ JVM.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tracing::{debug, warn};

use crate::admin::registered_brokers;
use crate::config::{broker_name, ClusterOptions};
use crate::error::{Error, IoContext, Result};
use crate::node::{Kind, Node, BIND_CONFLICT, READY_MARKER};
use crate::ports;
use crate::process::{Jvm, Watchdog};
use crate::runtime::Runtime;
use crate::tls::ClusterTls;

/// Lines of each log shown in errors and failure reports.
pub(crate) const LOG_LINES: usize = 40;
/// Start attempts when another process grabs a chosen port first.
const PORT_ATTEMPTS: usize = 3;
/// Set to `1` to keep the cluster directory (stores and logs) after the test.
pub const KEEP_DIR_ENV: &str = "RMQ_TESTKIT_KEEP";

/// A broker's name and `host:port` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// `brokerName`, e.g. `broker-a`.
    pub name: String,
    /// Remoting address, e.g. `127.0.0.1:20911`.
    pub addr: String,
}

/// A name server plus brokers on `127.0.0.1`, each JVM in its own directory under one
/// temporary directory.
///
/// Every JVM is killed when the `Cluster` is dropped and, through a watchdog process, when the
/// test process exits without dropping it (as with [`Cluster::shared`]). When dropped during
/// a panic the log tails are printed to stderr.
#[derive(Debug)]
pub struct Cluster {
    pub(crate) runtime: Runtime,
    pub(crate) options: ClusterOptions,
    /// `nodes[0]` is the name server, then the brokers in order.
    pub(crate) nodes: Vec<Node>,
    pub(crate) brokers: Vec<BrokerInfo>,
    /// Running JVMs, aligned with `nodes`.
    pub(crate) procs: Mutex<Vec<Option<Jvm>>>,
    pub(crate) watchdog: Arc<Watchdog>,
    /// Certificates and settings when the cluster enforces TLS.
    pub(crate) tls: Option<ClusterTls>,
    /// Declared last: removed after the JVMs and the watchdog are gone.
    pub(crate) dir: TempDir,
}

static SHARED: OnceLock<std::result::Result<Cluster, String>> = OnceLock::new();

impl Cluster {
    /// Starts a name server, then the brokers (concurrently), and waits until every broker has
    /// registered with the name server.
    pub fn start(options: ClusterOptions) -> Result<Cluster> {
        let started = Instant::now();
        let runtime = Runtime::resolve()?;
        let keep = std::env::var(KEEP_DIR_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        let dir = tempfile::Builder::new()
            .prefix("rmq-testkit-")
            .disable_cleanup(keep)
            .tempdir()
            .ctx(|| "creating the cluster directory")?;
        let watchdog = Arc::new(Watchdog::spawn(dir.path(), !keep)?);
        let tls = options
            .tls
            .as_ref()
            .map(|t| ClusterTls::generate(dir.path(), t))
            .transpose()?;
        let launcher = Launcher {
            runtime: &runtime,
            options: &options,
            dir: dir.path(),
            watchdog: &watchdog,
            tls: tls.as_ref(),
        };

        let (namesrv, namesrv_jvm) = launcher.launch("namesrv", Kind::NameServer, "")?;
        let namesrv_addr = namesrv.addr();
        let mut nodes = vec![namesrv];
        let mut procs = vec![Some(namesrv_jvm)];

        // Spawn every broker before waiting for any: their start-up is mostly single-threaded.
        let mut spawned = Vec::with_capacity(options.brokers);
        for index in 0..options.brokers {
            let name = broker_name(index);
            let port = ports::pick_block(Kind::Broker.port_offsets())?;
            let node = Node::create(
                dir.path(),
                &name,
                Kind::Broker,
                port,
                &options,
                &namesrv_addr,
                tls.as_ref(),
            )?;
            let jvm = node.spawn(&runtime, &options, Some(&watchdog))?;
            spawned.push((node, jvm));
        }
        for (node, mut jvm) in spawned {
            let ready = jvm.wait_ready(READY_MARKER, options.start_timeout, &|| node.logs_tail(LOG_LINES));
            let (node, jvm) = match ready {
                Ok(()) => (node, jvm),
                Err(e) if jvm.output_contains(BIND_CONFLICT) => {
                    warn!(broker = %node.name, error = %e, "port taken; retrying on other ports");
                    drop(jvm);
                    launcher.launch(&node.name, Kind::Broker, &namesrv_addr)?
                }
                Err(e) => return Err(e),
            };
            nodes.push(node);
            procs.push(Some(jvm));
        }

        // "boot success" does not guarantee registration: when the broker's name server scan
        // has not finished yet, its first registration is skipped and retried 10 s later.
        let names: Vec<String> = nodes[1..].iter().map(|n| n.name.clone()).collect();
        let all_logs = || nodes.iter().map(|n| n.logs_tail(LOG_LINES)).collect::<String>();
        await_registration(
            &namesrv_addr,
            &options.cluster_name,
            &names,
            options.start_timeout,
            tls.as_ref(),
            &all_logs,
        )?;

        let brokers = nodes[1..]
            .iter()
            .map(|n| BrokerInfo {
                name: n.name.clone(),
                addr: n.addr(),
            })
            .collect();
        debug!(dir = %dir.path().display(), %namesrv_addr, elapsed = ?started.elapsed(), "cluster ready");
        let cluster = Cluster {
            runtime,
            options,
            nodes,
            brokers,
            procs: Mutex::new(procs),
            watchdog,
            tls,
            dir,
        };
        cluster.create_acl_users()?;
        Ok(cluster)
    }

    /// The cluster shared by all tests of this test binary, started on first use with
    /// [`ClusterOptions::default`]. Never dropped: its JVMs die with the process (watchdog).
    ///
    /// Blocks the calling thread while starting; usable from plain tests and `#[tokio::test]`.
    /// While it exists, a panic anywhere in the process also prints its log tails.
    ///
    /// # Panics
    /// If the cluster cannot be started (every caller panics with the same error).
    pub fn shared() -> &'static Cluster {
        let shared = SHARED.get_or_init(|| {
            let cluster = Cluster::start(ClusterOptions::default()).map_err(|e| e.to_string());
            if cluster.is_ok() {
                install_panic_hook();
            }
            cluster
        });
        match shared {
            Ok(cluster) => cluster,
            Err(e) => panic!("starting the shared RocketMQ test cluster failed: {e}"),
        }
    }

    /// The name server address, `127.0.0.1:<port>`.
    pub fn namesrv_addr(&self) -> String {
        self.nodes[0].addr()
    }

    /// `brokerClusterName` of every broker.
    pub fn cluster_name(&self) -> &str {
        &self.options.cluster_name
    }

    /// The brokers in start order (`broker-a`, `broker-b`, ...).
    pub fn brokers(&self) -> &[BrokerInfo] {
        &self.brokers
    }

    /// The remoting address of the named broker.
    pub fn broker_addr(&self, name: &str) -> Result<String> {
        self.brokers
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.addr.clone())
            .ok_or_else(|| Error::UnknownBroker(name.to_string()))
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// The cluster's TLS material (CA, certificates) when it was started with
    /// [`ClusterOptions::tls`]; clients must trust [`ClusterTls::ca_cert_path`].
    pub fn tls(&self) -> Option<&ClusterTls> {
        self.tls.as_ref()
    }

    /// The Java runtime running the cluster.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The cluster directory: one sub-directory per server (config, store, RocketMQ logs) and
    /// one `<name>.log` per server with its stdout and stderr.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of every server's stdout/stderr and RocketMQ log.
    pub fn logs_tail(&self) -> String {
        self.nodes.iter().map(|n| n.logs_tail(LOG_LINES)).collect()
    }

    /// Header plus [`Cluster::logs_tail`], printed when a test fails.
    fn failure_report(&self) -> String {
        format!(
            "\n==== rmq-testkit: cluster {} (name server {}, dir {}) ====\n{}",
            self.options.cluster_name,
            self.namesrv_addr(),
            self.dir().display(),
            self.logs_tail()
        )
    }

    pub(crate) fn lock_procs(&self) -> MutexGuard<'_, Vec<Option<Jvm>>> {
        self.procs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns `nodes[index]` again (same ports and store) and waits for readiness (brokers:
    /// until the name server lists them).
    pub(crate) fn spawn_node(&self, index: usize) -> Result<Jvm> {
        let node = &self.nodes[index];
        let mut jvm = node.spawn(&self.runtime, &self.options, Some(&self.watchdog))?;
        let logs = || node.logs_tail(LOG_LINES);
        jvm.wait_ready(READY_MARKER, self.options.start_timeout, &logs)?;
        if node.kind == Kind::Broker {
            let names = [node.name.clone()];
            await_registration(
                &self.namesrv_addr(),
                self.cluster_name(),
                &names,
                self.options.start_timeout,
                self.tls(),
                &logs,
            )?;
        }
        Ok(jvm)
    }
}

impl Drop for Cluster {
    #[allow(clippy::print_stderr)] // the point: show the logs of a failing test
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.failure_report());
        }
        let procs = self.procs.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Brokers first, then the name server.
        for slot in procs.iter_mut().rev() {
            if let Some(mut jvm) = slot.take() {
                jvm.kill();
            }
        }
    }
}

/// Waits until the name server lists every broker in `names` under `cluster`.
pub(crate) fn await_registration(
    namesrv_addr: &str,
    cluster: &str,
    names: &[String],
    timeout: Duration,
    tls: Option<&ClusterTls>,
    logs: &dyn Fn() -> String,
) -> Result<()> {
    let started = Instant::now();
    loop {
        // A failed request (e.g. the name server is paused) counts as "not yet".
        let listed = registered_brokers(namesrv_addr, cluster, tls).unwrap_or_default();
        let missing: Vec<&String> = names.iter().filter(|n| !listed.contains(n)).collect();
        if missing.is_empty() {
            debug!(?names, elapsed = ?started.elapsed(), "brokers registered");
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(Error::StartTimeout {
                process: format!("registration of {missing:?} with the name server"),
                timeout,
                logs: logs(),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Prints the shared cluster's logs after the default panic message.
#[allow(clippy::print_stderr)] // the point: show the logs of a failing test
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        if let Some(Ok(cluster)) = SHARED.get() {
            eprintln!("{}", cluster.failure_report());
        }
    }));
}

/// What launching a fresh node needs.
struct Launcher<'a> {
    runtime: &'a Runtime,
    options: &'a ClusterOptions,
    dir: &'a Path,
    watchdog: &'a Arc<Watchdog>,
    tls: Option<&'a ClusterTls>,
}

impl Launcher<'_> {
    /// Picks ports, writes the config, starts the JVM and waits until it is ready; on a port
    /// conflict tries again with other ports.
    fn launch(&self, name: &str, kind: Kind, namesrv_addr: &str) -> Result<(Node, Jvm)> {
        let mut attempt = 1;
        loop {
            let port = ports::pick_block(kind.port_offsets())?;
            let node = Node::create(self.dir, name, kind, port, self.options, namesrv_addr, self.tls)?;
            let mut jvm = node.spawn(self.runtime, self.options, Some(self.watchdog))?;
            match jvm.wait_ready(READY_MARKER, self.options.start_timeout, &|| {
                node.logs_tail(LOG_LINES)
            }) {
                Ok(()) => return Ok((node, jvm)),
                Err(e) if attempt < PORT_ATTEMPTS && jvm.output_contains(BIND_CONFLICT) => {
                    warn!(name, port, error = %e, "port taken; retrying on other ports");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
