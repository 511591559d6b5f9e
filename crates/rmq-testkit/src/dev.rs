//! A detached local cluster for trying things out (`rmq dev up | status | down`).
//!
//! Unlike [`Cluster`](crate::Cluster), whose JVMs die with the process that started them, a
//! dev cluster's JVMs run in their own process groups without a watchdog and outlive the
//! command that started them. Everything lives under one *dev home* ([`dev_home`]):
//! `state.json` (pids, ports, directories) and `data/` (one directory per server plus its
//! `<name>.log`). [`DevCluster::down`] stops the JVMs (SIGTERM, then SIGKILL) and removes both.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tracing::{debug, warn};

use crate::admin::registered_brokers;
use crate::cluster::{await_registration, LOG_LINES};
use crate::config::{broker_name, ClusterOptions};
use crate::error::{Error, IoContext, Result};
use crate::node::{Kind, Node, BIND_CONFLICT, READY_MARKER};
use crate::ports;
use crate::process::{self, Jvm};
use crate::runtime::Runtime;

/// Environment variable naming the dev home (default: see [`dev_home`]).
pub const DEV_HOME_ENV: &str = "RMQ_DEV_HOME";
/// Name server port a dev cluster prefers (Apache RocketMQ's default); another free port is
/// used when it is taken.
pub const DEV_NAMESRV_PORT: u16 = 9876;
/// `brokerClusterName` of a dev cluster (the Java tools' default cluster name).
pub const DEV_CLUSTER_NAME: &str = "DefaultCluster";
const STATE_FILE: &str = "state.json";
const DATA_DIR: &str = "data";
/// How long [`DevCluster::down`] waits after SIGTERM before SIGKILL (a broker's shutdown hooks
/// can take longer on a busy machine; its data is removed anyway).
const STOP_GRACE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
const START_ATTEMPTS: usize = 3;

/// The dev home: `$RMQ_DEV_HOME`, else `$XDG_STATE_HOME/rocketmq-rs/dev`, else
/// `~/.local/state/rocketmq-rs/dev`.
pub fn dev_home() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = env(DEV_HOME_ENV) {
        return home;
    }
    let state = env("XDG_STATE_HOME").unwrap_or_else(|| {
        env("HOME")
            .unwrap_or_else(std::env::temp_dir)
            .join(".local")
            .join("state")
    });
    state.join("rocketmq-rs").join("dev")
}

/// What [`DevCluster::up`] starts.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Name server port; default [`DEV_NAMESRV_PORT`] when free, else any free port.
    pub namesrv_port: Option<u16>,
    /// Number of brokers (`broker-a`, ...). Default 1.
    pub brokers: usize,
    /// How long each server may take to become ready (default as for the test clusters).
    pub start_timeout: Duration,
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions {
            namesrv_port: None,
            brokers: 1,
            start_timeout: ClusterOptions::default().start_timeout,
        }
    }
}

/// One server JVM of a dev cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevProcess {
    /// `namesrv`, `broker-a`, ...
    pub name: String,
    /// Process id (also its process-group id).
    pub pid: u32,
    /// Remoting address, `127.0.0.1:<port>`.
    pub addr: String,
    /// The server's directory (config, store, RocketMQ logs).
    pub dir: PathBuf,
    /// The JVM's stdout and stderr.
    pub log: PathBuf,
}

impl DevProcess {
    /// Whether the process still runs and is this server (its command line names its directory).
    pub fn is_running(&self) -> bool {
        running(self.pid, &self.dir)
    }
}

/// A dev cluster as recorded in the dev home's `state.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCluster {
    /// The dev home.
    pub home: PathBuf,
    /// `brokerClusterName`.
    pub cluster_name: String,
    /// Name server address, `127.0.0.1:<port>`.
    pub namesrv_addr: String,
    /// The name server first, then the brokers.
    pub processes: Vec<DevProcess>,
    /// Start time, ms since the Unix epoch.
    pub started_at_ms: u64,
}

/// What [`DevCluster::status`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevStatus {
    /// Each process with whether it runs.
    pub processes: Vec<(DevProcess, bool)>,
    /// Brokers the name server lists under the cluster (`None` if it did not answer).
    pub registered_brokers: Option<Vec<String>>,
}

