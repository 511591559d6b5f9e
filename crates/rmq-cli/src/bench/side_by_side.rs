//! `rmq bench side-by-side`: the same two workloads, on one cluster, with this client, the Java
//! client and the Go client, each run as a child process measured from the outside the same way,
//! summed up in one table. `scripts/bench-side-by-side` builds the Go program and calls this.
//!
//! 1. produce: `-c` concurrent senders of `-s`-byte bodies; each run warms up, then is measured
//!    for `-d` (throughput counted by the brokers; CPU from `/proc` over the window);
//! 2. consume: a backlog of `-n` messages, drained by each run with a new group from the first
//!    offset (CPU from `/proc` between the line before `start()` and the last message).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::ClientConfig;
use rmq_testkit::{Cluster, Runtime};

use super::child::{self, Ending, OffsetCounter};
use super::compare::{self, cluster_name, open_cluster, shell_quote};
use super::compare_consume::{rmq_command, DrainJob, JavaSetup};
use super::consume_report::{self, ConsumeRow};
use super::drain::{self, Markers};
use super::machine::{load_avg, LoadAvg, Machine};
use super::report::{self, java_row, rmq_row, Row};
use super::side_report::{summary, Client, Entry};
use super::{backlog, consume, format_duration, go, java, parse_duration, produce};

/// Options of `rmq bench side-by-side`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Concurrent senders of the produce workload (rmq tasks, Java threads, Go goroutines).
    #[arg(short = 'c', long, default_value_t = 16)]
    concurrency: u64,
    /// Body size in bytes (both workloads).
    #[arg(short = 's', long, default_value_t = 1024)]
    size: usize,
    /// Measured duration of each produce run (after its warm-up).
    #[arg(short = 'd', long, value_parser = parse_duration, default_value = "30s")]
    duration: Duration,
    /// Warm-up of each produce run, not measured (the Java Producer needs ~25 s of JIT).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    warmup: Duration,
    /// Run `rmq bench produce` this long first to warm the brokers up (0 = no).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    broker_warmup: Duration,
    /// Messages in the backlog each consume run drains.
    #[arg(short = 'n', long, default_value_t = 1_000_000)]
    messages: u64,
    /// Listener threads of every consumer (default: each client's own: rmq 20–64, Java 20, Go 20).
    #[arg(short = 'w', long)]
    threads: Option<usize>,
    /// Produce runs, in this order (`rmq`, `java`, `go`; repeat for more rounds). The default
    /// A B C C B A order cancels a steady drift of the cluster's speed.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rmq,java,go,go,java,rmq"
    )]
    produce_clients: Vec<Client>,
    /// Consume runs, in this order; each drains the whole backlog with a new group.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rmq,java,go,go,java,rmq"
    )]
    consume_clients: Vec<Client>,
    /// The `bench/go` program, built (`go build`); needed when a list names `go`.
    #[arg(long)]
    go_bin: Option<PathBuf>,
    /// Request headers of rmq's producer: `rocketmq` (binary, as the Java benchmark Producer
    /// forces) or `json` (the client's default, and the Go client's only choice).
    #[arg(long, default_value = "rocketmq")]
    rmq_header: String,
    /// Give up on a drain after this long.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    drain_timeout: Duration,
    /// Use this name server instead of starting a local cluster.
    #[arg(long, visible_alias = "ns")]
    namesrv: Option<String>,
    /// Cluster to create the topics in, with --namesrv (default: the only one there).
    #[arg(long)]
    cluster: Option<String>,
    /// Queues per broker of the benchmark topics.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Heap of each local broker (-Xms/-Xmx).
    #[arg(long, default_value = "1g")]
    broker_heap: String,
    /// JVM flags of the Java clients (whitespace-separated).
    #[arg(long, default_value = "-Xmx1g", allow_hyphen_values = true)]
    java_jvm_args: String,
    /// Write each run's output (with arrival times) here.
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Also write the report (the markdown printed on stdout) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn fmt_load(l: Option<LoadAvg>) -> String {
    l.map_or("unknown".into(), |l| l.to_string())
}

