//! Spawning JVMs, signalling them, and the watchdog that kills them when the test process dies.
//!
//! No `unsafe`: each JVM gets its own process group (so a terminal Ctrl-C reaches only the
//! test process), signals go through the `kill` utility, and orphan protection is a small
//! `sh` watchdog whose stdin is a pipe from the test process. When the test process exits for
//! any reason (normal exit without dropping a `static`, panic, SIGKILL) the kernel closes the
//! pipe, `read` returns, and the watchdog kills every JVM listed in the cluster's pid file.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use crate::error::{Error, IoContext, Result};
use crate::logs;

/// How often readiness and exit are polled.
const POLL: Duration = Duration::from_millis(100);

/// `true` if a process with this pid exists (zombies included).
pub(crate) fn pid_alive(pid: u32) -> bool {
    if pid == 0 || i32::try_from(pid).is_err() {
        return false;
    }
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends `signal` (a name such as `STOP`) to `pid` with the `kill` utility.
pub(crate) fn send_signal(pid: u32, signal: &str) -> Result<()> {
    let output = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stdin(Stdio::null())
        .output()
        .ctx(|| format!("running kill -s {signal} {pid}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: format!("kill -s {signal} {pid}"),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// Resident set size of `pid` in KiB, from `ps`.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let out = Command::new("ps")
        .args(["-o", "rss=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A running JVM whose stdout and stderr are appended to one log file. Killed on drop.
#[derive(Debug)]
pub(crate) struct Jvm {
    name: String,
    child: Child,
    log: PathBuf,
    /// Log length before this incarnation started: readiness is looked for after it.
    log_start: u64,
    /// Knows our pid until we have reaped the process; `None` for a detached JVM.
    watchdog: Option<Arc<Watchdog>>,
    /// Set by [`Jvm::detach`]: dropping no longer kills the process.
    detached: bool,
}

impl Jvm {
    /// Spawns `cmd` in its own process group with output appended to `log`. With a watchdog
    /// the JVM dies with this process; without one it outlives it once [`Jvm::detach`]ed.
    pub(crate) fn spawn(
        name: &str,
        mut cmd: Command,
        log: &Path,
        watchdog: Option<&Arc<Watchdog>>,
    ) -> Result<Jvm> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .ctx(|| format!("opening {}", log.display()))?;
        writeln!(file, "---- rmq-testkit: starting {name} ----")
            .ctx(|| format!("writing {}", log.display()))?;
        let log_start = file
            .metadata()
            .ctx(|| format!("reading {}", log.display()))?
            .len();
        let stderr = file
            .try_clone()
            .ctx(|| format!("duplicating {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .ctx(|| format!("spawning {name} ({})", cmd.get_program().to_string_lossy()))?;
        debug!(name, pid = child.id(), "spawned JVM");
        let jvm = Jvm {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            log_start,
            watchdog: watchdog.cloned(),
            detached: false,
        };
        if let Some(dog) = &jvm.watchdog {
            dog.add(jvm.pid())?;
        }
        Ok(jvm)
    }

    /// The process id (also its process-group id).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `marker` appears in this incarnation's output.
    ///
    /// Fails with [`Error::Exited`] if the JVM exits first and [`Error::StartTimeout`] after
    /// `timeout`; both carry `logs()`.
    pub(crate) fn wait_ready(
        &mut self,
        marker: &str,
        timeout: Duration,
        logs: &dyn Fn() -> String,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            if logs::contains_after(&self.log, self.log_start, marker)
                .ctx(|| format!("reading {}", self.log.display()))?
            {
                debug!(name = %self.name, elapsed = ?started.elapsed(), "JVM ready");
                return Ok(());
            }
            if let Some(status) = self.exit_status() {
                return Err(Error::Exited {
                    process: self.name.clone(),
                    status: status.to_string(),
                    logs: logs(),
                });
            }
            if started.elapsed() > timeout {
                return Err(Error::StartTimeout {
                    process: self.name.clone(),
                    timeout,
                    logs: logs(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether this incarnation's output contains `needle`.
    pub(crate) fn output_contains(&self, needle: &str) -> bool {
        logs::contains_after(&self.log, self.log_start, needle).unwrap_or(false)
    }

    /// The exit status if the JVM has exited (reaping it).
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            self.forget_pid();
        }
        status
    }

    /// Sends `signal` by name (`STOP`, `CONT`, `TERM`, ...).
    pub(crate) fn signal(&self, signal: &str) -> Result<()> {
        send_signal(self.pid(), signal)
    }

    /// SIGKILL, then reap.
    pub(crate) fn kill(&mut self) {
        if self.exit_status().is_some() {
            return;
        }
        if let Err(e) = self.child.kill() {
            warn!(name = %self.name, error = %e, "SIGKILL failed");
        }
        let _ = self.child.wait();
        self.forget_pid();
    }

    fn forget_pid(&self) {
        if let Some(dog) = &self.watchdog {
            dog.remove(self.pid());
        }
    }

    /// Lets the JVM outlive this handle (and this process): dropping no longer kills it.
    /// Returns its pid. Only meaningful for a JVM spawned without a watchdog.
    pub(crate) fn detach(mut self) -> u32 {
        self.detached = true;
        self.pid()
    }

    /// SIGTERM (plus SIGCONT in case it is paused); SIGKILL if it has not exited after `grace`.
    pub(crate) fn terminate(&mut self, grace: Duration) {
        if self.exit_status().is_some() {
            return;
        }
        let _ = self.signal("TERM");
        let _ = self.signal("CONT");
        let started = Instant::now();
        while started.elapsed() < grace {
            if self.exit_status().is_some() {
                return;
            }
            std::thread::sleep(POLL);
        }
        warn!(name = %self.name, ?grace, "JVM ignored SIGTERM; killing it");
        self.kill();
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        self.kill();
    }
}

/// Kills the JVMs listed in a pid file once the test process is gone.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    pid_file: PathBuf,
    pids: Mutex<BTreeSet<u32>>,
}

/// `$1` pid file, `$2` directory, `$3` = 1 to delete the directory afterwards.
const WATCHDOG_SCRIPT: &str = r#"trap '' HUP INT
read -r _unused
pids=$(cat "$1" 2>/dev/null)
for p in $pids; do kill -9 "$p" 2>/dev/null; done
if [ "$3" = 1 ]; then
  for p in $pids; do n=0; while kill -0 "$p" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done; done
  rm -rf "$2"
fi"#;

impl Watchdog {
    /// Starts the watchdog for the cluster directory `dir`.
    pub(crate) fn spawn(dir: &Path, remove_dir: bool) -> Result<Watchdog> {
        let pid_file = dir.join("jvm.pids");
        File::create(&pid_file).ctx(|| format!("creating {}", pid_file.display()))?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("rmq-testkit-watchdog")
            .arg(&pid_file)
            .arg(dir)
            .arg(if remove_dir { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ctx(|| "spawning the JVM watchdog (sh)")?;
        Ok(Watchdog {
            child,
            pid_file,
            pids: Mutex::new(BTreeSet::new()),
        })
    }

    /// Adds a pid to kill when the test process dies.
    pub(crate) fn add(&self, pid: u32) -> Result<()> {
        let mut pids = self.pids.lock().unwrap_or_else(PoisonError::into_inner);
        pids.insert(pid);
        self.write(&pids)
    }

    /// Forgets a pid (after it was reaped, so it may be reused).
    pub(crate) fn remove(&self, pid: u32) {
        let mut pids = self.pids.lock().unwrap_or_else(PoisonError::into_inner);
        if pids.remove(&pid) {
            if let Err(e) = self.write(&pids) {
                warn!(error = %e, "cannot update the watchdog pid file");
            }
        }
    }

    /// Replaces the pid file atomically.
    fn write(&self, pids: &BTreeSet<u32>) -> Result<()> {
        let tmp = self.pid_file.with_extension("tmp");
        let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
        fs::write(&tmp, text).ctx(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &self.pid_file).ctx(|| format!("renaming {}", tmp.display()))
    }
}

impl Drop for Watchdog {
    /// The owner cleans up itself, so the watchdog is simply killed.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_kills_listed_processes_when_its_pipe_closes() {
        let dir = tempfile::tempdir().unwrap();
        let mut victim = Command::new("sleep").arg("60").process_group(0).spawn().unwrap();
        let mut dog = Watchdog::spawn(dir.path(), false).unwrap();
        dog.add(victim.id()).unwrap();
        // Closing our end of the pipe is what process exit does.
        drop(dog.child.stdin.take());
        let status = victim.wait().unwrap();
        assert!(!status.success());
        assert!(dog.child.wait().unwrap().success());
    }

    #[test]
    fn signals_and_liveness() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        assert!(pid_alive(child.id()));
        assert!(rss_kib(child.id()).is_some());
        send_signal(child.id(), "TERM").unwrap();
        child.wait().unwrap();
        assert!(!pid_alive(child.id()));
        assert!(send_signal(child.id(), "TERM").is_err());
    }
}
