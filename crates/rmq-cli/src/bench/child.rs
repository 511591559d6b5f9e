//! Runs one benchmark client as a child process and measures it from the outside: its CPU time
//! and peak memory from `/proc`, and the messages the brokers stored meanwhile (queue offsets).

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rmq_client::admin::Admin;
use rmq_protocol::message::MessageQueue;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::oneshot;

use super::proc::{ProcSample, Sampler};

/// Sums the max offsets of a topic's queues: how many messages the brokers have stored.
#[derive(Debug)]
pub(crate) struct OffsetCounter {
    pub(crate) admin: Admin,
    pub(crate) queues: Vec<MessageQueue>,
}

impl OffsetCounter {
    /// The stored total, and the instant in the middle of the queries.
    pub(crate) async fn total(&self) -> anyhow::Result<(i64, Instant)> {
        let before = Instant::now();
        let mut sum = 0;
        for mq in &self.queues {
            sum += self
                .admin
                .max_offset(mq)
                .await
                .with_context(|| format!("reading the max offset of {mq}"))?;
        }
        let after = Instant::now();
        Ok((sum, before + (after - before) / 2))
    }
}

impl OffsetCounter {
    /// The sum of the queues' min offsets: how many of a new topic's messages the brokers no longer
    /// hold (they delete their oldest commit-log files when the disk fills up).
    pub(crate) async fn dropped(&self) -> anyhow::Result<i64> {
        let mut sum = 0;
        for mq in &self.queues {
            sum += self
                .admin
                .min_offset(mq)
                .await
                .with_context(|| format!("reading the min offset of {mq}"))?;
        }
        Ok(sum)
    }
}

/// How the child ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It stops by itself after warm-up + duration (`rmq bench produce -d`).
    ExitsItself,
    /// It runs forever; kill it at the end of the window (the Java Producer).
    Kill,
}

/// A line of output and when it arrived.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) at: Instant,
    pub(crate) stderr: bool,
    pub(crate) text: String,
}

/// What was seen of one child run. The window is `[t0, t1]`: from the start marker plus the
/// warm-up to that plus the duration.
#[derive(Debug)]
pub(crate) struct ChildRun {
    pub(crate) pid: u32,
    pub(crate) t0: Instant,
    pub(crate) t1: Instant,
    pub(crate) lines: Vec<Line>,
    pub(crate) at_t0: Option<ProcSample>,
    pub(crate) at_t1: Option<ProcSample>,
    /// The last reading before the process exited (or was killed).
    pub(crate) last: Option<ProcSample>,
    /// Messages the brokers stored between the two offset readings, and the seconds between them.
    pub(crate) broker_msgs: i64,
    pub(crate) broker_secs: f64,
    pub(crate) status: Option<ExitStatus>,
}

impl ChildRun {
    pub(crate) fn cpu_window_secs(&self) -> Option<f64> {
        Some(self.at_t1?.cpu_secs - self.at_t0?.cpu_secs)
    }

    pub(crate) fn stdout(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| !l.stderr)
    }

    /// Every output line, prefixed with its arrival time in seconds relative to `t0` (the end of
    /// the warm-up) and `E` for stderr.
    pub(crate) fn transcript(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            let rel = if l.at >= self.t0 {
                (l.at - self.t0).as_secs_f64()
            } else {
                -(self.t0 - l.at).as_secs_f64()
            };
            let stream = if l.stderr { "E" } else { " " };
            out.push_str(&format!("{rel:+9.3} {stream} {}\n", l.text));
        }
        out
    }

    /// The last `n` lines of output, for error messages.
    pub(crate) fn tail(&self, n: usize) -> String {
        tail(&self.lines, n)
    }
}

fn tail(lines: &[Line], n: usize) -> String {
    let skip = lines.len().saturating_sub(n);
    lines[skip..]
        .iter()
        .map(|l| format!("  {}", l.text))
        .collect::<Vec<_>>()
        .join("\n")
}

type Lines = Arc<Mutex<Vec<Line>>>;

fn spawn_reader<R>(
    stream: R,
    stderr: bool,
    lines: Lines,
    marker: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    found: Arc<Mutex<Option<oneshot::Sender<Instant>>>>,
) -> tokio::task::JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(text)) = reader.next_line().await {
            let at = Instant::now();
            if marker(&text) {
                if let Some(tx) = found.lock().unwrap_or_else(PoisonError::into_inner).take() {
                    let _ = tx.send(at);
                }
            }
            lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Line { at, stderr, text });
        }
    })
}

fn snapshot(lines: &Lines) -> Vec<Line> {
    lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Starts `cmd`, waits for an output line matching `marker` (the client started sending), then
/// measures the window `[marker + warmup, marker + warmup + duration]`.
pub(crate) async fn run(
    name: &str,
    cmd: std::process::Command,
    marker: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    warmup: Duration,
    duration: Duration,
    ending: Ending,
    counter: &OffsetCounter,
) -> anyhow::Result<ChildRun> {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let pid = child.id().context("the child has no pid")?;
    let sampler = Sampler::start(pid, Duration::from_millis(100));
    let lines: Lines = Arc::default();
    let (tx, rx) = oneshot::channel();
    let found = Arc::new(Mutex::new(Some(tx)));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(spawn_reader(
            out,
            false,
            lines.clone(),
            marker.clone(),
            found.clone(),
        ));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(spawn_reader(err, true, lines.clone(), marker, found));
    }

    let started = tokio::select! {
        at = rx => at.ok(),
        status = child.wait() => {
            let status = status?;
            bail!("{name} exited ({status}) before it started sending:\n{}", tail(&snapshot(&lines), 30));
        }
        _ = tokio::time::sleep(Duration::from_secs(120)) => None,
    };
    let Some(started) = started else {
        bail!(
            "{name} did not start sending within 120 s:\n{}",
            tail(&snapshot(&lines), 30)
        );
    };
    let t0 = started + warmup;
    let t1 = t0 + duration;
    let mut status = None;

    tokio::select! {
        _ = tokio::time::sleep_until(t0.into()) => {}
        s = child.wait() => {
            let s = s?;
            bail!("{name} exited ({s}) during the warm-up:\n{}", tail(&snapshot(&lines), 30));
        }
    }
    let at_t0 = sampler.latest(pid);
    let (offset0, when0) = counter.total().await?;

    tokio::select! {
        _ = tokio::time::sleep_until(t1.into()) => {}
        s = child.wait() => {
            let s = s?;
            if ending == Ending::Kill || Instant::now() + Duration::from_millis(500) < t1 {
                bail!("{name} exited early ({s}):\n{}", tail(&snapshot(&lines), 30));
            }
            status = Some(s);
        }
    }
    let at_t1 = sampler.latest(pid);
    let (offset1, when1) = counter.total().await?;

    if status.is_none() {
        if ending == Ending::Kill {
            let _ = sampler.latest(pid);
            child.start_kill().with_context(|| format!("killing {name}"))?;
            status = Some(child.wait().await?);
        } else {
            match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
                Ok(s) => status = Some(s?),
                Err(_) => {
                    let _ = child.start_kill();
                    bail!("{name} did not exit within 60 s after its run");
                }
            }
        }
    }
    let last = sampler.latest(pid);
    sampler.stop();
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    Ok(ChildRun {
        pid,
        t0,
        t1,
        lines: snapshot(&lines),
        at_t0,
        at_t1,
        last,
        broker_msgs: offset1 - offset0,
        broker_secs: (when1 - when0).as_secs_f64(),
        status,
    })
}