fn save_transcript(dir: Option<&Path>, name: &str, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = dir {
        let path = dir.join(name);
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, text))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// What the runs share: the cluster and how to reach it.
struct Setup {
    cluster: Option<Cluster>,
    ns: String,
    admin: Admin,
    cluster_name: String,
    brokers: usize,
}

impl Setup {
    /// Creates a topic with `--queues` queues per broker; returns its offset counter.
    async fn topic(&self, args: &Args, topic: &str) -> anyhow::Result<OffsetCounter> {
        self.admin
            .create_topic_in_cluster(&self.cluster_name, &TopicSpec::new(topic, args.queues))
            .await
            .with_context(|| format!("creating topic {topic}"))?;
        let route = self.admin.topic_route(topic).await?;
        Ok(OffsetCounter {
            admin: self.admin.clone(),
            queues: route.subscribe_queues.clone(),
        })
    }
}

/// The produce workload: broker warm-up, then every `--produce-clients` run on one topic.
async fn produce_phase(
    args: &Args,
    setup: &Setup,
    loads: &mut Vec<String>,
) -> anyhow::Result<(Vec<Row>, Vec<Entry>)> {
    let topic = format!("rmq_bench_side_{}", std::process::id());
    let counter = setup.topic(args, &topic).await?;
    let ns = setup.ns.as_str();
    let marker = |prefix: &'static str| -> Arc<dyn Fn(&str) -> bool + Send + Sync> {
        Arc::new(move |l: &str| l.starts_with(prefix))
    };
    if !args.broker_warmup.is_zero() {
        eprintln!(
            "• warming the brokers up: rmq bench produce for {}…",
            format_duration(args.broker_warmup)
        );
        let cmd = compare::produce_command(
            ns,
            &topic,
            args.concurrency,
            args.size,
            Duration::ZERO,
            args.broker_warmup,
            &args.rmq_header,
        )?;
        let run = child::run(
            "broker warm-up",
            cmd,
            marker(produce::START_MARKER),
            Duration::ZERO,
            args.broker_warmup,
            Ending::ExitsItself,
            &counter,
        )
        .await?;
        eprintln!("  {} messages stored", run.broker_msgs);
    }
    let (mut rows, mut entries) = (Vec::new(), Vec::new());
    for (i, &client) in args.produce_clients.iter().enumerate() {
        let (label, cmd, start, ending) = match client {
            Client::Rmq => (
                "rmq (Rust)",
                compare::produce_command(
                    ns,
                    &topic,
                    args.concurrency,
                    args.size,
                    args.warmup,
                    args.duration,
                    &args.rmq_header,
                )?,
                produce::START_MARKER,
                Ending::ExitsItself,
            ),
            Client::Java => (
                "Java benchmark Producer",
                compare::java_producer_command(
                    &args.java_jvm_args,
                    setup.cluster.as_ref(),
                    ns,
                    &topic,
                    args.concurrency,
                    args.size,
                )?,
                java::START_PREFIX,
                Ending::Kill,
            ),
            Client::Go => (
                "Go (rocketmq-client-go)",
                go::produce_command(
                    go_bin(args)?,
                    ns,
                    &topic,
                    args.concurrency,
                    args.size,
                    args.warmup,
                    args.duration,
                ),
                go::PRODUCE_START_MARKER,
                Ending::ExitsItself,
            ),
        };
        let load = load_avg();
        loads.push(format!("produce {} {}", i + 1, fmt_load(load)));
        eprintln!(
            "• produce {}: {label}, {} warm-up + {} measured (load {})…",
            i + 1,
            format_duration(args.warmup),
            format_duration(args.duration),
            fmt_load(load)
        );
        let run = child::run(
            label,
            cmd,
            marker(start),
            args.warmup,
            args.duration,
            ending,
            &counter,
        )
        .await?;
        save_transcript(
            args.output_dir.as_deref(),
            &format!("produce-{}-{client:?}.log", i + 1),
            &run.transcript(),
        )?;
        let row = match client {
            Client::Java => java_row(label, &run)?,
            Client::Rmq | Client::Go => rmq_row(label, &run)?,
        };
        eprintln!("  {}", row.one_line());
        entries.push(Entry::produce(client, &row));
        rows.push(row);
    }
    Ok((rows, entries))
}

