//! `rmq bench compare-consume`: fill a topic with a backlog, then drain it with `rmq bench consume`
//! and with a Java `DefaultMQPushConsumer`, one after the other, each as a process of its own and
//! each with a new consumer group starting from the first offset.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::ClientConfig;
use rmq_testkit::{Cluster, Runtime};

use super::child::OffsetCounter;
use super::compare::{cluster_name, open_cluster, shell_quote};
use super::consume_report::{ratios, table, ConsumeRow};
use super::drain::{self, Markers};
use super::machine::{load_avg, LoadAvg, Machine};
use super::{backlog, consume, format_duration, java_consumer, parse_duration};

/// Options of `rmq bench compare-consume`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Messages in the backlog (each client drains all of them).
    #[arg(short = 'n', long, default_value_t = 1_000_000)]
    messages: u64,
    /// Body size in bytes.
    #[arg(short = 's', long, default_value_t = 1024)]
    size: usize,
    /// Listener threads of both clients (default: each client's own, rmq 20–64 permits on the
    /// blocking pool, Java 20 threads as its benchmark Consumer's `-w`).
    #[arg(short = 'w', long)]
    threads: Option<usize>,
    /// Which clients drain the backlog, in this order: `rmq` (sync listener, the default kind),
    /// `rmq-async` (async listener), `java`. Each run uses a new consumer group. The default order
    /// (A B B A) cancels a steady drift of the cluster's speed; the table adds each client's mean.
    #[arg(long, value_delimiter = ',', default_value = "rmq,java,java,rmq")]
    clients: Vec<String>,
    /// Leave the Java client out of --clients (no JDK needed).
    #[arg(long)]
    skip_java: bool,
    /// Give up on a drain after this long.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    timeout: Duration,
    /// Use this name server instead of starting a local cluster.
    #[arg(long, visible_alias = "ns")]
    namesrv: Option<String>,
    /// Cluster to create the topic in, with --namesrv (default: the only one there).
    #[arg(long)]
    cluster: Option<String>,
    /// Queues per broker of the benchmark topic.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Heap of each local broker (-Xms/-Xmx).
    #[arg(long, default_value = "1g")]
    broker_heap: String,
    /// JVM flags of the Java consumer (whitespace-separated).
    #[arg(long, default_value = "-Xmx1g", allow_hyphen_values = true)]
    java_jvm_args: String,
    /// Write each client's output (with arrival times relative to its start line) here.
    #[arg(long)]
    output_dir: Option<PathBuf>,
}

impl Args {
    /// `--clients` without `java` when `--skip-java`; fails on unknown names.
    fn clients(&self) -> anyhow::Result<Vec<&str>> {
        let mut out = Vec::new();
        for c in &self.clients {
            if !["rmq", "rmq-async", "java"].contains(&c.as_str()) {
                bail!("unknown client {c:?} in --clients (use rmq, rmq-async and java)");
            }
            if !(self.skip_java && c == "java") {
                out.push(c.as_str());
            }
        }
        if out.is_empty() {
            bail!("no client to run");
        }
        Ok(out)
    }
}

/// One client run to make.
struct Plan {
    label: &'static str,
    cmd: std::process::Command,
    markers: Markers,
}

/// One drain to run: which topic, with which new group, until how many messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DrainJob<'a> {
    pub(crate) ns: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) group: &'a str,
    pub(crate) target: u64,
    /// Listener threads (each client's default when `None`).
    pub(crate) threads: Option<usize>,
    /// The child gives up (and still prints its summary) after this long.
    pub(crate) timeout: Duration,
}

/// `rmq bench consume --json` (this executable) with a `listener` (`sync` or `async`) listener.
pub(crate) fn rmq_command(job: &DrainJob<'_>, listener: &str) -> anyhow::Result<std::process::Command> {
    let exe = std::env::current_exe().context("locating the rmq executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "bench",
        "consume",
        "--namesrv",
        job.ns,
        "--topic",
        job.topic,
        "--group",
        job.group,
        "--json",
    ])
    .args(["-n", &job.target.to_string(), "--listener", listener])
    .args(["--timeout", &format_duration(job.timeout)]);
    if let Some(w) = job.threads {
        cmd.args(["-w", &w.to_string()]);
    }
    Ok(cmd)
}

