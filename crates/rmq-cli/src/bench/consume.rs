//! `rmq bench consume`: drain a topic's backlog with a new `ConcurrentConsumer` group whose listener
//! does nothing but count, and report the time to the first message, the drain rate (msgs/s and
//! MB/s), the message age at consumption (HDR percentiles) and errors.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use anyhow::{bail, Context};
use rmq_client::admin::Admin;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_client::ClientConfig;
use rmq_protocol::message::MessageExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::parse_duration;
use super::stats::{Latencies, LatencySummary};

/// Printed on stderr just before `start()`; `compare-consume` starts its CPU window on it.
pub(crate) const START_MARKER: &str = "rmq bench consume: starting";
/// Printed on stderr by the listener call that completes the count; it ends the CPU window.
pub(crate) const DRAINED_MARKER: &str = "rmq bench consume: drained";

/// Options of `rmq bench consume`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Name server address(es), `host:port[;host:port]` (default: the `rmq dev` cluster's if one
    /// runs, else 127.0.0.1:9876).
    #[arg(long, visible_alias = "ns", env = "NAMESRV_ADDR", default_value_t = crate::common::default_namesrv(), hide_default_value = true)]
    namesrv: String,
    /// Topic to drain.
    #[arg(short = 't', long)]
    topic: String,
    /// Consumer group; use a new one to read the topic from its first offset
    /// (default: `rmq_bench_consumer_<pid>`).
    #[arg(short = 'g', long)]
    group: Option<String>,
    /// Stop after this many messages (default: the topic's backlog when the consumer starts, the
    /// sum over its queues of max − min offset).
    #[arg(short = 'n', long)]
    messages: Option<u64>,
    /// Listener calls running at once (`consume_thread_min` and `consume_thread_max`; default: the
    /// client's defaults, 20 and 64).
    #[arg(short = 'w', long)]
    threads: Option<usize>,
    /// Which listener: `sync` (a closure run on the blocking pool, `.listener(..)`) or `async` (a
    /// future run on the runtime, `.async_listener(..)`). Both do nothing but count.
    #[arg(long, value_enum, default_value_t = ListenerKind::Sync)]
    listener: ListenerKind,
    /// Give up (and report what was consumed) after this long.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    timeout: Duration,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// `--listener`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ListenerKind {
    Sync,
    Async,
}

/// What one drain measured. The Java consumer of `compare-consume` prints the same fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ConsumeSummary {
    pub(crate) group: String,
    /// Messages the drain waited for.
    pub(crate) target: u64,
    /// Messages the listener saw (more than `target` only if some were delivered twice).
    pub(crate) msgs: u64,
    /// Whether `target` was reached before the timeout.
    pub(crate) drained: bool,
    /// How long `start()` took to return.
    pub(crate) start_call_ms: f64,
    /// From calling `start()` to the first listener call.
    pub(crate) first_msg_ms: Option<f64>,
    /// From calling `start()` to the listener call that reached `target` (or to the timeout).
    pub(crate) drain_secs: f64,
    /// `msgs / drain_secs`.
    pub(crate) msgs_per_sec: f64,
    /// Body bytes per second, in 10^6 bytes (absent from the Java consumer's report).
    #[serde(default)]
    pub(crate) mb_per_sec: f64,
    /// Failed listener calls, offset persist and fetch failures.
    #[serde(default)]
    pub(crate) errors: u64,
    /// Message age when the listener got it (consume time − born time, so it includes the time a
    /// backlog waited; born times have millisecond resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) age: Option<LatencySummary>,
}

impl ConsumeSummary {
    fn print_text(&self, topic: &str) {
        println!("rmq bench consume: topic {topic}, group {}", self.group);
        println!(
            "  messages   {} of {} in {:.2}s = {:.0} msg/s{}",
            self.msgs,
            self.target,
            self.drain_secs,
            self.msgs_per_sec,
            if self.drained { "" } else { " (timed out)" }
        );
        if self.mb_per_sec > 0.0 {
            println!("  bodies     {:.2} MB/s", self.mb_per_sec);
        }
        println!("  errors     {}", self.errors);
        if let Some(a) = &self.age {
            println!(
                "  age ms     p50 {:.1} | p90 {:.1} | p99 {:.1} | p99.9 {:.1} | max {:.1}",
                a.p50_ms, a.p90_ms, a.p99_ms, a.p999_ms, a.max_ms
            );
        }
        let first = self
            .first_msg_ms
            .map_or_else(|| "none".to_string(), |ms| format!("{ms:.1} ms"));
        println!(
            "  start()    returned after {:.1} ms; first message after {first}",
            self.start_call_ms
        );
    }
}

