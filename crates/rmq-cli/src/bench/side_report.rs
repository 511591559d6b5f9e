//! `side-by-side`'s summary: one markdown table with each client's mean per workload, its ratios
//! to the Java client, and the goals checked against them.

use super::consume_report::ConsumeRow;
use super::report::Row;

/// Which client library a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Client {
    /// This repository's client (`rmq bench produce` / `rmq bench consume`).
    Rmq,
    /// The Java client (the rocketmq-example benchmark Producer / `RmqBenchConsumer`).
    Java,
    /// The Go client (`bench/go`).
    Go,
}

/// The two workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Produce,
    Consume,
}

/// One client run, reduced to the summary's figures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) workload: Workload,
    pub(crate) client: Client,
    pub(crate) label: String,
    pub(crate) msgs_per_sec: f64,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) cpu_per_100k: Option<f64>,
    pub(crate) peak_rss_mib: Option<f64>,
}

impl Entry {
    /// A produce run: broker-counted throughput (the same yardstick for every client).
    pub(crate) fn produce(client: Client, row: &Row) -> Entry {
        Entry {
            workload: Workload::Produce,
            client,
            label: row.label.clone(),
            msgs_per_sec: row.broker_tps,
            p99_ms: row.p99_ms,
            cpu_per_100k: row.cpu_per_100k,
            peak_rss_mib: row.peak_rss_mib,
        }
    }

    /// A drain: messages over the time from `start()` to the last message.
    pub(crate) fn consume(client: Client, row: &ConsumeRow) -> Entry {
        Entry {
            workload: Workload::Consume,
            client,
            label: row.label.clone(),
            msgs_per_sec: if row.drained { row.msgs_per_sec } else { 0.0 },
            p99_ms: None,
            cpu_per_100k: row.cpu_per_100k,
            peak_rss_mib: row.peak_rss_mib,
        }
    }
}

/// A client's runs of one workload: mean throughput, p99 and CPU, the largest peak RSS.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    workload: Workload,
    client: Client,
    label: String,
    runs: usize,
    msgs_per_sec: f64,
    p99_ms: Option<f64>,
    cpu_per_100k: Option<f64>,
    peak_rss_mib: Option<f64>,
}

fn summarize(entries: &[Entry]) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for e in entries {
        if out
            .iter()
            .any(|s| s.workload == e.workload && s.client == e.client)
        {
            continue;
        }
        let runs: Vec<&Entry> = entries
            .iter()
            .filter(|r| r.workload == e.workload && r.client == e.client)
            .collect();
        let n = runs.len() as f64;
        let mean = |f: fn(&Entry) -> Option<f64>| {
            let v: Vec<f64> = runs.iter().filter_map(|r| f(r)).collect();
            (v.len() == runs.len()).then(|| v.iter().sum::<f64>() / n)
        };
        out.push(Summary {
            workload: e.workload,
            client: e.client,
            label: e.label.clone(),
            runs: runs.len(),
            msgs_per_sec: runs.iter().map(|r| r.msgs_per_sec).sum::<f64>() / n,
            p99_ms: mean(|r| r.p99_ms),
            cpu_per_100k: mean(|r| r.cpu_per_100k),
            peak_rss_mib: runs.iter().filter_map(|r| r.peak_rss_mib).reduce(f64::max),
        });
    }
    out
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.decimals$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn times(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}×"))
}