/// The compiled Java consumer and the runtime (java, RocketMQ jars) to start it with.
#[derive(Debug)]
pub(crate) struct JavaSetup {
    runtime: Runtime,
    classes: PathBuf,
}

impl JavaSetup {
    /// Compiles `RmqBenchConsumer` into `scratch` with `runtime` (else the one the kit resolves).
    pub(crate) fn prepare(runtime: Option<Runtime>, scratch: &Path) -> anyhow::Result<JavaSetup> {
        let runtime = match runtime {
            Some(r) => r,
            None => {
                Runtime::resolve().context("locating java and the RocketMQ jars (or pass --skip-java)")?
            }
        };
        eprintln!("• compiling the Java consumer…");
        let classes = java_consumer::compile(&runtime, scratch)?;
        Ok(JavaSetup { runtime, classes })
    }

    /// The Java consumer for `job`, with `jvm_args` (whitespace-separated).
    pub(crate) fn command(
        &self,
        job: &DrainJob<'_>,
        jvm_args: &str,
        cluster: Option<&Cluster>,
    ) -> std::process::Command {
        let jvm_args: Vec<&str> = jvm_args.split_whitespace().collect();
        let base = match cluster {
            Some(c) => c.java_command(java_consumer::CLASS, &jvm_args),
            None => self.runtime.java_command(java_consumer::CLASS, &jvm_args),
        };
        let mut cmd = java_consumer::with_classes(&base, &self.classes);
        cmd.args([
            job.ns,
            job.topic,
            job.group,
            &job.target.to_string(),
            &job.threads.unwrap_or(java_consumer::DEFAULT_THREADS).to_string(),
            &job.timeout.as_secs().max(1).to_string(),
        ]);
        cmd
    }
}

