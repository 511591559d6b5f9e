//! `rmq bench compare-produce`: `rmq bench produce` and the Java benchmark Producer, one after
//! the other on the same cluster, each measured as a process of its own.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::ClientConfig;
use rmq_testkit::{Cluster, ClusterOptions, Runtime};

use super::child::{self, Ending, OffsetCounter};
use super::machine::{load_avg, Machine};
use super::report::{java_row, rmq_row, Row};
use super::{format_duration, java, parse_duration, produce};

/// Options of `rmq bench compare-produce`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Concurrent senders (rmq tasks, Java threads).
    #[arg(short = 'c', long, default_value_t = 16)]
    concurrency: u64,
    /// Body size in bytes.
    #[arg(short = 's', long, default_value_t = 1024)]
    size: usize,
    /// Measured duration of each client run (after its warm-up).
    #[arg(short = 'd', long, value_parser = parse_duration, default_value = "30s")]
    duration: Duration,
    /// Warm-up of each client run, not measured. The Java Producer's throughput keeps climbing
    /// for about 25 s after its start on a 2-core machine (JIT compilation), hence 30 s.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    warmup: Duration,
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
    /// JVM flags of the Java Producer (whitespace-separated).
    #[arg(long, default_value = "-Xmx1g", allow_hyphen_values = true)]
    java_jvm_args: String,
    /// Run `rmq bench produce` this long before the measured runs to warm the brokers up (0 = no).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    broker_warmup: Duration,
    /// Which clients to run, in this order: `rmq` (ROCKETMQ binary headers, as the Java
    /// benchmark Producer forces), `rmq-json` (JSON headers, the client's default), `java`.
    /// Repeat names for more rounds; the default order (A B B A) cancels a steady drift of the
    /// cluster's speed, and the table adds the mean of each client's runs.
    #[arg(long, value_delimiter = ',', default_value = "rmq,java,java,rmq")]
    clients: Vec<String>,
    /// Write each client's output (with arrival times relative to its measured window) here.
    #[arg(long)]
    output_dir: Option<std::path::PathBuf>,
}