/// The consume workload: fill a backlog, then drain it with every `--consume-clients` run.
async fn consume_phase(
    args: &Args,
    setup: &Setup,
    loads: &mut Vec<String>,
    fill_note: &mut String,
) -> anyhow::Result<(Vec<ConsumeRow>, Vec<Entry>)> {
    let pid = std::process::id();
    let topic = format!("rmq_bench_side_consume_{pid}");
    let counter = setup.topic(args, &topic).await?;
    let ns = setup.ns.as_str();
    let scratch = std::env::temp_dir().join(format!("rmq-bench-side-{pid}"));
    let java = if args.consume_clients.contains(&Client::Java) {
        let runtime = setup.cluster.as_ref().map(|c| c.runtime().clone());
        Some(JavaSetup::prepare(runtime, &scratch)?)
    } else {
        None
    };
    eprintln!(
        "• filling the backlog: {} messages of {} B in batches (setup, not measured)…",
        args.messages, args.size
    );
    let fill_time = backlog::fill(ns, &topic, args.messages, args.size).await?;
    let stored = backlog::settled_total(&counter, args.messages).await?;
    let target = u64::try_from(stored).unwrap_or(0);
    if target < args.messages {
        bail!("only {stored} of {} messages were stored", args.messages);
    }
    *fill_note = format!(
        "{target} messages of {} B on a topic with {} queues per broker, filled in {:.1} s (not measured)",
        args.size,
        args.queues,
        fill_time.as_secs_f64()
    );
    eprintln!("  {fill_note}");

    let (mut rows, mut entries) = (Vec::new(), Vec::new());
    for (i, &client) in args.consume_clients.iter().enumerate() {
        let group = format!("rmq_bench_side_{client:?}_{pid}_{}", i + 1).to_lowercase();
        let job = DrainJob {
            ns,
            topic: &topic,
            group: &group,
            target,
            threads: args.threads,
            timeout: args.drain_timeout,
        };
        let (label, cmd, markers) = match (client, &java) {
            (Client::Rmq, _) => (
                "rmq (Rust)",
                rmq_command(&job, "sync")?,
                Markers {
                    start: consume::START_MARKER,
                    drained: consume::DRAINED_MARKER,
                },
            ),
            (Client::Java, Some(j)) => (
                "Java DefaultMQPushConsumer",
                j.command(&job, &args.java_jvm_args, setup.cluster.as_ref()),
                Markers {
                    start: super::java_consumer::START_MARKER,
                    drained: super::java_consumer::DRAINED_MARKER,
                },
            ),
            (Client::Java, None) => bail!("the Java consumer was not compiled"),
            (Client::Go, _) => (
                "Go push consumer",
                go::consume_command(go_bin(args)?, &job),
                go::CONSUME_MARKERS,
            ),
        };
        let dropped = counter.dropped().await?;
        if dropped > 0 {
            bail!(
                "the brokers no longer hold {dropped} of the backlog's {target} messages (they delete their \
                 oldest commit-log files when the disk is nearly full): a drain would not read them all"
            );
        }
        let load = load_avg();
        loads.push(format!("consume {} {}", i + 1, fmt_load(load)));
        eprintln!(
            "• consume {}: {label} drains {target} messages with group {group} (load {})…",
            i + 1,
            fmt_load(load)
        );
        let timeout = args.drain_timeout + Duration::from_secs(30);
        let run = drain::run(label, cmd, markers, timeout, Duration::from_secs(60)).await?;
        save_transcript(
            args.output_dir.as_deref(),
            &format!("consume-{}-{client:?}.log", i + 1),
            &run.transcript(),
        )?;
        let row = ConsumeRow::from_run(label, &run)?;
        eprintln!("  {}", row.one_line());
        entries.push(Entry::consume(client, &row));
        rows.push(row);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok((rows, entries))
}

fn go_bin(args: &Args) -> anyhow::Result<&Path> {
    args.go_bin
        .as_deref()
        .context("the Go client runs need --go-bin (scripts/bench-side-by-side builds bench/go)")
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if args.produce_clients.contains(&Client::Go) || args.consume_clients.contains(&Client::Go) {
        let bin = go_bin(&args)?;
        if !bin.is_file() {
            bail!("--go-bin {}: no such file", bin.display());
        }
    }
    if args.messages == 0 && !args.consume_clients.is_empty() {
        bail!("-n must be at least 1");
    }
    let command_line = std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let load_before = load_avg();
    let started_at = std::time::SystemTime::now();
    let (cluster, ns) = open_cluster(args.namesrv.as_deref(), &args.broker_heap).await?;
    let java_path = match &cluster {
        Some(c) => Some(c.runtime().java().to_path_buf()),
        None => Runtime::resolve().ok().map(|r| r.java().to_path_buf()),
    };
    let machine = Machine::probe(java_path.as_deref());
    let admin = Admin::connect(ClientConfig::new(&ns))?;
    let cluster_name = cluster_name(&admin, args.cluster.as_deref(), cluster.as_ref()).await?;
    let brokers = admin.cluster_masters(&cluster_name).await?.len();
    let setup = Setup {
        cluster,
        ns,
        admin,
        cluster_name,
        brokers,
    };
    eprintln!("• name server {}, {} brokers", setup.ns, setup.brokers);

    let mut loads = Vec::new();
    let (produce_rows, mut entries) = produce_phase(&args, &setup, &mut loads).await?;
    let mut fill_note = String::new();
    let (consume_rows, consume_entries) = if args.consume_clients.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        consume_phase(&args, &setup, &mut loads, &mut fill_note).await?
    };
    entries.extend(consume_entries);
    let load_after = load_avg();

    let produce_name = format!("produce {} B, {} concurrent", args.size, args.concurrency);
    let consume_name = format!("consume: drain {} × {} B", args.messages, args.size);
    let mut out = String::new();
    out.push_str(&summary(&entries, [&produce_name, &consume_name]));
    out.push('\n');
    out.push_str(&format!("- command: `{command_line}`\n"));
    out.push_str(&format!("- date: {}\n", report::utc_date(started_at)));
    out.push_str(&format!("- machine: {machine}\n"));
    out.push_str(&format!(
        "- load average (1/5/15 min): before {}; {}; after {}\n",
        fmt_load(load_before),
        loads.join("; "),
        fmt_load(load_after)
    ));
    match &setup.cluster {
        Some(_) => out.push_str(&format!(
            "- cluster: local Apache RocketMQ {} (rmq-testkit), NameServer + {} brokers, ASYNC_FLUSH, broker heap {}, C2 on\n",
            rmq_testkit::ROCKETMQ_VERSION,
            setup.brokers,
            args.broker_heap
        )),
        None => out.push_str(&format!("- cluster: name server {}, {} brokers\n", setup.ns, setup.brokers)),
    }
    out.push_str(&format!(
        "- produce: each run {} warm-up, then {} measured, on a topic with {} queues per broker; brokers warmed up for {} first; \
         msgs/s counted by the brokers; rmq sends {} request headers, Go JSON (its only kind), the Java Producer ROCKETMQ\n",
        format_duration(args.warmup),
        format_duration(args.duration),
        args.queues,
        format_duration(args.broker_warmup),
        args.rmq_header
    ));
    if !fill_note.is_empty() {
        out.push_str(&format!(
            "- consume: backlog of {fill_note}; each run a new group from the first offset, a listener that only counts; \
             listener threads {}\n",
            args.threads
                .map_or_else(|| "each client's default (rmq 20–64, Java 20, Go 20)".to_string(), |w| w.to_string())
        ));
    }
    out.push_str(&format!(
        "- clients: this build of rmq; Java: Apache RocketMQ {} client (rocketmq-example benchmark Producer, RmqBenchConsumer), JVM flags `{}`; Go: {}\n",
        rmq_testkit::ROCKETMQ_VERSION,
        args.java_jvm_args,
        go::CLIENT
    ));
    if !produce_rows.is_empty() {
        out.push_str("\nProduce runs:\n\n");
        out.push_str(&report::table(&produce_rows));
    }
    if !consume_rows.is_empty() {
        out.push_str("\nConsume runs:\n\n");
        out.push_str(&consume_report::table(&consume_rows));
    }
    println!();
    print!("{out}");
    if let Some(path) = &args.report {
        std::fs::write(path, &out).with_context(|| format!("writing {}", path.display()))?;
    }
    drop(setup);
    Ok(())
}
