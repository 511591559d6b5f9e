//! Turns child runs into table rows and prints the comparison table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;

use super::child::ChildRun;
use super::java::{parse_report, JavaReport};
use super::stats::ProduceSummary;

/// One client's measurements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) label: String,
    /// Messages stored by the brokers during the window, per second.
    pub(crate) broker_tps: f64,
    /// Throughput as the client itself reports it.
    pub(crate) client_tps: Option<f64>,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) avg_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
    pub(crate) errors: Option<u64>,
    /// utime + stime during the window.
    pub(crate) cpu_window_secs: Option<f64>,
    pub(crate) cpu_per_100k: Option<f64>,
    /// utime + stime over the whole process life (start-up and warm-up included).
    pub(crate) cpu_total_secs: Option<f64>,
    pub(crate) peak_rss_mib: Option<f64>,
}

impl Row {
    fn from_run(label: &str, run: &ChildRun) -> Row {
        let cpu_window_secs = run.cpu_window_secs();
        let cpu_per_100k = cpu_window_secs
            .filter(|_| run.broker_msgs > 0)
            .map(|c| c / run.broker_msgs as f64 * 1e5);
        Row {
            label: label.to_string(),
            broker_tps: if run.broker_secs > 0.0 {
                run.broker_msgs as f64 / run.broker_secs
            } else {
                0.0
            },
            cpu_window_secs,
            cpu_per_100k,
            cpu_total_secs: run.last.map(|s| s.cpu_secs),
            peak_rss_mib: run.last.map(|s| s.peak_rss_kib as f64 / 1024.0),
            ..Row::default()
        }
    }

    pub(crate) fn one_line(&self) -> String {
        format!(
            "{:.0} msg/s stored by the brokers, client says {} msg/s, CPU {} s per 100k msgs, peak RSS {} MiB",
            self.broker_tps,
            opt(self.client_tps, 0),
            opt(self.cpu_per_100k, 2),
            opt(self.peak_rss_mib, 1)
        )
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.decimals$}"))
}

/// The row of an `rmq bench produce --json` child.
pub(crate) fn rmq_row(label: &str, run: &ChildRun) -> anyhow::Result<Row> {
    let summary = run
        .stdout()
        .filter_map(|l| serde_json::from_str::<ProduceSummary>(&l.text).ok())
        .last();
    let Some(s) = summary else {
        bail!(
            "{label} (pid {}) printed no summary (exit: {:?}):\n{}",
            run.pid,
            run.status,
            run.tail(30)
        );
    };
    Ok(Row {
        client_tps: Some(s.msgs_per_sec),
        p50_ms: Some(s.latency.p50_ms),
        p99_ms: Some(s.latency.p99_ms),
        avg_ms: Some(s.latency.mean_ms),
        max_ms: Some(s.latency.max_ms),
        errors: Some(s.errors),
        ..Row::from_run(label, run)
    })
}

/// The row of a Java benchmark Producer child: the mean of its report lines whose ~10 s window
/// lies inside the measured window (or, for short runs, of every line in it).
pub(crate) fn java_row(label: &str, run: &ChildRun) -> anyhow::Result<Row> {
    let reports: Vec<(Duration, JavaReport)> = run
        .stdout()
        .filter(|l| l.at >= run.t0 && l.at <= run.t1 + Duration::from_millis(500))
        .filter_map(|l| Some((l.at - run.t0, parse_report(&l.text)?)))
        .collect();
    let full: Vec<JavaReport> = reports
        .iter()
        .filter(|(after, _)| *after >= Duration::from_secs(10))
        .map(|(_, r)| *r)
        .collect();
    let used: Vec<JavaReport> = if full.is_empty() {
        reports.iter().map(|(_, r)| *r).collect()
    } else {
        full
    };
    let mut row = Row::from_run(label, run);
    let Some(last) = used.last() else {
        // It reports only once it has ten 1-second snapshots: a short run may have none.
        eprintln!(
            "  ({label} printed no `Send TPS` line in the measured window; run longer for its own figures)"
        );
        return Ok(row);
    };
    let mean = |f: fn(&JavaReport) -> f64| used.iter().map(f).sum::<f64>() / used.len() as f64;
    row.client_tps = Some(mean(|r| r.send_tps));
    row.avg_ms = Some(mean(|r| r.avg_rt_ms));
    row.max_ms = Some(last.max_rt_ms);
    row.errors = Some(last.send_failed + last.response_failed);
    Ok(row)
}