/// Counts listener calls; shared by every listener invocation.
#[derive(Debug)]
struct Tally {
    target: u64,
    count: AtomicU64,
    bytes: AtomicU64,
    ages: Mutex<Latencies>,
    first: OnceLock<Instant>,
    last: OnceLock<Instant>,
    drained: Notify,
}

impl Tally {
    fn on_messages(&self, msgs: &[MessageExt]) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let bytes: usize = msgs.iter().map(|m| m.message.body.len()).sum();
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        {
            let mut ages = self.ages.lock().unwrap_or_else(PoisonError::into_inner);
            for m in msgs {
                let age = u64::try_from(now_ms - m.born_timestamp).unwrap_or(0);
                ages.record(Duration::from_millis(age));
            }
        }
        self.on_batch(msgs.len());
    }

    fn on_batch(&self, n: usize) {
        let now = Instant::now();
        let before = self.count.fetch_add(n as u64, Ordering::Relaxed);
        if before == 0 {
            let _ = self.first.set(now);
        }
        if before < self.target && before + n as u64 >= self.target {
            let _ = self.last.set(now);
            eprintln!("{DRAINED_MARKER}");
            self.drained.notify_one();
        }
    }
}

/// The backlog of `topic`: the sum over its queues of max − min offset.
async fn backlog(namesrv: &str, topic: &str) -> anyhow::Result<u64> {
    let admin = Admin::connect(ClientConfig::new(namesrv))?;
    let route = admin
        .topic_route(topic)
        .await
        .with_context(|| format!("looking up the route of topic {topic}"))?;
    let mut sum = 0;
    for mq in &route.subscribe_queues {
        sum += admin.max_offset(mq).await? - admin.min_offset(mq).await?;
    }
    Ok(u64::try_from(sum).unwrap_or(0))
}

async fn measure(args: &Args) -> anyhow::Result<ConsumeSummary> {
    let target = match args.messages {
        Some(n) => n,
        None => backlog(&args.namesrv, &args.topic).await?,
    };
    if target == 0 {
        bail!("nothing to drain: topic {} is empty (or pass -n)", args.topic);
    }
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| format!("rmq_bench_consumer_{}", std::process::id()));
    let mut config = ConsumerConfig::new(group.as_str());
    config.client = ClientConfig::new(args.namesrv.as_str());
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    if let Some(w) = args.threads {
        config.consume_thread_min = w;
        config.consume_thread_max = w;
    }
    let tally = Arc::new(Tally {
        target,
        count: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        ages: Mutex::new(Latencies::new()?),
        first: OnceLock::new(),
        last: OnceLock::new(),
        drained: Notify::new(),
    });
    let builder = ConcurrentConsumer::builder(config).subscribe(args.topic.as_str(), "*");
    let builder = match args.listener {
        ListenerKind::Sync => {
            let tally = tally.clone();
            builder.listener(move |msgs: &[MessageExt], _ctx: &mut ConsumeContext| {
                tally.on_messages(msgs);
                ConsumeResult::Success
            })
        }
        ListenerKind::Async => {
            let tally = tally.clone();
            builder.async_listener(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
                tally.on_messages(&msgs);
                std::future::ready(ConsumeResult::Success)
            })
        }
    };

    eprintln!(
        "{START_MARKER}: topic {}, group {group}, {target} messages, {:?} listener",
        args.topic, args.listener
    );
    let t0 = Instant::now();
    let consumer = builder.start().await.context("starting the consumer")?;
    let start_call = t0.elapsed();
    let (progress, bar) = spawn_progress(tally.clone(), t0);
    let drained = tokio::select! {
        _ = tally.drained.notified() => true,
        _ = tokio::time::sleep(args.timeout) => false,
        _ = tokio::signal::ctrl_c() => false,
    };
    let end = tally.last.get().copied().unwrap_or_else(Instant::now);
    progress.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let stats = consumer.stats();
    consumer.shutdown().await;
    let errors = stats.topics.values().map(|t| t.consumed_failed).sum::<u64>()
        + stats.offsets.persist_failures
        + stats.offsets.fetch_failures;
    let msgs = tally.count.load(Ordering::Relaxed);
    let drain_secs = (end - t0).as_secs_f64();
    let ages = tally
        .ages
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .percentiles();
    Ok(ConsumeSummary {
        group,
        target,
        msgs,
        drained,
        start_call_ms: start_call.as_secs_f64() * 1e3,
        first_msg_ms: tally.first.get().map(|f| (*f - t0).as_secs_f64() * 1e3),
        drain_secs,
        msgs_per_sec: if drain_secs > 0.0 {
            msgs.min(target) as f64 / drain_secs
        } else {
            0.0
        },
        mb_per_sec: if drain_secs > 0.0 {
            tally.bytes.load(Ordering::Relaxed) as f64 / drain_secs / 1e6
        } else {
            0.0
        },
        errors,
        age: (msgs > 0).then_some(ages),
    })
}

