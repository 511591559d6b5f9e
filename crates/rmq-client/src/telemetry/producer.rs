//! Metric handles of a producer, one set per topic (created on the first send to it), and what
//! [`Producer::health`](crate::producer::Producer::health) reports about sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use metrics::{counter, histogram, Counter, Histogram};

use super::{SEND_LATENCY_SECONDS, SEND_RETRIES_TOTAL, SEND_TOTAL};
use crate::error::{Error, Result};
use crate::health::Stamp;
use crate::producer::{SendResult, SendStatus};

/// Handles of one topic: count and latency per result, and retries.
#[derive(Debug)]
pub(crate) struct SendMetrics {
    by_result: [(Counter, Histogram); 4],
    retries: Counter,
}

/// The `result` label values, in `by_result` order.
const RESULTS: [&str; 4] = ["ok", "not_stored", "timeout", "error"];

impl SendMetrics {
    fn new(group: &str, client_id: &str, topic: &str) -> Self {
        let (g, c, t) = (group.to_owned(), client_id.to_owned(), topic.to_owned());
        let by_result = RESULTS.map(|r| {
            (
                counter!(SEND_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => r),
                histogram!(SEND_LATENCY_SECONDS, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => r),
            )
        });
        SendMetrics {
            by_result,
            retries: counter!(SEND_RETRIES_TOTAL, "group" => g, "client_id" => c, "topic" => t),
        }
    }

    /// One more attempt after the first.
    pub(crate) fn retried(&self) {
        self.retries.increment(1);
    }

    fn ended(&self, outcome: &Result<SendResult>, took: Duration) {
        let i = match outcome {
            Ok(r) if r.status == SendStatus::SendOk => 0,
            Ok(_) => 1,
            Err(e) if e.is_timeout() => 2,
            Err(_) => 3,
        };
        let (count, latency) = &self.by_result[i];
        count.increment(1);
        latency.record(took);
    }
}

/// A producer's send metrics and the outcome of its last sends.
#[derive(Debug)]
pub(crate) struct ProducerTelemetry {
    group: String,
    client_id: String,
    topics: RwLock<HashMap<String, Arc<SendMetrics>>>,
    pub(crate) last_ok: Stamp,
    pub(crate) last_error: Mutex<Option<(Stamp, Error)>>,
}

impl ProducerTelemetry {
    pub(crate) fn new(group: &str, client_id: &str) -> Self {
        ProducerTelemetry {
            group: group.to_owned(),
            client_id: client_id.to_owned(),
            topics: RwLock::default(),
            last_ok: Stamp::default(),
            last_error: Mutex::default(),
        }
    }

    /// The handles of `topic` (created on first use).
    pub(crate) fn topic(&self, topic: &str) -> Arc<SendMetrics> {
        if let Some(m) = self.topics.read().ok().and_then(|t| t.get(topic).cloned()) {
            return m;
        }
        let m = Arc::new(SendMetrics::new(&self.group, &self.client_id, topic));
        match self.topics.write() {
            Ok(mut t) => t.entry(topic.to_owned()).or_insert(m).clone(),
            Err(_) => m,
        }
    }

    /// A send to `topic` ended with `outcome` after `took`.
    pub(crate) fn ended(&self, metrics: &SendMetrics, outcome: &Result<SendResult>, took: Duration) {
        metrics.ended(outcome, took);
        match outcome {
            Ok(_) => self.last_ok.mark(),
            Err(e) => {
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some((Stamp::now(), e.clone()));
                }
            }
        }
    }
}
