//! `rmq`: the rocketmq-rs command line.
#![warn(missing_docs)]
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bench;
mod quickstart;

use clap::{Parser, Subcommand};

/// Command line for Apache RocketMQ, built on rocketmq-rs.
#[derive(Debug, Parser)]
#[command(name = "rmq", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a local Apache RocketMQ (NameServer + 2 brokers, from Maven Central artifacts), produce
    /// messages and consume them back, showing progress and a summary; then stop it.
    Quickstart(quickstart::Args),
    /// Benchmarks: `rmq bench produce` (load generator with latency percentiles), `rmq bench
    /// consume` (drain a backlog), and `compare-produce` / `compare-consume` (side by side with the
    /// Java client).
    Bench(bench::Args),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Quickstart(args) => quickstart::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    })
}
