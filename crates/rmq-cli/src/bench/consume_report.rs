//! Turns draining child runs into table rows and prints `compare-consume`'s table.

use anyhow::bail;

use super::consume::ConsumeSummary;
use super::drain::DrainRun;

/// One drain's measurements.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsumeRow {
    pub(crate) label: String,
    pub(crate) msgs: u64,
    pub(crate) drained: bool,
    pub(crate) start_call_ms: f64,
    pub(crate) first_msg_ms: Option<f64>,
    /// From calling `start()` to the last message.
    pub(crate) drain_secs: f64,
    pub(crate) msgs_per_sec: f64,
    /// utime + stime from the line printed before `start()` to the last message.
    pub(crate) cpu_drain_secs: Option<f64>,
    pub(crate) cpu_per_100k: Option<f64>,
    /// utime + stime over the whole process life (JVM or runtime start-up and shutdown included).
    pub(crate) cpu_total_secs: Option<f64>,
    pub(crate) peak_rss_mib: Option<f64>,
}

impl ConsumeRow {
    /// The row of a child that printed a [`ConsumeSummary`] line on stdout.
    pub(crate) fn from_run(label: &str, run: &DrainRun) -> anyhow::Result<ConsumeRow> {
        let summary = run
            .stdout()
            .filter_map(|l| serde_json::from_str::<ConsumeSummary>(&l.text).ok())
            .last();
        let Some(s) = summary else {
            bail!(
                "{label} (pid {}) printed no summary (exit: {:?}):\n{}",
                run.pid,
                run.status,
                run.tail(30)
            );
        };
        let cpu_drain_secs = run.cpu_drain_secs();
        let counted = s.msgs.min(s.target);
        Ok(ConsumeRow {
            label: label.to_string(),
            msgs: s.msgs,
            drained: s.drained,
            start_call_ms: s.start_call_ms,
            first_msg_ms: s.first_msg_ms,
            drain_secs: s.drain_secs,
            msgs_per_sec: s.msgs_per_sec,
            cpu_drain_secs,
            cpu_per_100k: cpu_drain_secs
                .filter(|_| counted > 0)
                .map(|c| c / counted as f64 * 1e5),
            cpu_total_secs: run.last.map(|l| l.cpu_secs),
            peak_rss_mib: run.last.map(|l| l.peak_rss_kib as f64 / 1024.0),
        })
    }

    pub(crate) fn one_line(&self) -> String {
        format!(
            "{} msgs in {:.2} s = {:.0} msg/s{}, first after {} ms, CPU {} s per 100k msgs, peak RSS {} MiB",
            self.msgs,
            self.drain_secs,
            self.msgs_per_sec,
            if self.drained { "" } else { " (NOT drained)" },
            opt(self.first_msg_ms, 0),
            opt(self.cpu_per_100k, 2),
            opt(self.peak_rss_mib, 1)
        )
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.decimals$}"))
}

/// The markdown table of all rows, plus the mean of each label that ran more than once.
pub(crate) fn table(rows: &[ConsumeRow]) -> String {
    let mut out = String::from(
        "| client | messages | start() ms | first message ms | drain s | msgs/s | CPU s in drain | CPU s / 100k msgs | CPU s whole life | peak RSS MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows.iter().chain(means(rows).iter()) {
        out.push_str(&format!(
            "| {}{} | {} | {:.0} | {} | {:.2} | {:.0} | {} | {} | {} | {} |\n",
            r.label,
            if r.drained { "" } else { " (not drained)" },
            r.msgs,
            r.start_call_ms,
            opt(r.first_msg_ms, 0),
            r.drain_secs,
            r.msgs_per_sec,
            opt(r.cpu_drain_secs, 2),
            opt(r.cpu_per_100k, 2),
            opt(r.cpu_total_secs, 2),
            opt(r.peak_rss_mib, 1),
        ));
    }
    out
}