/// `rmq bench produce --json` (this executable) for one client run: `concurrency` senders of
/// `size`-byte bodies for `warmup` + `duration`, with `header` request headers.
pub(crate) fn produce_command(
    ns: &str,
    topic: &str,
    concurrency: u64,
    size: usize,
    warmup: Duration,
    duration: Duration,
    header: &str,
) -> anyhow::Result<std::process::Command> {
    let exe = std::env::current_exe().context("locating the rmq executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "produce", "--namesrv", ns, "--topic", topic, "--json"])
        .args(["-c", &concurrency.to_string(), "-s", &size.to_string()])
        .args([
            "-d",
            &format_duration(duration),
            "--warmup",
            &format_duration(warmup),
        ])
        .args(["--header", header]);
    Ok(cmd)
}

/// The Java benchmark Producer (rocketmq-example) with `jvm_args` (whitespace-separated):
/// `concurrency` threads sending `size`-byte bodies until it is killed.
pub(crate) fn java_producer_command(
    jvm_args: &str,
    cluster: Option<&Cluster>,
    ns: &str,
    topic: &str,
    concurrency: u64,
    size: usize,
) -> anyhow::Result<std::process::Command> {
    let jvm_args: Vec<&str> = jvm_args.split_whitespace().collect();
    let mut cmd = match cluster {
        Some(c) => c.java_command(java::PRODUCER_CLASS, &jvm_args),
        None => Runtime::resolve()?.java_command(java::PRODUCER_CLASS, &jvm_args),
    };
    cmd.args(["-t", topic, "-n", ns, "-ri", "1000"]).args([
        "-w",
        &concurrency.to_string(),
        "-s",
        &size.to_string(),
    ]);
    Ok(cmd)
}

/// `a` as a shell word: quoted when it holds anything but plain characters.
pub(crate) fn shell_quote(a: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c);
    if !a.is_empty() && a.chars().all(plain) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// The cluster a comparison runs on: the one at `namesrv` when given, else a local one started
/// here with `broker_heap` (stopped when the returned handle drops); with its name-server address.
pub(crate) async fn open_cluster(
    namesrv: Option<&str>,
    broker_heap: &str,
) -> anyhow::Result<(Option<Cluster>, String)> {
    if let Some(ns) = namesrv {
        return Ok((None, ns.to_string()));
    }
    eprintln!("• starting a local cluster (NameServer + 2 brokers, broker heap {broker_heap})…");
    let cluster = start_cluster(broker_heap).await?;
    let ns = cluster.namesrv_addr();
    Ok((Some(cluster), ns))
}

/// Starts the local cluster of the comparisons: rmq-testkit's NameServer + 2 brokers with `heap`
/// of heap (and of direct memory) each, C2 on.
pub(crate) async fn start_cluster(heap: &str) -> anyhow::Result<Cluster> {
    let options = ClusterOptions {
        broker_jvm_args: vec![
            format!("-Xms{heap}"),
            format!("-Xmx{heap}"),
            format!("-XX:MaxDirectMemorySize={heap}"),
            // The kit's default stops at C1 for a fast start; throughput wants C2.
            "-XX:TieredStopAtLevel=4".into(),
        ],
        ..ClusterOptions::default()
    };
    tokio::task::spawn_blocking(move || Cluster::start(options))
        .await?
        .context("starting the local cluster")
}

/// The cluster to create the benchmark topic in: `explicit` (`--cluster`), else the local one,
/// else the only one the name server knows.
pub(crate) async fn cluster_name(
    admin: &Admin,
    explicit: Option<&str>,
    local: Option<&Cluster>,
) -> anyhow::Result<String> {
    Ok(match (explicit, local) {
        (Some(name), _) => name.to_string(),
        (None, Some(c)) => c.cluster_name().to_string(),
        (None, None) => {
            let info = admin.cluster_info().await?;
            let mut names = info.cluster_addr_table.keys();
            match (names.next(), names.next()) {
                (Some(only), None) => only.clone(),
                _ => bail!("the name server knows several clusters (or none): pass --cluster"),
            }
        }
    })
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    for c in &args.clients {
        if !["rmq", "rmq-json", "java"].contains(&c.as_str()) {
            bail!("unknown client {c:?} in --clients (use rmq, rmq-json and java)");
        }
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
    let topic = format!("rmq_bench_{}", std::process::id());
    admin
        .create_topic_in_cluster(&cluster_name, &TopicSpec::new(&topic, args.queues))
        .await
        .with_context(|| format!("creating topic {topic}"))?;
    let route = admin.topic_route(&topic).await?;
    eprintln!(
        "• name server {ns}, topic {topic}: {} queues on {} brokers",
        route.publish_queues.len(),
        route.data.broker_datas.len()
    );
    let counter = OffsetCounter {
        admin,
        queues: route.subscribe_queues.clone(),
    };

    let rmq_marker: Arc<dyn Fn(&str) -> bool + Send + Sync> =
        Arc::new(|l: &str| l.starts_with(produce::START_MARKER));
    let java_marker: Arc<dyn Fn(&str) -> bool + Send + Sync> =
        Arc::new(|l: &str| l.starts_with(java::START_PREFIX));

    if !args.broker_warmup.is_zero() {
        eprintln!(
            "• warming the brokers up: rmq bench produce for {}…",
            format_duration(args.broker_warmup)
        );
        let cmd = produce_command(
            &ns,
            &topic,
            args.concurrency,
            args.size,
            Duration::ZERO,
            args.broker_warmup,
            "rocketmq",
        )?;
        let run = child::run(
            "broker warm-up",
            cmd,
            rmq_marker.clone(),
            Duration::ZERO,
            args.broker_warmup,
            Ending::ExitsItself,
            &counter,
        )
        .await?;
        eprintln!("  {} messages stored", run.broker_msgs);
    }

    let mut rows: Vec<Row> = Vec::new();
    for client in &args.clients {
        let (label, cmd, marker, ending) = match client.as_str() {
            "rmq" | "rmq-json" => {
                let (label, header) = match client.as_str() {
                    "rmq" => ("rmq (Rust)", "rocketmq"),
                    _ => ("rmq (Rust, JSON headers)", "json"),
                };
                let cmd = produce_command(
                    &ns,
                    &topic,
                    args.concurrency,
                    args.size,
                    args.warmup,
                    args.duration,
                    header,
                )?;
                (label, cmd, rmq_marker.clone(), Ending::ExitsItself)
            }
            _ => (
                "Java benchmark Producer",
                java_producer_command(
                    &args.java_jvm_args,
                    cluster.as_ref(),
                    &ns,
                    &topic,
                    args.concurrency,
                    args.size,
                )?,
                java_marker.clone(),
                Ending::Kill,
            ),
        };
        eprintln!(
            "• {label}: {} warm-up + {} measured, {} senders, {} B bodies…",
            format_duration(args.warmup),
            format_duration(args.duration),
            args.concurrency,
            args.size
        );
        let run = child::run(label, cmd, marker, args.warmup, args.duration, ending, &counter).await?;
        let row = match client.as_str() {
            "rmq" | "rmq-json" => rmq_row(label, &run)?,
            _ => java_row(label, &run)?,
        };
        eprintln!("  {}", row.one_line());
        if let Some(dir) = &args.output_dir {
            let path = dir.join(format!("{}-{client}.log", rows.len() + 1));
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, run.transcript()))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        rows.push(row);
    }
    let load_after = load_avg();

    println!();
    println!("{}", super::report::table(&rows));
    if let Some(ratios) = super::report::ratios(&rows) {
        println!("{ratios}");
        println!();
    }
    let date = super::report::utc_date(started_at);
    println!("- command: `{command_line}`");
    println!("- date: {date}");
    println!("- machine: {machine}");
    let fmt_load = |l: Option<super::machine::LoadAvg>| l.map_or("unknown".into(), |l| l.to_string());
    println!(
        "- load average (1/5/15 min): before {}, after {}",
        fmt_load(load_before),
        fmt_load(load_after)
    );
    println!(
        "- each client: {} warm-up, then {} measured; {} senders, {} B bodies, topic with {} queues per broker on {} brokers",
        format_duration(args.warmup),
        format_duration(args.duration),
        args.concurrency,
        args.size,
        args.queues,
        route.data.broker_datas.len()
    );
    if cluster.is_some() {
        println!(
            "- cluster: local Apache RocketMQ {} (rmq-testkit), ASYNC_FLUSH, broker heap {}, C2 on",
            rmq_testkit::ROCKETMQ_VERSION,
            args.broker_heap
        );
    }
    println!(
        "- rmq (Rust) sends ROCKETMQ binary request headers, as the Java benchmark Producer forces; \
         Java Producer JVM flags: {}",
        args.java_jvm_args
    );
    drop(cluster);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_shell_words() {
        assert_eq!(shell_quote("-d"), "-d");
        assert_eq!(shell_quote("127.0.0.1:9876"), "127.0.0.1:9876");
        assert_eq!(shell_quote("-Xms32m -Xmx256m"), "'-Xms32m -Xmx256m'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
