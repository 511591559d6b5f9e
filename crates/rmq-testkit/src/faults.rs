//! Fault injection: killing, stopping, restarting and pausing servers.
//!
//! Operations on one cluster are serialised (a restart holds the cluster's lock until the JVM
//! is ready). Paused servers still accept TCP connections but never answer.

use std::time::Duration;

use tracing::debug;

use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// How long a SIGTERM'd server may take to shut down before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// The name server's index in `Cluster::nodes`.
const NAMESRV: usize = 0;

impl Cluster {
    /// SIGKILLs the broker (no shutdown hooks; the store is left as after a crash).
    pub fn kill_broker(&self, name: &str) -> Result<()> {
        self.kill_node(self.broker_index(name)?)
    }

    /// SIGTERMs the broker and waits for it to exit (it unregisters from the name server).
    pub fn stop_broker(&self, name: &str) -> Result<()> {
        self.stop_node(self.broker_index(name)?)
    }

    /// Starts a killed or stopped broker again with the same ports and store; waits until it
    /// has registered with the name server.
    pub fn start_broker(&self, name: &str) -> Result<()> {
        self.start_node(self.broker_index(name)?)
    }

    /// Stops the broker if it runs (SIGTERM), then starts it as [`Cluster::start_broker`] does.
    pub fn restart_broker(&self, name: &str) -> Result<()> {
        self.restart_node(self.broker_index(name)?)
    }

    /// Freezes the broker with SIGSTOP.
    pub fn pause_broker(&self, name: &str) -> Result<()> {
        self.signal_node(self.broker_index(name)?, "STOP")
    }

    /// Continues a paused broker with SIGCONT.
    pub fn resume_broker(&self, name: &str) -> Result<()> {
        self.signal_node(self.broker_index(name)?, "CONT")
    }

    /// SIGKILLs the name server.
    pub fn kill_namesrv(&self) -> Result<()> {
        self.kill_node(NAMESRV)
    }

    /// SIGTERMs the name server and waits for it to exit.
    pub fn stop_namesrv(&self) -> Result<()> {
        self.stop_node(NAMESRV)
    }

    /// Starts a killed or stopped name server again on the same port. Brokers re-register at
    /// their next heartbeat (`registerNameServerPeriod`, 30 s by default).
    pub fn start_namesrv(&self) -> Result<()> {
        self.start_node(NAMESRV)
    }

    /// Stops the name server if it runs, then starts it again.
    pub fn restart_namesrv(&self) -> Result<()> {
        self.restart_node(NAMESRV)
    }

    /// Freezes the name server with SIGSTOP.
    pub fn pause_namesrv(&self) -> Result<()> {
        self.signal_node(NAMESRV, "STOP")
    }

    /// Continues a paused name server with SIGCONT.
    pub fn resume_namesrv(&self) -> Result<()> {
        self.signal_node(NAMESRV, "CONT")
    }

    /// Whether the broker's JVM is running (paused counts as running).
    pub fn is_broker_running(&self, name: &str) -> Result<bool> {
        let index = self.broker_index(name)?;
        Ok(self.lock_procs()[index]
            .as_mut()
            .is_some_and(|jvm| jvm.exit_status().is_none()))
    }

    fn broker_index(&self, name: &str) -> Result<usize> {
        self.brokers
            .iter()
            .position(|b| b.name == name)
            .map(|i| i + 1)
            .ok_or_else(|| Error::UnknownBroker(name.to_string()))
    }

    fn not_running(&self, index: usize) -> Error {
        Error::InvalidState(format!("{} is not running", self.nodes[index].name))
    }

    fn kill_node(&self, index: usize) -> Result<()> {
        let mut jvm = self.lock_procs()[index]
            .take()
            .ok_or_else(|| self.not_running(index))?;
        jvm.kill();
        debug!(name = %self.nodes[index].name, "killed");
        Ok(())
    }

    fn stop_node(&self, index: usize) -> Result<()> {
        let mut jvm = self.lock_procs()[index]
            .take()
            .ok_or_else(|| self.not_running(index))?;
        jvm.terminate(STOP_GRACE);
        debug!(name = %self.nodes[index].name, "stopped");
        Ok(())
    }

    fn start_node(&self, index: usize) -> Result<()> {
        let mut procs = self.lock_procs();
        if let Some(jvm) = procs[index].as_mut() {
            if jvm.exit_status().is_none() {
                return Err(Error::InvalidState(format!(
                    "{} is already running",
                    self.nodes[index].name
                )));
            }
        }
        procs[index] = None;
        procs[index] = Some(self.spawn_node(index)?);
        debug!(name = %self.nodes[index].name, "started again");
        Ok(())
    }

    fn restart_node(&self, index: usize) -> Result<()> {
        let mut procs = self.lock_procs();
        if let Some(mut jvm) = procs[index].take() {
            jvm.terminate(STOP_GRACE);
        }
        procs[index] = Some(self.spawn_node(index)?);
        debug!(name = %self.nodes[index].name, "restarted");
        Ok(())
    }

    fn signal_node(&self, index: usize, signal: &str) -> Result<()> {
        let procs = self.lock_procs();
        let jvm = procs[index].as_ref().ok_or_else(|| self.not_running(index))?;
        jvm.signal(signal)
    }
}