/// A progress bar with the live rate when stderr is a terminal; else a line every 5 s.
fn spawn_progress(tally: Arc<Tally>, t0: Instant) -> (tokio::task::JoinHandle<()>, Option<ProgressBar>) {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::with_draw_target(Some(tally.target), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{wide_bar}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("#>-");
        bar.set_style(style);
        bar
    });
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        let every = if bar.is_some() {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        };
        let mut tick = tokio::time::interval_at((t0 + every).into(), every);
        let mut history = std::collections::VecDeque::from([(t0, 0u64)]);
        loop {
            tick.tick().await;
            let now = Instant::now();
            let n = tally.count.load(Ordering::Relaxed);
            history.push_back((now, n));
            // The rate over the last second (bar) or the last interval (lines).
            while history.len() > if bar.is_some() { 5 } else { 2 } {
                history.pop_front();
            }
            let (t, prev) = history.front().copied().unwrap_or((t0, 0));
            let rate = (n - prev) as f64 / (now - t).as_secs_f64().max(1e-3);
            match &bar {
                Some(bar) => {
                    bar.set_position(n.min(tally.target));
                    bar.set_message(format!("{rate:.0} msg/s"));
                }
                None => eprintln!(
                    "rmq bench consume: +{:.0}s {n} consumed ({rate:.0} msg/s over the last 5 s)",
                    t0.elapsed().as_secs_f64()
                ),
            }
        }
    });
    (task, shown)
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let summary = measure(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        summary.print_text(&args.topic);
    }
    if !summary.drained {
        bail!(
            "consumed {} of {} messages before giving up",
            summary.msgs,
            summary.target
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_marks_first_and_last_once() {
        let t = Tally {
            target: 5,
            count: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            ages: Mutex::new(Latencies::new().unwrap()),
            first: OnceLock::new(),
            last: OnceLock::new(),
            drained: Notify::new(),
        };
        t.on_batch(2);
        assert!(t.first.get().is_some() && t.last.get().is_none());
        t.on_batch(2);
        assert!(t.last.get().is_none());
        t.on_batch(2);
        let last = t.last.get().copied();
        assert!(last.is_some());
        t.on_batch(1);
        assert_eq!(t.last.get().copied(), last);
        assert_eq!(t.count.load(Ordering::Relaxed), 7);
    }

    #[test]
    fn summary_round_trips_through_json() -> anyhow::Result<()> {
        let s = ConsumeSummary {
            group: "g".into(),
            target: 10,
            msgs: 10,
            drained: true,
            start_call_ms: 12.5,
            first_msg_ms: Some(40.0),
            drain_secs: 2.0,
            msgs_per_sec: 5.0,
            mb_per_sec: 0.005,
            errors: 0,
            age: Some(LatencySummary::default()),
        };
        let json = serde_json::to_string(&s)?;
        assert_eq!(serde_json::from_str::<ConsumeSummary>(&json)?, s);
        // The Java consumer prints `null` when no message arrived.
        let java = r#"{"group":"j","target":10,"msgs":0,"drained":false,"start_call_ms":300.0,"first_msg_ms":null,"drain_secs":60.0,"msgs_per_sec":0.0}"#;
        assert_eq!(serde_json::from_str::<ConsumeSummary>(java)?.first_msg_ms, None);
        Ok(())
    }
}
