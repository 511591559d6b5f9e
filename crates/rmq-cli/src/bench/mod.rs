//! `rmq bench`: load generators and a side-by-side comparison with the Java benchmark tools.

mod backlog;
mod child;
mod compare;
mod compare_consume;
mod consume;
mod consume_report;
mod drain;
mod go;
mod java;
mod java_consumer;
mod machine;
mod proc;
mod produce;
mod report;
mod side_by_side;
mod side_report;
mod stats;

use std::time::Duration;

use anyhow::{bail, Context};

/// Options of `rmq bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Send messages from N concurrent tasks for a while (or a count) and report throughput and
    /// send latency percentiles.
    Produce(produce::Args),
    /// Run `rmq bench produce` and the Java benchmark Producer one after the other against the
    /// same cluster (a local one unless --namesrv is given) and print a comparison table with
    /// throughput, latency, client CPU per message and client peak memory.
    CompareProduce(compare::Args),
    /// Drain a topic's backlog with a new consumer group (from its first offset) and a listener
    /// that does nothing; report the time to the first message and the drain rate.
    Consume(consume::Args),
    /// Fill a topic with a backlog (1M × 1 KiB by default), then drain it with `rmq bench consume`
    /// and with Java's `DefaultMQPushConsumer`, one after the other, each with a new group, and
    /// print a comparison table: drain rate, time to the first message, client CPU per message and
    /// client peak memory.
    CompareConsume(compare_consume::Args),
    /// Run the same produce (1 KiB, 16 concurrent) and consume (drain 1M × 1 KiB) workloads with
    /// rmq, the Java client and the Go client (`bench/go`, built by
    /// `scripts/bench-side-by-side`) on one cluster, and print one markdown table: msgs/s, p99,
    /// client CPU per 100k messages, client peak RSS, and ratios to Java.
    SideBySide(Box<side_by_side::Args>),
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Produce(args) => produce::run(args).await,
        BenchCommand::CompareProduce(args) => compare::run(args).await,
        BenchCommand::Consume(args) => consume::run(args).await,
        BenchCommand::CompareConsume(args) => compare_consume::run(args).await,
        BenchCommand::SideBySide(args) => side_by_side::run(*args).await,
    }
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a bare number of seconds (`1.5`).
pub(crate) fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("invalid duration {s:?} (examples: 30s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("invalid duration unit {other:?} in {s:?} (use ms, s, m or h)"),
    };
    if !secs.is_finite() || secs < 0.0 {
        bail!("invalid duration {s:?}");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `Duration` back into the flag syntax [`parse_duration`] reads.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() -> anyhow::Result<()> {
        assert_eq!(parse_duration("30s")?, Duration::from_secs(30));
        assert_eq!(parse_duration("30")?, Duration::from_secs(30));
        assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
        assert_eq!(parse_duration("2m")?, Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s")?, Duration::from_millis(1500));
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        Ok(())
    }
}
