//! CPU time and memory of a child process, read from `/proc/<pid>/{stat,status}` (Linux).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcSample {
    pub(crate) at: Instant,
    /// utime + stime of all its threads, in seconds.
    pub(crate) cpu_secs: f64,
    /// Peak resident set size so far (`VmHWM`), KiB.
    pub(crate) peak_rss_kib: u64,
    /// Current resident set size (`VmRSS`), KiB.
    pub(crate) rss_kib: u64,
}

/// Clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux
/// unless the kernel says otherwise).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// utime + stime in clock ticks, from the text of `/proc/<pid>/stat`.
pub(crate) fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The value in KiB of a `Key:   123 kB` line of `/proc/<pid>/status`.
pub(crate) fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Reads the process now; `None` once it is gone (or on a system without `/proc`).
pub(crate) fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        at: Instant::now(),
        cpu_secs: parse_stat_ticks(&stat)? as f64 / clock_ticks(),
        peak_rss_kib: parse_status_kib(&status, "VmHWM")?,
        rss_kib: parse_status_kib(&status, "VmRSS").unwrap_or(0),
    })
}

/// Samples a process periodically, keeping the latest reading (the last one before it exits).
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    last: Arc<Mutex<Option<ProcSample>>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Sampler {
    pub(crate) fn start(pid: u32, every: Duration) -> Sampler {
        let last = Arc::new(Mutex::new(sample(pid)));
        let task = {
            let last = last.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    match sample(pid) {
                        Some(s) => *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(s),
                        None => break,
                    }
                }
            })
        };
        Sampler {
            last,
            task: Arc::new(task),
        }
    }

    /// Samples now if the process is still there, and returns the latest reading.
    pub(crate) fn latest(&self, pid: u32) -> Option<ProcSample> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = sample(pid) {
            *last = Some(s);
        }
        *last
    }

    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status() {
        let stat = "1234 (java (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 40 0 \
                    5000 1000000 2000 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
        let status = "Name:\tjava\nVmPeak:\t 9000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(123_456));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(100_000));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id());
        if std::path::Path::new("/proc/self/stat").exists() {
            let s = s.unwrap_or_else(|| panic!("no sample of this process"));
            assert!(s.peak_rss_kib > 0 && s.peak_rss_kib >= s.rss_kib);
        }
    }
}
