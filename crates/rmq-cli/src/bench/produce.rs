//! `rmq bench produce`: N tasks, each sending in a loop and waiting for every acknowledgement.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rmq_client::producer::Producer;
use rmq_client::ClientConfig;
use rmq_protocol::message::Message;
use rmq_protocol::SerializeType;

use super::parse_duration;
use super::stats::{Latencies, ProduceSummary};

/// Printed on stderr when the senders start; `compare-produce` aligns its measurements on it.
pub(crate) const START_MARKER: &str = "rmq bench produce: sending";

/// Options of `rmq bench produce`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Name server address(es), `host:port[;host:port]` (default: the `rmq dev` cluster's if one
    /// runs, else 127.0.0.1:9876).
    #[arg(long, visible_alias = "ns", env = "NAMESRV_ADDR", default_value_t = crate::common::default_namesrv(), hide_default_value = true)]
    namesrv: String,
    /// Topic to send to (must exist, or the brokers must auto-create topics).
    #[arg(short = 't', long)]
    topic: String,
    /// Concurrent senders (tasks, each with one send in flight).
    #[arg(short = 'c', long, default_value_t = 16)]
    concurrency: u64,
    /// Body size in bytes.
    #[arg(short = 's', long, default_value_t = 1024)]
    size: usize,
    /// How long to measure after the warm-up (default 30s unless -n is given).
    #[arg(short = 'd', long, value_parser = parse_duration, conflicts_with = "messages")]
    duration: Option<Duration>,
    /// Measure this many sends (after the warm-up) instead of a duration.
    #[arg(short = 'n', long)]
    messages: Option<u64>,
    /// Sending before the measurement starts (not in the statistics).
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    warmup: Duration,
    /// Per-send timeout (retries included).
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    send_timeout: Duration,
    /// Producer group.
    #[arg(long, default_value = "rmq_bench_producer")]
    group: String,
    /// Request header encoding: `json` (the client's default, like Java's) or `rocketmq` (the
    /// compact binary form, which the Java benchmark Producer forces).
    #[arg(long, value_enum, default_value_t = Header::Json)]
    header: Header,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// `--header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Header {
    Json,
    Rocketmq,
}

impl Header {
    fn serialize_type(self) -> SerializeType {
        match self {
            Header::Json => SerializeType::Json,
            Header::Rocketmq => SerializeType::RocketMq,
        }
    }
}

/// When a send counts, shared by all senders.
#[derive(Debug)]
struct Plan {
    topic: String,
    body: Bytes,
    measure_from: Instant,
    /// Duration mode: sends completing after this are not counted, and no send starts after it.
    deadline: Option<Instant>,
    /// Count mode: how many measured sends to start.
    messages: Option<u64>,
}

#[derive(Debug, Default)]
struct Counters {
    acked: AtomicU64,
    errors: AtomicU64,
    /// Measured sends started (count mode).
    claimed: AtomicU64,
    stop: AtomicBool,
}

/// What one sender saw inside the measured window.
#[derive(Debug)]
struct SenderResult {
    latencies: Latencies,
    ok: u64,
    errors: u64,
    warmup_ok: u64,
    last_done: Option<Instant>,
    first_error: Option<String>,
}

async fn sender(p: Producer, plan: Arc<Plan>, counters: Arc<Counters>) -> anyhow::Result<SenderResult> {
    let mut r = SenderResult {
        latencies: Latencies::new()?,
        ok: 0,
        errors: 0,
        warmup_ok: 0,
        last_done: None,
        first_error: None,
    };
    loop {
        let start = Instant::now();
        if counters.stop.load(Ordering::Relaxed) || plan.deadline.is_some_and(|d| start >= d) {
            break;
        }
        let measured = start >= plan.measure_from;
        if let (true, Some(n)) = (measured, plan.messages) {
            if counters.claimed.fetch_add(1, Ordering::Relaxed) >= n {
                break;
            }
        }
        let res = p.send(Message::new(plan.topic.as_str(), plan.body.clone())).await;
        let done = Instant::now();
        let in_window = measured && plan.deadline.is_none_or(|d| done <= d);
        match res {
            Ok(_) => {
                counters.acked.fetch_add(1, Ordering::Relaxed);
                if in_window {
                    r.latencies.record(done - start);
                    r.ok += 1;
                    r.last_done = Some(done);
                } else if !measured {
                    r.warmup_ok += 1;
                }
            }
            Err(e) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                if in_window {
                    r.errors += 1;
                    r.last_done = Some(done);
                }
                r.first_error.get_or_insert_with(|| e.to_string());
                // Do not spin when every send fails at once (e.g. no route).
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok(r)
}

fn progress_bar(plan: &Plan, warmup: Duration) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let len = match (plan.deadline, plan.messages) {
        (Some(d), _) => (d - plan.measure_from + warmup).as_millis() as u64,
        (None, Some(n)) => n,
        (None, None) => 0,
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{wide_bar}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-");
    bar.set_style(style);
    bar
}

/// Updates `bar` every 250 ms with the sent count and the rate over the last second.
fn spawn_ticker(
    bar: ProgressBar,
    plan: Arc<Plan>,
    counters: Arc<Counters>,
    started: Instant,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut history = std::collections::VecDeque::from([(started, 0u64)]);
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = Instant::now();
            let acked = counters.acked.load(Ordering::Relaxed);
            history.push_back((now, acked));
            while history.len() > 5 {
                history.pop_front();
            }
            let (t0, n0) = history.front().copied().unwrap_or((started, 0));
            let rate = (acked - n0) as f64 / (now - t0).as_secs_f64().max(1e-3);
            let phase = if now < plan.measure_from {
                "warm-up"
            } else {
                "measuring"
            };
            let pos = match plan.messages {
                Some(_) => counters.claimed.load(Ordering::Relaxed),
                None => (now - started).as_millis() as u64,
            };
            bar.set_position(pos);
            bar.set_message(format!(
                "{phase}: {acked} acked, {rate:.0} msg/s, {} errors",
                counters.errors.load(Ordering::Relaxed)
            ));
        }
    })
}

