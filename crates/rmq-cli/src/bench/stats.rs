//! Latency histograms and the summary `rmq bench produce` prints (as text or one JSON object).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency the histogram tracks exactly (larger values are clamped): 10 minutes, in µs.
const MAX_TRACKED_US: u64 = 600_000_000;

/// Send latencies at microsecond resolution, 3 significant digits.
#[derive(Debug, Clone)]
pub(crate) struct Latencies {
    hist: Histogram<u64>,
}

impl Latencies {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let hist = Histogram::new_with_bounds(1, MAX_TRACKED_US, 3)
            .map_err(|e| anyhow::anyhow!("creating the latency histogram: {e}"))?;
        Ok(Latencies { hist })
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.hist.saturating_record(us.clamp(1, MAX_TRACKED_US));
    }

    pub(crate) fn merge(&mut self, other: &Latencies) -> anyhow::Result<()> {
        self.hist
            .add(&other.hist)
            .map_err(|e| anyhow::anyhow!("merging latency histograms: {e}"))
    }

    pub(crate) fn percentiles(&self) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1e3;
        let q = |q: f64| ms(self.hist.value_at_quantile(q));
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            mean_ms: self.hist.mean() / 1e3,
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: ms(self.hist.max()),
        }
    }
}

/// Latency percentiles in milliseconds (microsecond resolution).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct LatencySummary {
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
}

/// What one `rmq bench produce` run measured, warm-up excluded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ProduceSummary {
    pub(crate) topic: String,
    pub(crate) concurrency: u64,
    pub(crate) body_bytes: usize,
    /// Request header encoding (`Json` or `RocketMq`).
    #[serde(default)]
    pub(crate) header: String,
    pub(crate) warmup_secs: f64,
    /// Length of the measured window.
    pub(crate) measured_secs: f64,
    /// Messages acknowledged by a broker within the measured window.
    pub(crate) msgs: u64,
    pub(crate) msgs_per_sec: f64,
    /// Body bytes per second, in 10^6 bytes.
    pub(crate) mb_per_sec: f64,
    /// Failed sends within the measured window.
    pub(crate) errors: u64,
    /// Messages acknowledged during the warm-up (not in the statistics).
    pub(crate) warmup_msgs: u64,
    /// The first error message seen, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) first_error: Option<String>,
    pub(crate) latency: LatencySummary,
}

impl ProduceSummary {
    pub(crate) fn print_text(&self) {
        let l = &self.latency;
        println!(
            "rmq bench produce: topic {}, {} concurrent senders, {} B bodies, {} headers, {:.0}s warm-up excluded",
            self.topic, self.concurrency, self.body_bytes, self.header, self.warmup_secs
        );
        println!(
            "  messages   {} in {:.2}s = {:.0} msg/s, {:.2} MB/s of bodies",
            self.msgs, self.measured_secs, self.msgs_per_sec, self.mb_per_sec
        );
        println!("  errors     {}", self.errors);
        if let Some(e) = &self.first_error {
            println!("  first error: {e}");
        }
        println!(
            "  latency ms p50 {:.3} | p90 {:.3} | p99 {:.3} | p99.9 {:.3} | max {:.3} | mean {:.3}",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_at_microsecond_resolution() -> anyhow::Result<()> {
        let mut a = Latencies::new()?;
        let mut b = Latencies::new()?;
        for us in 1..=1000u64 {
            a.record(Duration::from_micros(us));
        }
        b.record(Duration::from_millis(250));
        a.merge(&b)?;
        let p = a.percentiles();
        assert!((p.p50_ms - 0.5).abs() < 0.002, "{p:?}");
        assert!((p.p99_ms - 0.99).abs() < 0.002, "{p:?}");
        assert!((p.max_ms - 250.0).abs() < 0.3, "{p:?}");
        assert_eq!(Latencies::new()?.percentiles(), LatencySummary::default());
        Ok(())
    }

    #[test]
    fn summary_round_trips_through_json() -> anyhow::Result<()> {
        let s = ProduceSummary {
            topic: "t".into(),
            concurrency: 16,
            body_bytes: 1024,
            header: "RocketMq".into(),
            warmup_secs: 5.0,
            measured_secs: 30.0,
            msgs: 300_000,
            msgs_per_sec: 10_000.0,
            mb_per_sec: 10.24,
            errors: 0,
            warmup_msgs: 40_000,
            first_error: None,
            latency: LatencySummary::default(),
        };
        let json = serde_json::to_string(&s)?;
        assert!(!json.contains("first_error"));
        assert_eq!(serde_json::from_str::<ProduceSummary>(&json)?, s);
        Ok(())
    }
}
