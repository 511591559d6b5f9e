//! `rmq`: the rocketmq-rs command line.
#![warn(missing_docs)]
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bench;
mod cmd;
mod common;
mod output;
mod quickstart;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command line for Apache RocketMQ, built on rocketmq-rs.
#[derive(Debug, Parser)]
#[command(
    name = "rmq",
    version,
    about,
    long_about = "Command line for Apache RocketMQ, built on rocketmq-rs.\n\n\
        Commands that talk to a cluster take -n/--namesrv (or NAMESRV_ADDR); without it they use \
        the cluster started by `rmq dev up`, else 127.0.0.1:9876. Most take --json.",
    after_help = "Get started:\n  rmq dev up\n  rmq send TopicTest 'hello'\n  rmq consume TopicTest -c 1\n  rmq dev down",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A local Apache RocketMQ (NameServer + broker) that keeps running: `up`, `status`, `down`.
    Dev(cmd::dev::Args),
    /// Send a message: body from an argument, a file or stdin; tags, keys, properties, delay.
    Send(cmd::send::Args),
    /// Consume and print messages (or JSON lines) until N messages, a timeout or Ctrl-C.
    Consume(cmd::consume::Args),
    /// Topics: `create`, `delete`, `route`, `list`.
    Topic(cmd::topic::Args),
    /// Clusters and brokers known to the name server.
    Cluster(cmd::cluster::Args),
    /// Consumer groups: `consumers` (who is online), `offsets` (per-queue lag).
    Group(cmd::group::Args),
    /// Messages: `get <id>`.
    Message(cmd::message::Args),
    /// Benchmarks: `rmq bench produce` (load generator with latency percentiles), `rmq bench
    /// consume` (drain a backlog), and `compare-produce` / `compare-consume` (side by side with the
    /// Java client).
    Bench(bench::Args),
    /// Start a temporary local Apache RocketMQ (NameServer + 2 brokers, from Maven Central
    /// artifacts), produce messages and consume them back, showing progress and a summary; then
    /// stop it.
    Quickstart(quickstart::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let label = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
                "\x1b[1;31merror:\x1b[0m"
            } else {
                "error:"
            };
            eprintln!("{label} {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(async move {
        match cli.command {
            Command::Dev(args) => cmd::dev::run(args).await,
            Command::Send(args) => cmd::send::run(args).await,
            Command::Consume(args) => cmd::consume::run(args).await,
            Command::Topic(args) => cmd::topic::run(args).await,
            Command::Cluster(args) => cmd::cluster::run(args).await,
            Command::Group(args) => cmd::group::run(args).await,
            Command::Message(args) => cmd::message::run(args).await,
            Command::Quickstart(args) => quickstart::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    // Listener calls left pending on purpose (`consume -c N`) must not hold the exit up.
    rt.shutdown_background();
    result
}