/// Runs the benchmark described by `args` and returns what it measured.
async fn measure(args: &Args) -> anyhow::Result<ProduceSummary> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let mut client = ClientConfig::new(args.namesrv.as_str());
    client.serialize_type = args.header.serialize_type();
    let producer = Producer::builder(args.group.as_str())
        .client_config(client)
        .send_timeout(args.send_timeout)
        .start()
        .await
        .context("starting the producer")?;
    let queues = producer
        .publish_queues(&args.topic)
        .await
        .with_context(|| format!("looking up the route of topic {}", args.topic))?;
    let body = Bytes::from(
        (0..args.size)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
            .collect::<Vec<u8>>(),
    );
    let started = Instant::now();
    let measure_from = started + args.warmup;
    let deadline = match (args.duration, args.messages) {
        (Some(d), _) => Some(measure_from + d),
        (None, Some(_)) => None,
        (None, None) => Some(measure_from + Duration::from_secs(30)),
    };
    let plan = Arc::new(Plan {
        topic: args.topic.clone(),
        body,
        measure_from,
        deadline,
        messages: args.messages,
    });
    eprintln!(
        "{START_MARKER} to {} ({} queues) from {} tasks, {} B bodies",
        args.topic,
        queues.len(),
        args.concurrency,
        args.size
    );
    let counters = Arc::new(Counters::default());
    let bar = progress_bar(&plan, args.warmup);
    let ticker = spawn_ticker(bar.clone(), plan.clone(), counters.clone(), started);
    let interrupt = {
        let counters = counters.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                counters.stop.store(true, Ordering::Relaxed);
            }
        })
    };
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(sender(producer.clone(), plan.clone(), counters.clone())))
        .collect();
    let mut latencies = Latencies::new()?;
    let (mut ok, mut errors, mut warmup_msgs) = (0, 0, 0);
    let mut last_done: Option<Instant> = None;
    let mut first_error = None;
    for task in tasks {
        let r = task.await??;
        latencies.merge(&r.latencies)?;
        ok += r.ok;
        errors += r.errors;
        warmup_msgs += r.warmup_ok;
        last_done = last_done.max(r.last_done);
        first_error = first_error.or(r.first_error);
    }
    ticker.abort();
    interrupt.abort();
    bar.finish_and_clear();
    producer.shutdown().await;

    let interrupted = counters.stop.load(Ordering::Relaxed);
    let window_end = match deadline {
        Some(d) if !interrupted => d,
        _ => last_done.unwrap_or(measure_from),
    };
    let secs = window_end.saturating_duration_since(measure_from).as_secs_f64();
    let rate = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
    Ok(ProduceSummary {
        topic: args.topic.clone(),
        concurrency: args.concurrency,
        body_bytes: args.size,
        header: format!("{:?}", args.header.serialize_type()),
        warmup_secs: args.warmup.as_secs_f64(),
        measured_secs: secs,
        msgs: ok,
        msgs_per_sec: rate(ok as f64),
        mb_per_sec: rate(ok as f64 * args.size as f64) / 1e6,
        errors,
        warmup_msgs,
        first_error,
        latency: latencies.percentiles(),
    })
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let summary = measure(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        summary.print_text();
    }
    if summary.msgs == 0 {
        bail!(
            "no message was acknowledged in the measured window{}",
            summary
                .first_error
                .as_deref()
                .map(|e| format!(" (first error: {e})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