/// The summary table (one row per workload and client, in the order they first ran), then one
/// line per workload with the goals: rmq ahead of Java and Go on throughput, at most a third of
/// Java's CPU per message and a tenth of its peak RSS.
pub(crate) fn summary(entries: &[Entry], workload_names: [&str; 2]) -> String {
    let rows = summarize(entries);
    let mut out = String::from(
        "| workload | client | runs | msgs/s | p99 ms | CPU s / 100k msgs | peak RSS MiB | msgs/s ÷ Java | CPU ÷ Java | RSS ÷ Java |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let name = |w: Workload| match w {
        Workload::Produce => workload_names[0],
        Workload::Consume => workload_names[1],
    };
    let find = |w: Workload, c: Client| rows.iter().find(|s| s.workload == w && s.client == c);
    for s in &rows {
        let java = find(s.workload, Client::Java);
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |\n",
            name(s.workload),
            s.label,
            s.runs,
            s.msgs_per_sec,
            opt(s.p99_ms, 2),
            opt(s.cpu_per_100k, 2),
            opt(s.peak_rss_mib, 1),
            times(ratio(Some(s.msgs_per_sec), java.map(|j| j.msgs_per_sec))),
            times(ratio(s.cpu_per_100k, java.and_then(|j| j.cpu_per_100k))),
            times(ratio(s.peak_rss_mib, java.and_then(|j| j.peak_rss_mib))),
        ));
    }
    out.push('\n');
    for w in [Workload::Produce, Workload::Consume] {
        let Some(rmq) = find(w, Client::Rmq) else { continue };
        let mut goals = Vec::new();
        let mut ahead = Vec::new();
        for (other, who) in [(Client::Java, "Java"), (Client::Go, "Go")] {
            if let Some(o) = find(w, other) {
                let r = rmq.msgs_per_sec / o.msgs_per_sec.max(f64::MIN_POSITIVE);
                ahead.push((format!("{r:.2}× {who}'s"), r > 1.0));
            }
        }
        if !ahead.is_empty() {
            let met = ahead.iter().all(|(_, ok)| *ok);
            let what: Vec<&str> = ahead.iter().map(|(t, _)| t.as_str()).collect();
            goals.push(format!(
                "throughput {} (goal: ahead of both) **{}**",
                what.join(", "),
                verdict(met)
            ));
        }
        if let Some(java) = find(w, Client::Java) {
            for (what, r, goal, goal_text) in [
                (
                    "CPU per message",
                    ratio(rmq.cpu_per_100k, java.cpu_per_100k),
                    1.0 / 3.0,
                    "0.33",
                ),
                (
                    "peak RSS",
                    ratio(rmq.peak_rss_mib, java.peak_rss_mib),
                    0.10,
                    "0.10",
                ),
            ] {
                if let Some(r) = r {
                    goals.push(format!(
                        "{what} {r:.2}× Java's (goal ≤ {goal_text}) **{}**",
                        verdict(r <= goal)
                    ));
                }
            }
        }
        if !goals.is_empty() {
            out.push_str(&format!("- {}, rmq: {}\n", name(w), goals.join("; ")));
        }
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "not met"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(workload: Workload, client: Client, tps: f64, cpu: f64, rss: f64) -> Entry {
        Entry {
            workload,
            client,
            label: format!("{client:?}"),
            msgs_per_sec: tps,
            p99_ms: (workload == Workload::Produce).then_some(2.0),
            cpu_per_100k: Some(cpu),
            peak_rss_mib: Some(rss),
        }
    }

    #[test]
    fn means_ratios_and_goals() {
        use Client::*;
        use Workload::*;
        let entries = [
            entry(Produce, Rmq, 20_000.0, 1.0, 10.0),
            entry(Produce, Java, 10_000.0, 4.0, 300.0),
            entry(Produce, Go, 12_000.0, 3.0, 40.0),
            entry(Produce, Rmq, 10_000.0, 2.0, 12.0),
            entry(Consume, Java, 50_000.0, 2.0, 400.0),
            entry(Consume, Rmq, 40_000.0, 1.0, 20.0),
        ];
        let s = summary(&entries, ["produce", "consume"]);
        let lines: Vec<&str> = s.lines().collect();
        // header, separator, 3 produce rows, 2 consume rows, blank, 2 goal lines
        assert_eq!(lines.len(), 10, "{s}");
        assert_eq!(
            lines[2],
            "| produce | Rmq | 2 | 15000 | 2.00 | 1.50 | 12.0 | 1.50× | 0.38× | 0.04× |"
        );
        assert_eq!(
            lines[3],
            "| produce | Java | 1 | 10000 | 2.00 | 4.00 | 300.0 | 1.00× | 1.00× | 1.00× |"
        );
        assert_eq!(
            lines[5],
            "| consume | Java | 1 | 50000 | n/a | 2.00 | 400.0 | 1.00× | 1.00× | 1.00× |"
        );
        assert_eq!(
            lines[8],
            "- produce, rmq: throughput 1.50× Java's, 1.25× Go's (goal: ahead of both) **met**; \
             CPU per message 0.38× Java's (goal ≤ 0.33) **not met**; peak RSS 0.04× Java's (goal ≤ 0.10) **met**"
        );
        assert!(lines[9].starts_with("- consume, rmq: throughput 0.80× Java's (goal: ahead of both) **not met**; CPU per message 0.50×"), "{s}");
    }
}