fn fmt_load(l: Option<LoadAvg>) -> String {
    l.map_or("unknown".into(), |l| l.to_string())
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let clients = args.clients()?;
    if args.messages == 0 {
        bail!("-n must be at least 1");
    }
    let command_line = std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let load_before = load_avg();
    let started_at = std::time::SystemTime::now();
    let (cluster, ns) = open_cluster(args.namesrv.as_deref(), &args.broker_heap).await?;
    let runtime = match &cluster {
        Some(c) => Some(c.runtime().clone()),
        None => Runtime::resolve().ok(),
    };
    let machine = Machine::probe(runtime.as_ref().map(|r| r.java()));
    let scratch = std::env::temp_dir().join(format!("rmq-bench-consume-{}", std::process::id()));
    let java = if clients.contains(&"java") {
        Some(JavaSetup::prepare(runtime, &scratch)?)
    } else {
        None
    };

    let admin = Admin::connect(ClientConfig::new(&ns))?;
    let cluster_name = cluster_name(&admin, args.cluster.as_deref(), cluster.as_ref()).await?;
    let pid = std::process::id();
    let topic = format!("rmq_bench_consume_{pid}");
    admin
        .create_topic_in_cluster(&cluster_name, &TopicSpec::new(&topic, args.queues))
        .await
        .with_context(|| format!("creating topic {topic}"))?;
    let route = admin.topic_route(&topic).await?;
    eprintln!(
        "• name server {ns}, topic {topic}: {} queues on {} brokers",
        route.subscribe_queues.len(),
        route.data.broker_datas.len()
    );
    let counter = OffsetCounter {
        admin,
        queues: route.subscribe_queues.clone(),
    };

    eprintln!(
        "• filling the backlog: {} messages of {} B in batches (setup, not measured)…",
        args.messages, args.size
    );
    let fill_time = backlog::fill(&ns, &topic, args.messages, args.size).await?;
    let stored = backlog::settled_total(&counter, args.messages).await?;
    let target = u64::try_from(stored).unwrap_or(0);
    eprintln!(
        "  {stored} messages stored in {:.1} s ({:.0} msg/s)",
        fill_time.as_secs_f64(),
        stored as f64 / fill_time.as_secs_f64()
    );
    if target < args.messages {
        bail!("only {stored} of {} messages were stored", args.messages);
    }

    let rmq_markers = Markers {
        start: consume::START_MARKER,
        drained: consume::DRAINED_MARKER,
    };
    let java_markers = Markers {
        start: java_consumer::START_MARKER,
        drained: java_consumer::DRAINED_MARKER,
    };
    let mut rows: Vec<ConsumeRow> = Vec::new();
    let mut loads: Vec<String> = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let group = format!("rmq_bench_{}_{pid}_{}", client.replace('-', "_"), i + 1);
        let job = DrainJob {
            ns: &ns,
            topic: &topic,
            group: &group,
            target,
            threads: args.threads,
            timeout: args.timeout,
        };
        let plan = match (*client, &java) {
            ("rmq", _) => Plan {
                label: "rmq (Rust)",
                cmd: rmq_command(&job, "sync")?,
                markers: rmq_markers,
            },
            ("rmq-async", _) => Plan {
                label: "rmq (Rust, async listener)",
                cmd: rmq_command(&job, "async")?,
                markers: rmq_markers,
            },
            (_, Some(j)) => Plan {
                label: "Java DefaultMQPushConsumer",
                cmd: j.command(&job, &args.java_jvm_args, cluster.as_ref()),
                markers: java_markers,
            },
            (_, None) => bail!("the Java consumer was not compiled"),
        };
        let load = load_avg();
        loads.push(format!("{} {}", i + 1, fmt_load(load)));
        eprintln!(
            "• {}: draining {target} messages with group {group} (load {})…",
            plan.label,
            fmt_load(load)
        );
        let timeout = args.timeout + Duration::from_secs(30);
        let run = drain::run(
            plan.label,
            plan.cmd,
            plan.markers,
            timeout,
            Duration::from_secs(60),
        )
        .await?;
        if let Some(dir) = &args.output_dir {
            let path = dir.join(format!("consume-{}-{client}.log", i + 1));
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, run.transcript()))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let row = ConsumeRow::from_run(plan.label, &run)?;
        eprintln!("  {}", row.one_line());
        rows.push(row);
    }
    let load_after = load_avg();
    let _ = std::fs::remove_dir_all(&scratch);

    println!();
    println!("{}", table(&rows));
    if let Some(r) = ratios(&rows) {
        println!("{r}");
        println!();
    }
    println!("- command: `{command_line}`");
    println!("- date: {}", super::report::utc_date(started_at));
    println!("- machine: {machine}");
    println!(
        "- load average (1/5/15 min): before {}, before each drain {}, after {}",
        fmt_load(load_before),
        loads.join("; "),
        fmt_load(load_after)
    );
    println!(
        "- backlog: {target} messages of {} B on topic {topic} ({} queues per broker on {} brokers), filled in {:.1} s",
        args.size,
        args.queues,
        route.data.broker_datas.len(),
        fill_time.as_secs_f64()
    );
    if cluster.is_some() {
        println!(
            "- cluster: local Apache RocketMQ {} (rmq-testkit), ASYNC_FLUSH, broker heap {}, C2 on",
            rmq_testkit::ROCKETMQ_VERSION,
            args.broker_heap
        );
    }
    let threads = args
        .threads
        .map_or_else(|| "each client's default".to_string(), |w| w.to_string());
    println!(
        "- listener threads: {threads}; Java consumer JVM flags: {}",
        args.java_jvm_args
    );
    drop(cluster);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn defaults_and_client_list() -> anyhow::Result<()> {
        let a = Cli::try_parse_from(["x"])?.args;
        assert_eq!((a.messages, a.size, a.queues), (1_000_000, 1024, 8));
        assert_eq!(a.clients()?, ["rmq", "java", "java", "rmq"]);
        let a = Cli::try_parse_from([
            "x",
            "-n",
            "1000",
            "--skip-java",
            "--clients",
            "rmq,java,rmq-async",
        ])?
        .args;
        assert_eq!(a.messages, 1000);
        assert_eq!(a.clients()?, ["rmq", "rmq-async"]);
        let a = Cli::try_parse_from(["x", "--clients", "python"])?.args;
        assert!(a.clients().is_err());
        let a = Cli::try_parse_from(["x", "--clients", "java", "--skip-java"])?.args;
        assert!(a.clients().is_err());
        Ok(())
    }
}