/// One row per label with the mean of its runs (the largest peak RSS), for labels that ran more
/// than once.
pub(crate) fn means(rows: &[ConsumeRow]) -> Vec<ConsumeRow> {
    let mut labels: Vec<&str> = Vec::new();
    for r in rows {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let mut out = Vec::new();
    for label in labels {
        let runs: Vec<&ConsumeRow> = rows.iter().filter(|r| r.label == label).collect();
        if runs.len() < 2 {
            continue;
        }
        let n = runs.len() as f64;
        let mean = |f: fn(&ConsumeRow) -> f64| runs.iter().map(|r| f(r)).sum::<f64>() / n;
        let mean_opt = |f: fn(&ConsumeRow) -> Option<f64>| {
            let v: Vec<f64> = runs.iter().filter_map(|r| f(r)).collect();
            (v.len() == runs.len()).then(|| v.iter().sum::<f64>() / n)
        };
        out.push(ConsumeRow {
            label: format!("**{label}, mean of {}**", runs.len()),
            msgs: (runs.iter().map(|r| r.msgs).sum::<u64>() as f64 / n).round() as u64,
            drained: runs.iter().all(|r| r.drained),
            start_call_ms: mean(|r| r.start_call_ms),
            first_msg_ms: mean_opt(|r| r.first_msg_ms),
            drain_secs: mean(|r| r.drain_secs),
            msgs_per_sec: mean(|r| r.msgs_per_sec),
            cpu_drain_secs: mean_opt(|r| r.cpu_drain_secs),
            cpu_per_100k: mean_opt(|r| r.cpu_per_100k),
            cpu_total_secs: mean_opt(|r| r.cpu_total_secs),
            peak_rss_mib: runs.iter().filter_map(|r| r.peak_rss_mib).reduce(f64::max),
        });
    }
    out
}

/// `rmq ÷ Java` against the goals, when both ran (from the means when a client ran more
/// than once).
pub(crate) fn ratios(rows: &[ConsumeRow]) -> Option<String> {
    let means = means(rows);
    let pick = |prefix: &str| {
        let bold = format!("**{prefix}");
        means
            .iter()
            .find(|r| r.label.starts_with(&bold))
            .or_else(|| rows.iter().find(|r| r.label.starts_with(prefix)))
    };
    let rmq = pick("rmq (Rust)")?;
    let java = pick("Java")?;
    let div = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "n/a".into(),
    };
    Some(format!(
        "rmq ÷ Java: throughput {} (goal ≥ 1), CPU per message {} (goal ≤ 0.33), peak RSS {} (goal ≤ 0.20); \
         rmq's first message after {} ms (goal ≤ 1000), Java's after {} ms",
        div(Some(rmq.msgs_per_sec), Some(java.msgs_per_sec)),
        div(rmq.cpu_per_100k, java.cpu_per_100k),
        div(rmq.peak_rss_mib, java.peak_rss_mib),
        opt(rmq.first_msg_ms, 0),
        opt(java.first_msg_ms, 0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, tps: f64, cpu: f64, rss: f64, first: f64) -> ConsumeRow {
        ConsumeRow {
            label: label.into(),
            msgs: 1000,
            drained: true,
            msgs_per_sec: tps,
            cpu_per_100k: Some(cpu),
            peak_rss_mib: Some(rss),
            first_msg_ms: Some(first),
            ..ConsumeRow::default()
        }
    }

    #[test]
    fn table_means_and_ratios() {
        let rows = [
            row("rmq (Rust)", 30_000.0, 1.0, 20.0, 50.0),
            row("Java benchmark Consumer", 20_000.0, 4.0, 200.0, 900.0),
            row("rmq (Rust)", 10_000.0, 2.0, 30.0, 150.0),
        ];
        let t = table(&rows);
        assert_eq!(t.lines().count(), 2 + 3 + 1, "{t}");
        assert!(
            t.contains("| **rmq (Rust), mean of 2** | 1000 | 0 | 100 | 0.00 | 20000 | n/a | 1.50 |"),
            "{t}"
        );
        let r = ratios(&rows).unwrap_or_default();
        assert!(
            r.contains("throughput 1.00×")
                && r.contains("CPU per message 0.38×")
                && r.contains("peak RSS 0.15×")
                && r.contains("first message after 100 ms"),
            "{r}"
        );
        assert!(ratios(&rows[..1]).is_none());
        let mut partial = row("Java", 1.0, 1.0, 1.0, 1.0);
        partial.drained = false;
        assert!(table(&[partial]).contains("| Java (not drained) |"));
    }
}