/// The markdown table of all rows.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| client | msgs/s (broker-counted) | msgs/s (client-reported) | p50 ms | p99 ms | avg ms | max ms | errors | CPU s in window | CPU s / 100k msgs | CPU s whole life | peak RSS MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows.iter().chain(means(rows).iter()) {
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.label,
            r.broker_tps,
            opt(r.client_tps, 0),
            opt(r.p50_ms, 3),
            opt(r.p99_ms, 3),
            opt(r.avg_ms, 3),
            opt(r.max_ms, 3),
            r.errors.map_or_else(|| "n/a".into(), |e| e.to_string()),
            opt(r.cpu_window_secs, 2),
            opt(r.cpu_per_100k, 2),
            opt(r.cpu_total_secs, 2),
            opt(r.peak_rss_mib, 1),
        ));
    }
    out
}

/// One row per label with the mean of its runs (the sum of errors, the largest max), for the
/// labels that ran more than once.
pub(crate) fn means(rows: &[Row]) -> Vec<Row> {
    let mut labels: Vec<&str> = Vec::new();
    for r in rows {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let mut out = Vec::new();
    for label in labels {
        let runs: Vec<&Row> = rows.iter().filter(|r| r.label == label).collect();
        if runs.len() < 2 {
            continue;
        }
        let n = runs.len() as f64;
        let mean = |f: fn(&Row) -> Option<f64>| {
            let v: Vec<f64> = runs.iter().filter_map(|r| f(r)).collect();
            (v.len() == runs.len()).then(|| v.iter().sum::<f64>() / n)
        };
        out.push(Row {
            label: format!("**{label}, mean of {}**", runs.len()),
            broker_tps: runs.iter().map(|r| r.broker_tps).sum::<f64>() / n,
            client_tps: mean(|r| r.client_tps),
            p50_ms: mean(|r| r.p50_ms),
            p99_ms: mean(|r| r.p99_ms),
            avg_ms: mean(|r| r.avg_ms),
            max_ms: runs.iter().filter_map(|r| r.max_ms).reduce(f64::max),
            errors: runs.iter().map(|r| r.errors).sum(),
            cpu_window_secs: mean(|r| r.cpu_window_secs),
            cpu_per_100k: mean(|r| r.cpu_per_100k),
            cpu_total_secs: mean(|r| r.cpu_total_secs),
            peak_rss_mib: runs.iter().filter_map(|r| r.peak_rss_mib).reduce(f64::max),
        });
    }
    out
}

/// `rmq ÷ Java` for throughput, CPU per message and peak memory, when both ran (from the means
/// when a client ran more than once).
pub(crate) fn ratios(rows: &[Row]) -> Option<String> {
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
        "rmq ÷ Java: throughput {} (goal ≥ 1), CPU per message {} (goal ≤ 0.33), peak RSS {} (goal ≤ 0.10)",
        div(Some(rmq.broker_tps), Some(java.broker_tps)),
        div(rmq.cpu_per_100k, java.cpu_per_100k),
        div(rmq.peak_rss_mib, java.peak_rss_mib)
    ))
}

/// `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn utc_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm), for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(utc_date(t), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn table_and_ratios() {
        let rmq = Row {
            label: "rmq (Rust)".into(),
            broker_tps: 20_000.0,
            cpu_per_100k: Some(1.0),
            peak_rss_mib: Some(10.0),
            ..Row::default()
        };
        let java = Row {
            label: "Java benchmark Producer".into(),
            broker_tps: 10_000.0,
            cpu_per_100k: Some(4.0),
            peak_rss_mib: Some(200.0),
            ..Row::default()
        };
        let t = table(&[rmq.clone(), java.clone()]);
        assert_eq!(t.lines().count(), 4);
        let slower = Row {
            broker_tps: 10_000.0,
            peak_rss_mib: Some(12.0),
            ..rmq.clone()
        };
        let m = means(&[rmq.clone(), java.clone(), slower]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].label, "**rmq (Rust), mean of 2**");
        assert_eq!((m[0].broker_tps, m[0].peak_rss_mib), (15_000.0, Some(12.0)));
        assert!(t.contains("| rmq (Rust) | 20000 | n/a |"));
        let r = ratios(&[rmq, java]).unwrap_or_default();
        assert!(
            r.contains("throughput 2.00×")
                && r.contains("CPU per message 0.25×")
                && r.contains("peak RSS 0.05×"),
            "{r}"
        );
    }
}