impl DevStatus {
    /// Every process runs and every broker is registered with the name server.
    pub fn healthy(&self) -> bool {
        let brokers = self.processes.iter().skip(1).map(|(p, _)| &p.name);
        self.processes.iter().all(|(_, alive)| *alive)
            && self
                .registered_brokers
                .as_ref()
                .is_some_and(|listed| brokers.clone().all(|b| listed.contains(b)))
    }
}

impl DevCluster {
    /// Starts a detached cluster under `home`, or returns the one already running there
    /// (`true` as the second value). A recorded cluster none of whose processes runs any more
    /// is cleaned away first; one that runs only partly is an error (stop it with
    /// [`DevCluster::down`]).
    pub fn up(home: &Path, options: &DevOptions) -> Result<(DevCluster, bool)> {
        if let Some(existing) = DevCluster::load(home)? {
            let alive = existing.processes.iter().filter(|p| p.is_running()).count();
            if alive == existing.processes.len() {
                return Ok((existing, true));
            }
            if alive > 0 {
                return Err(Error::InvalidState(format!(
                    "the dev cluster in {} runs only partly ({alive} of {} processes); stop it first",
                    home.display(),
                    existing.processes.len()
                )));
            }
            debug!(home = %home.display(), "removing a dev cluster that no longer runs");
            remove_data(home)?;
        }
        let runtime = Runtime::resolve()?;
        let data = home.join(DATA_DIR);
        fs::create_dir_all(&data).ctx(|| format!("creating {}", data.display()))?;
        let cluster_options = ClusterOptions {
            brokers: options.brokers,
            cluster_name: DEV_CLUSTER_NAME.to_string(),
            start_timeout: options.start_timeout,
            ..Default::default()
        };
        let mut state = DevCluster {
            home: home.to_path_buf(),
            cluster_name: cluster_options.cluster_name.clone(),
            namesrv_addr: String::new(),
            processes: Vec::new(),
            started_at_ms: now_ms(),
        };
        // Until every server is ready the JVMs are owned here (dropping one kills it); the
        // state file is written after each spawn so that `down` finds them even if this
        // process is interrupted.
        let mut jvms: Vec<Jvm> = Vec::new();
        let start = Start {
            runtime: &runtime,
            options: &cluster_options,
            data: &data,
        };
        let namesrv_port = options
            .namesrv_port
            .or_else(|| ports::is_free(DEV_NAMESRV_PORT).then_some(DEV_NAMESRV_PORT));
        let (node, jvm) = start.launch("namesrv", Kind::NameServer, namesrv_port, "", &mut state)?;
        state.namesrv_addr = node.addr();
        jvms.push(jvm);
        for index in 0..options.brokers {
            let (_, jvm) = start.launch(
                &broker_name(index),
                Kind::Broker,
                None,
                &state.namesrv_addr.clone(),
                &mut state,
            )?;
            jvms.push(jvm);
        }
        let names: Vec<String> = state.processes[1..].iter().map(|p| p.name.clone()).collect();
        let logs = || state.logs_tail();
        await_registration(
            &state.namesrv_addr,
            &state.cluster_name,
            &names,
            options.start_timeout,
            None,
            &logs,
        )?;
        for jvm in jvms {
            jvm.detach();
        }
        debug!(home = %home.display(), namesrv = %state.namesrv_addr, "dev cluster up");
        Ok((state, false))
    }

