//! Runs one draining consumer as a child process and measures it from the outside: its CPU time
//! between the line it prints just before `start()` and the line its last listener call prints,
//! and its peak memory over its whole life.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::child::Line;
use super::proc::{ProcSample, Sampler};

/// The two lines a draining child prints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Markers {
    /// Printed just before the consumer's `start()`.
    pub(crate) start: &'static str,
    /// Printed when the last expected message reached the listener.
    pub(crate) drained: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Start,
    Drained,
}

/// What was seen of one draining child.
#[derive(Debug)]
pub(crate) struct DrainRun {
    pub(crate) pid: u32,
    pub(crate) lines: Vec<Line>,
    pub(crate) started: Option<Instant>,
    pub(crate) drained: Option<Instant>,
    pub(crate) at_start: Option<ProcSample>,
    pub(crate) at_drained: Option<ProcSample>,
    /// The last reading before the process exited (or was killed).
    pub(crate) last: Option<ProcSample>,
    pub(crate) status: Option<ExitStatus>,
}

impl DrainRun {
    /// utime + stime from the start line to the drained line.
    pub(crate) fn cpu_drain_secs(&self) -> Option<f64> {
        Some(self.at_drained?.cpu_secs - self.at_start?.cpu_secs)
    }

    pub(crate) fn stdout(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| !l.stderr)
    }

    /// Every output line, prefixed with its arrival time in seconds after the start line and `E`
    /// for stderr.
    pub(crate) fn transcript(&self) -> String {
        let origin = self.started.or(self.lines.first().map(|l| l.at));
        let mut out = String::new();
        for l in &self.lines {
            let rel = match origin {
                Some(o) if l.at >= o => (l.at - o).as_secs_f64(),
                Some(o) => -(o - l.at).as_secs_f64(),
                None => 0.0,
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

fn snapshot(lines: &Lines) -> Vec<Line> {
    lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn spawn_reader<R>(
    stream: R,
    stderr: bool,
    lines: Lines,
    markers: Markers,
    marks: mpsc::UnboundedSender<(Mark, Instant)>,
) -> tokio::task::JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(text)) = reader.next_line().await {
            let at = Instant::now();
            if text.starts_with(markers.start) {
                let _ = marks.send((Mark::Start, at));
            } else if text.starts_with(markers.drained) {
                let _ = marks.send((Mark::Drained, at));
            }
            lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Line { at, stderr, text });
        }
    })
}

/// Starts `cmd` and samples it when it prints the start and the drained markers; then waits for
/// it to exit by itself (killing it after `exit_grace`). Fails if no start line comes within
/// 120 s or no drained line within `timeout` after it (the child's own timeout should be
/// shorter, so that it still prints its summary).
pub(crate) async fn run(
    name: &str,
    cmd: std::process::Command,
    markers: Markers,
    timeout: Duration,
    exit_grace: Duration,
) -> anyhow::Result<DrainRun> {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let pid = child.id().context("the child has no pid")?;
    let sampler = Sampler::start(pid, Duration::from_millis(100));
    let lines: Lines = Arc::default();
    let (tx, mut marks) = mpsc::unbounded_channel();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(spawn_reader(out, false, lines.clone(), markers, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(spawn_reader(err, true, lines.clone(), markers, tx));
    }

    let mut run = DrainRun {
        pid,
        lines: Vec::new(),
        started: None,
        drained: None,
        at_start: None,
        at_drained: None,
        last: None,
        status: None,
    };
    let spawned = Instant::now();
    while run.drained.is_none() && run.status.is_none() {
        let deadline = match run.started {
            None => spawned + Duration::from_secs(120),
            Some(s) => s + timeout,
        };
        tokio::select! {
            Some((mark, at)) = marks.recv() => match mark {
                Mark::Start if run.started.is_none() => {
                    run.at_start = sampler.latest(pid);
                    run.started = Some(at);
                }
                Mark::Drained if run.drained.is_none() => {
                    run.at_drained = sampler.latest(pid);
                    run.drained = Some(at);
                }
                _ => {}
            },
            status = child.wait() => run.status = Some(status?),
            _ = tokio::time::sleep_until(deadline.into()) => {
                let _ = child.start_kill();
                let what = if run.started.is_none() { "start" } else { "finish draining" };
                bail!("{name} did not {what} in time:\n{}", tail(&snapshot(&lines), 30));
            }
        }
    }
    if run.status.is_none() {
        match tokio::time::timeout(exit_grace, child.wait()).await {
            Ok(s) => run.status = Some(s?),
            Err(_) => {
                run.last = sampler.latest(pid);
                child.start_kill().with_context(|| format!("killing {name}"))?;
                run.status = Some(child.wait().await?);
            }
        }
    }
    if run.last.is_none() {
        run.last = sampler.latest(pid);
    }
    sampler.stop();
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    run.lines = snapshot(&lines);
    if run.started.is_none() {
        bail!(
            "{name} exited ({:?}) before it started:\n{}",
            run.status,
            run.tail(30)
        );
    }
    Ok(run)
}
