//! Metric handles shared by every kind of client: connections and heartbeats, with the heartbeat
//! state [`health`](crate::health) reports.

use std::sync::Mutex;

use metrics::{counter, gauge, Counter, Gauge};

use super::{CONNECTIONS, CONNECTS_TOTAL, DISCONNECTS_TOTAL, HEARTBEAT_TOTAL, RECONNECTS_TOTAL};
use crate::error::Error;
use crate::health::{HeartbeatHealth, Stamp};

/// Handles of a connection pool.
#[derive(Debug, Clone)]
pub(crate) struct PoolMetrics {
    pub(crate) open: Gauge,
    pub(crate) connected: Counter,
    pub(crate) connect_failed: Counter,
    pub(crate) reconnected: Counter,
    pub(crate) disconnected: Counter,
}

impl PoolMetrics {
    pub(crate) fn new(client_id: &str) -> Self {
        let c = client_id.to_owned();
        PoolMetrics {
            open: gauge!(CONNECTIONS, "client_id" => c.clone()),
            connected: counter!(CONNECTS_TOTAL, "client_id" => c.clone(), "result" => "ok"),
            connect_failed: counter!(CONNECTS_TOTAL, "client_id" => c.clone(), "result" => "failed"),
            reconnected: counter!(RECONNECTS_TOTAL, "client_id" => c.clone()),
            disconnected: counter!(DISCONNECTS_TOTAL, "client_id" => c),
        }
    }
}

/// Heartbeat counters and the outcome of the last round.
#[derive(Debug)]
pub(crate) struct HeartbeatTelemetry {
    ok: Counter,
    failed: Counter,
    last_attempt: Stamp,
    last_success: Stamp,
    /// Brokers that accepted and refused the last round, and the last refusal.
    last_round: Mutex<(usize, usize, Option<Error>)>,
}

impl HeartbeatTelemetry {
    pub(crate) fn new(client_id: &str) -> Self {
        let c = client_id.to_owned();
        HeartbeatTelemetry {
            ok: counter!(HEARTBEAT_TOTAL, "client_id" => c.clone(), "result" => "ok"),
            failed: counter!(HEARTBEAT_TOTAL, "client_id" => c, "result" => "failed"),
            last_attempt: Stamp::default(),
            last_success: Stamp::default(),
            last_round: Mutex::default(),
        }
    }

    /// A round ended: `ok` brokers accepted it, `failed` did not (`error` is the last refusal).
    pub(crate) fn round(&self, ok: usize, failed: usize, error: Option<Error>) {
        self.ok.increment(ok as u64);
        self.failed.increment(failed as u64);
        self.last_attempt.mark();
        if ok > 0 {
            self.last_success.mark();
        }
        if let Ok(mut last) = self.last_round.lock() {
            *last = (ok, failed, error);
        }
    }

    pub(crate) fn health(&self) -> HeartbeatHealth {
        let (brokers_ok, brokers_failed, last_error) =
            self.last_round.lock().map(|l| l.clone()).unwrap_or_default();
        HeartbeatHealth {
            last_attempt: self.last_attempt.at(),
            last_success: self.last_success.at(),
            since_last_success: self.last_success.age(),
            brokers_ok,
            brokers_failed,
            last_error,
        }
    }
}