    /// The cluster recorded under `home`, if any.
    pub fn load(home: &Path) -> Result<Option<DevCluster>> {
        let path = home.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).ctx(|| format!("reading {}", path.display())),
        };
        let bad = |what: &str| Error::InvalidState(format!("{}: {what}", path.display()));
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
        let string = |v: &Value, k: &str| {
            v[k].as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("`{k}` missing")))
        };
        let mut processes = Vec::new();
        for p in v["processes"]
            .as_array()
            .ok_or_else(|| bad("`processes` missing"))?
        {
            processes.push(DevProcess {
                name: string(p, "name")?,
                pid: p["pid"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad("`pid` missing"))?,
                addr: string(p, "addr")?,
                dir: string(p, "dir")?.into(),
                log: string(p, "log")?.into(),
            });
        }
        Ok(Some(DevCluster {
            home: home.to_path_buf(),
            cluster_name: string(&v, "cluster_name")?,
            namesrv_addr: string(&v, "namesrv_addr")?,
            processes,
            started_at_ms: v["started_at_ms"].as_u64().unwrap_or(0),
        }))
    }

    /// Which processes run, and which brokers the name server lists.
    pub fn status(&self) -> DevStatus {
        let processes: Vec<(DevProcess, bool)> = self
            .processes
            .iter()
            .map(|p| (p.clone(), p.is_running()))
            .collect();
        let namesrv_up = processes.first().is_some_and(|(_, alive)| *alive);
        let registered_brokers = namesrv_up
            .then(|| registered_brokers(&self.namesrv_addr, &self.cluster_name, None).ok())
            .flatten();
        DevStatus {
            processes,
            registered_brokers,
        }
    }

    /// Stops the cluster recorded under `home` (brokers first; SIGTERM, then SIGKILL after a
    /// grace period) and removes its data and state. Returns what was recorded, `None` if
    /// nothing was.
    pub fn down(home: &Path) -> Result<Option<DevCluster>> {
        let Some(state) = DevCluster::load(home)? else {
            // Data left without a state file (an interrupted `up` before its first spawn).
            remove_data(home)?;
            return Ok(None);
        };
        let live: Vec<&DevProcess> = state.processes.iter().rev().filter(|p| p.is_running()).collect();
        for p in &live {
            if let Err(e) = process::send_signal(p.pid, "TERM") {
                debug!(name = %p.name, error = %e, "SIGTERM failed");
            }
        }
        let started = Instant::now();
        while started.elapsed() < STOP_GRACE && live.iter().any(|p| p.is_running()) {
            std::thread::sleep(POLL);
        }
        for p in live.iter().filter(|p| p.is_running()) {
            debug!(name = %p.name, pid = p.pid, grace = ?STOP_GRACE, "still running after SIGTERM; killing it");
            let _ = process::send_signal(p.pid, "KILL");
        }
        let started = Instant::now();
        while live.iter().any(|p| p.is_running()) {
            if started.elapsed() > STOP_GRACE {
                return Err(Error::InvalidState(format!(
                    "dev cluster processes still run after SIGKILL: {:?}",
                    live.iter()
                        .filter(|p| p.is_running())
                        .map(|p| p.pid)
                        .collect::<Vec<_>>()
                )));
            }
            std::thread::sleep(POLL);
        }
        remove_data(home)?;
        Ok(Some(state))
    }

    /// The last lines of every server's output and RocketMQ log.
    pub fn logs_tail(&self) -> String {
        self.processes
            .iter()
            .map(|p| {
                let server_log = if p.name == "namesrv" {
                    "namesrv.log"
                } else {
                    "broker.log"
                };
                format!(
                    "==== {}: {} ====\n{}\n==== {}: RocketMQ log ====\n{}\n",
                    p.name,
                    p.log.display(),
                    crate::logs::file_tail(&p.log, LOG_LINES),
                    p.name,
                    crate::logs::file_tail(
                        &p.dir.join("logs").join("rocketmqlogs").join(server_log),
                        LOG_LINES
                    ),
                )
            })
            .collect()
    }

    fn to_json(&self) -> Value {
        json!({
            "cluster_name": self.cluster_name,
            "namesrv_addr": self.namesrv_addr,
            "started_at_ms": self.started_at_ms,
            "processes": self.processes.iter().map(|p| json!({
                "name": p.name,
                "pid": p.pid,
                "addr": p.addr,
                "dir": p.dir,
                "log": p.log,
            })).collect::<Vec<_>>(),
        })
    }

    /// Writes `state.json` atomically.
    fn save(&self) -> Result<()> {
        let path = self.home.join(STATE_FILE);
        let tmp = self.home.join("state.json.tmp");
        let text = serde_json::to_string_pretty(&self.to_json())
            .map_err(|e| Error::InvalidState(format!("encoding the dev state: {e}")))?;
        fs::write(&tmp, text).ctx(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).ctx(|| format!("renaming {}", tmp.display()))
    }
}

