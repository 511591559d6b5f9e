//! `rmq bench consume`: drain a topic's backlog with a new `ConcurrentConsumer` group whose listener
//! does nothing, and report the time to the first message and the drain rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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

/// Printed on stderr just before `start()`; `compare-consume` starts its CPU window on it.
pub(crate) const START_MARKER: &str = "rmq bench consume: starting";
/// Printed on stderr by the listener call that completes the count; it ends the CPU window.
pub(crate) const DRAINED_MARKER: &str = "rmq bench consume: drained";

/// Options of `rmq bench consume`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Name server address(es), `host:port[;host:port]`.
    #[arg(long, visible_alias = "ns")]
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
    first: OnceLock<Instant>,
    last: OnceLock<Instant>,
    drained: Notify,
}

impl Tally {
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
        first: OnceLock::new(),
        last: OnceLock::new(),
        drained: Notify::new(),
    });
    let builder = ConcurrentConsumer::builder(config).subscribe(args.topic.as_str(), "*");
    let builder = match args.listener {
        ListenerKind::Sync => {
            let tally = tally.clone();
            builder.listener(move |msgs: &[MessageExt], _ctx: &mut ConsumeContext| {
                tally.on_batch(msgs.len());
                ConsumeResult::Success
            })
        }
        ListenerKind::Async => {
            let tally = tally.clone();
            builder.async_listener(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
                tally.on_batch(msgs.len());
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
    let progress = {
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval_at((t0 + Duration::from_secs(5)).into(), Duration::from_secs(5));
            let mut prev = 0;
            loop {
                tick.tick().await;
                let n = tally.count.load(Ordering::Relaxed);
                eprintln!(
                    "rmq bench consume: +{:.0}s {n} consumed ({:.0} msg/s over the last 5 s)",
                    t0.elapsed().as_secs_f64(),
                    (n - prev) as f64 / 5.0
                );
                prev = n;
            }
        })
    };
    let drained = tokio::select! {
        _ = tally.drained.notified() => true,
        _ = tokio::time::sleep(args.timeout) => false,
        _ = tokio::signal::ctrl_c() => false,
    };
    let end = tally.last.get().copied().unwrap_or_else(Instant::now);
    progress.abort();
    consumer.shutdown().await;
    let msgs = tally.count.load(Ordering::Relaxed);
    let drain_secs = (end - t0).as_secs_f64();
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
    })
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
        };
        let json = serde_json::to_string(&s)?;
        assert_eq!(serde_json::from_str::<ConsumeSummary>(&json)?, s);
        // The Java consumer prints `null` when no message arrived.
        let java = r#"{"group":"j","target":10,"msgs":0,"drained":false,"start_call_ms":300.0,"first_msg_ms":null,"drain_secs":60.0,"msgs_per_sec":0.0}"#;
        assert_eq!(serde_json::from_str::<ConsumeSummary>(java)?.first_msg_ms, None);
        Ok(())
    }
}
