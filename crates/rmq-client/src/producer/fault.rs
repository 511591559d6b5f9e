//! Latency fault tolerance: brokers that recently failed or answered slowly are avoided for a while.
//!
//! The table is the Java client's `MQFaultStrategy`: a send that took at least `LATENCY_MAX[i]` makes its
//! broker unavailable for `NOT_AVAILABLE[i]`; a failed send counts as a 10 s latency ("isolation"), so the
//! broker is avoided for 3 minutes or until a later send to it succeeds quickly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

const LATENCY_MAX_MS: [u64; 7] = [50, 100, 550, 1_000, 2_000, 3_000, 15_000];
const NOT_AVAILABLE_MS: [u64; 7] = [0, 0, 30_000, 60_000, 120_000, 180_000, 600_000];
/// The latency a failed send counts as.
const ISOLATION_LATENCY_MS: u64 = 10_000;

/// How long a broker is avoided after a send that took `latency`.
pub(crate) fn not_available_for(latency: Duration) -> Duration {
    let ms = latency.as_millis() as u64;
    for i in (0..LATENCY_MAX_MS.len()).rev() {
        if ms >= LATENCY_MAX_MS[i] {
            return Duration::from_millis(NOT_AVAILABLE_MS[i]);
        }
    }
    Duration::ZERO
}

/// Broker name → the instant until which it should be avoided.
#[derive(Debug, Default)]
pub(crate) struct LatencyFaultTolerance {
    until: Mutex<HashMap<String, Instant>>,
}

impl LatencyFaultTolerance {
    /// Record a send to `broker` that took `latency` (`failed` = it failed or timed out).
    pub(crate) fn update(&self, broker: &str, latency: Duration, failed: bool) {
        let latency = if failed {
            Duration::from_millis(ISOLATION_LATENCY_MS).max(latency)
        } else {
            latency
        };
        let avoid = not_available_for(latency);
        if let Ok(mut m) = self.until.lock() {
            if avoid.is_zero() {
                m.remove(broker);
            } else {
                m.insert(broker.to_owned(), Instant::now() + avoid);
            }
        }
    }

    /// Whether `broker` may be used now.
    pub(crate) fn is_available(&self, broker: &str) -> bool {
        match self.until.lock() {
            Ok(m) => m.get(broker).is_none_or(|t| *t <= Instant::now()),
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_java() {
        assert_eq!(not_available_for(Duration::from_millis(10)), Duration::ZERO);
        assert_eq!(
            not_available_for(Duration::from_millis(600)),
            Duration::from_secs(30)
        );
        assert_eq!(
            not_available_for(Duration::from_millis(3_000)),
            Duration::from_secs(180)
        );
        assert_eq!(
            not_available_for(Duration::from_millis(20_000)),
            Duration::from_secs(600)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failed_broker_is_avoided_then_recovers() {
        let f = LatencyFaultTolerance::default();
        f.update("a", Duration::from_millis(5), true);
        assert!(!f.is_available("a"));
        assert!(f.is_available("b"));
        tokio::time::advance(Duration::from_secs(181)).await;
        assert!(f.is_available("a"));
        f.update("a", Duration::from_millis(5), true);
        f.update("a", Duration::from_millis(5), false);
        assert!(f.is_available("a"), "a quick success clears the penalty");
    }
}