/// What starting one server needs.
struct Start<'a> {
    runtime: &'a Runtime,
    options: &'a ClusterOptions,
    data: &'a Path,
}

impl Start<'_> {
    /// Starts one server (retrying on other ports when its port is taken), records it in
    /// `state` and waits until it is ready.
    fn launch(
        &self,
        name: &str,
        kind: Kind,
        port: Option<u16>,
        namesrv_addr: &str,
        state: &mut DevCluster,
    ) -> Result<(Node, Jvm)> {
        let mut attempt = 1;
        loop {
            let port = match (port, attempt) {
                (Some(p), 1) => p,
                _ => ports::pick_block(kind.port_offsets())?,
            };
            let node = Node::create(self.data, name, kind, port, self.options, namesrv_addr, None)?;
            let mut jvm = node.spawn(self.runtime, self.options, None)?;
            state.processes.retain(|p| p.name != name);
            state.processes.push(DevProcess {
                name: name.to_string(),
                pid: jvm.pid(),
                addr: node.addr(),
                dir: node.home.clone(),
                log: node.log.clone(),
            });
            state.save()?;
            let ready = jvm.wait_ready(READY_MARKER, self.options.start_timeout, &|| {
                node.logs_tail(LOG_LINES)
            });
            match ready {
                Ok(()) => return Ok((node, jvm)),
                Err(e) if attempt < START_ATTEMPTS && jvm.output_contains(BIND_CONFLICT) => {
                    warn!(name, error = %e, "port taken; retrying on other ports");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Removes `data/` and `state.json` under `home` (the home itself stays).
fn remove_data(home: &Path) -> Result<()> {
    let data = home.join(DATA_DIR);
    if data.exists() {
        fs::remove_dir_all(&data).ctx(|| format!("removing {}", data.display()))?;
    }
    for file in [STATE_FILE, "state.json.tmp"] {
        let path = home.join(file);
        if path.exists() {
            fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Whether `pid` runs (not a zombie) and, where `/proc` tells, its command line names `dir`
/// (so a reused pid is not taken for the server) or is empty (a process exiting, or one whose
/// arguments are not set up yet).
fn running(pid: u32, dir: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !Path::new("/proc/self").exists() {
        return process::pid_alive(pid);
    }
    let Ok(stat) = fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    // `pid (comm) S ...`: the state follows the last `)`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, Some('Z' | 'X') | None) {
        return false;
    }
    // A process that is exiting (its memory already released, not yet a zombie) reads an empty
    // command line: it still runs. Only a non-empty command line without `dir` is another program.
    let needle = dir.to_string_lossy();
    match fs::read(proc_dir.join("cmdline")) {
        Ok(c) if c.is_empty() => true,
        Ok(c) => String::from_utf8_lossy(&c).contains(needle.as_ref()),
        Err(_) => false,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_the_file() {
        let home = tempfile::tempdir().unwrap();
        let state = DevCluster {
            home: home.path().to_path_buf(),
            cluster_name: DEV_CLUSTER_NAME.into(),
            namesrv_addr: "127.0.0.1:9876".into(),
            processes: vec![DevProcess {
                name: "namesrv".into(),
                pid: 42,
                addr: "127.0.0.1:9876".into(),
                dir: home.path().join("data/namesrv"),
                log: home.path().join("data/namesrv.log"),
            }],
            started_at_ms: 7,
        };
        state.save().unwrap();
        assert_eq!(DevCluster::load(home.path()).unwrap(), Some(state));
        remove_data(home.path()).unwrap();
        assert_eq!(DevCluster::load(home.path()).unwrap(), None);
    }

    #[test]
    fn a_process_not_naming_the_dir_is_not_the_server() {
        let mut child = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        // The parent of a vfork-style spawn resumes before the kernel has set up the new
        // program's arguments, so /proc/<pid>/cmdline can be empty for a moment: wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let cmdline = format!("/proc/{}/cmdline", child.id());
        while fs::read(&cmdline).map_or(true, |c| c.is_empty()) && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(running(child.id(), Path::new("60")));
        assert!(!running(child.id(), Path::new("/no/such/dev/dir")));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!running(child.id(), Path::new("60")));
    }
}
