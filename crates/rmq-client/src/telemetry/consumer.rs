//! Metric handles of a consumer: per topic (pulls, consumption, send-backs), per queue (cache, lag),
//! per consumer (rebalances, assigned queues) and of its offset store. Created when the topic, queue
//! or consumer appears; recording is an atomic operation on a handle.

use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use rmq_protocol::message::{MessageExt, MessageQueue};
use tracing::{debug_span, Span};

use super::{
    ASSIGNED_QUEUES, CACHED_BYTES, CACHED_MESSAGES, CONSUME_LATENCY_SECONDS, CONSUME_TOTAL, CONSUME_TPS,
    LAG_MESSAGES, LOCAL_RETRIES_TOTAL, OFFSET_FETCH_TOTAL, OFFSET_PERSIST_LATENCY_SECONDS,
    OFFSET_PERSIST_TOTAL, PULL_ERRORS_TOTAL, PULL_LATENCY_SECONDS, PULL_MESSAGES_TOTAL, PULL_TOTAL, PULL_TPS,
    REBALANCE_TOTAL, SEND_BACK_TOTAL,
};

/// The labels every metric of one consumer carries.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsumerLabels {
    pub(crate) group: String,
    pub(crate) client_id: String,
}

impl ConsumerLabels {
    pub(crate) fn new(group: &str, client_id: &str) -> Self {
        ConsumerLabels {
            group: group.to_owned(),
            client_id: client_id.to_owned(),
        }
    }
}

/// How a failed message left this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendBack {
    /// The broker stored it in the group's retry topic.
    Retry,
    /// The broker stored it in the group's dead-letter queue.
    Dlq,
    /// The broker did not take it.
    Failed,
}

/// Handles of one subscribed topic.
#[derive(Debug)]
pub(crate) struct TopicMetrics {
    pulls: Counter,
    pull_errors: Counter,
    pulled: Counter,
    pull_latency: Histogram,
    pull_tps: Gauge,
    consumed_ok: Counter,
    consumed_failed: Counter,
    consume_latency: Histogram,
    ok_tps: Gauge,
    failed_tps: Gauge,
    send_back_retry: Counter,
    send_back_dlq: Counter,
    send_back_failed: Counter,
    local_retries: Counter,
}

impl TopicMetrics {
    pub(crate) fn new(l: &ConsumerLabels, topic: &str) -> Self {
        let (g, c, t) = (l.group.clone(), l.client_id.clone(), topic.to_owned());
        TopicMetrics {
            pulls: counter!(PULL_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone()),
            pull_errors: counter!(PULL_ERRORS_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone()),
            pulled: counter!(PULL_MESSAGES_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone()),
            pull_latency: histogram!(PULL_LATENCY_SECONDS, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone()),
            pull_tps: gauge!(PULL_TPS, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone()),
            consumed_ok: counter!(CONSUME_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => "ok"),
            consumed_failed: counter!(CONSUME_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => "failed"),
            consume_latency: histogram!(CONSUME_LATENCY_SECONDS, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone()),
            ok_tps: gauge!(CONSUME_TPS, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => "ok"),
            failed_tps: gauge!(CONSUME_TPS, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => "failed"),
            send_back_retry: counter!(SEND_BACK_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => "retry"),
            send_back_dlq: counter!(SEND_BACK_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => "dlq"),
            send_back_failed: counter!(SEND_BACK_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "result" => "failed"),
            local_retries: counter!(LOCAL_RETRIES_TOTAL, "group" => g, "client_id" => c, "topic" => t),
        }
    }

    /// A pull was answered with `messages` messages after `took`.
    pub(crate) fn pulled(&self, messages: usize, took: Duration) {
        self.pulls.increment(1);
        if messages > 0 {
            self.pulled.increment(messages as u64);
        }
        self.pull_latency.record(took);
    }

    /// A pull failed.
    pub(crate) fn pull_failed(&self) {
        self.pull_errors.increment(1);
    }

    /// A listener call ended.
    pub(crate) fn consumed(&self, ok: usize, failed: usize, took: Duration) {
        if ok > 0 {
            self.consumed_ok.increment(ok as u64);
        }
        if failed > 0 {
            self.consumed_failed.increment(failed as u64);
        }
        self.consume_latency.record(took);
    }

    /// Rates over the last minute.
    pub(crate) fn rates(&self, pull: f64, ok: f64, failed: f64) {
        self.pull_tps.set(pull);
        self.ok_tps.set(ok);
        self.failed_tps.set(failed);
    }

    /// A failed message was sent back (or not).
    pub(crate) fn sent_back(&self, how: SendBack) {
        match how {
            SendBack::Retry => &self.send_back_retry,
            SendBack::Dlq => &self.send_back_dlq,
            SendBack::Failed => &self.send_back_failed,
        }
        .increment(1);
    }

    /// `n` messages are consumed again here.
    pub(crate) fn retried_locally(&self, n: usize) {
        self.local_retries.increment(n as u64);
    }
}

/// Gauges of one assigned queue.
#[derive(Debug)]
pub(crate) struct QueueMetrics {
    pub(crate) cached_messages: Gauge,
    pub(crate) cached_bytes: Gauge,
    pub(crate) lag: Gauge,
}

impl QueueMetrics {
    pub(crate) fn new(l: &ConsumerLabels, mq: &MessageQueue) -> Self {
        let (g, c, t) = (l.group.clone(), l.client_id.clone(), mq.topic.clone());
        let (b, q) = (mq.broker_name.clone(), mq.queue_id.to_string());
        QueueMetrics {
            cached_messages: gauge!(CACHED_MESSAGES, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "broker" => b.clone(), "queue_id" => q.clone()),
            cached_bytes: gauge!(CACHED_BYTES, "group" => g.clone(), "client_id" => c.clone(), "topic" => t.clone(), "broker" => b.clone(), "queue_id" => q.clone()),
            lag: gauge!(LAG_MESSAGES, "group" => g, "client_id" => c, "topic" => t, "broker" => b, "queue_id" => q),
        }
    }

    /// Handles that record nothing.
    pub(crate) fn noop() -> Self {
        QueueMetrics {
            cached_messages: Gauge::noop(),
            cached_bytes: Gauge::noop(),
            lag: Gauge::noop(),
        }
    }

    /// The queue is no longer assigned here: its gauges read zero (the facade cannot remove a series).
    pub(crate) fn clear(&self) {
        self.cached_messages.set(0.0);
        self.cached_bytes.set(0.0);
        self.lag.set(0.0);
    }
}

/// Handles of the consumer as a whole.
#[derive(Debug)]
pub(crate) struct ConsumerMetrics {
    rebalances: Counter,
    assigned: Gauge,
}

impl ConsumerMetrics {
    pub(crate) fn new(l: &ConsumerLabels) -> Self {
        let (g, c) = (l.group.clone(), l.client_id.clone());
        ConsumerMetrics {
            rebalances: counter!(REBALANCE_TOTAL, "group" => g.clone(), "client_id" => c.clone()),
            assigned: gauge!(ASSIGNED_QUEUES, "group" => g, "client_id" => c),
        }
    }

    /// A rebalance round ended holding `assigned` queues; `changed` when queues were added or removed.
    pub(crate) fn rebalanced(&self, changed: bool, assigned: usize) {
        if changed {
            self.rebalances.increment(1);
        }
        self.assigned.set(assigned as f64);
    }
}

/// Handles of an offset store.
#[derive(Debug)]
pub(crate) struct OffsetMetrics {
    persist_ok: Counter,
    persist_failed: Counter,
    persist_latency: Histogram,
    fetch_ok: Counter,
    fetch_failed: Counter,
}

impl OffsetMetrics {
    pub(crate) fn new(l: &ConsumerLabels) -> Self {
        let (g, c) = (l.group.clone(), l.client_id.clone());
        OffsetMetrics {
            persist_ok: counter!(OFFSET_PERSIST_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "result" => "ok"),
            persist_failed: counter!(OFFSET_PERSIST_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "result" => "failed"),
            persist_latency: histogram!(OFFSET_PERSIST_LATENCY_SECONDS, "group" => g.clone(), "client_id" => c.clone()),
            fetch_ok: counter!(OFFSET_FETCH_TOTAL, "group" => g.clone(), "client_id" => c.clone(), "result" => "ok"),
            fetch_failed: counter!(OFFSET_FETCH_TOTAL, "group" => g, "client_id" => c, "result" => "failed"),
        }
    }

    pub(crate) fn persisted(&self, ok: bool, took: Duration) {
        if ok {
            self.persist_ok.increment(1);
        } else {
            self.persist_failed.increment(1);
        }
        self.persist_latency.record(took);
    }

    pub(crate) fn fetched(&self, ok: bool) {
        if ok {
            self.fetch_ok.increment(1);
        } else {
            self.fetch_failed.increment(1);
        }
    }
}

/// The `consume` span of one listener call (DEBUG): group, topic, broker, queue id, batch size, first
/// offset and the messages' ids (formatted only when a subscriber records the span).
pub(crate) fn consume_span(group: &str, mq: &MessageQueue, msgs: &[MessageExt]) -> Span {
    debug_span!(
        "consume",
        group,
        topic = %mq.topic,
        broker = %mq.broker_name,
        queue_id = mq.queue_id,
        batch = msgs.len(),
        first_offset = msgs.first().map(|m| m.queue_offset),
        msg_ids = ?MsgIds(msgs),
    )
}

/// Message ids, comma-separated, written when formatted.
struct MsgIds<'a>(&'a [MessageExt]);

impl std::fmt::Debug for MsgIds<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&m.msg_id())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What recording costs per listener call and per pull, with no recorder and with a Prometheus
    /// recorder: `cargo test -p rmq-client --release --lib recording_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    #[allow(clippy::print_stderr)]
    fn recording_cost() {
        let labels = ConsumerLabels::new("g", "c");
        let time = |m: &TopicMetrics| {
            const N: u32 = 2_000_000;
            let started = std::time::Instant::now();
            for i in 0..N {
                m.consumed(1, 0, Duration::from_micros(u64::from(i % 100)));
                m.pulled(32, Duration::from_millis(2));
            }
            started.elapsed() / N
        };
        let noop = TopicMetrics::new(&labels, "T");
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let prom = metrics::with_local_recorder(&recorder, || TopicMetrics::new(&labels, "T"));
        eprintln!(
            "one listener call + one pull: no recorder {:?}, prometheus {:?}",
            time(&noop),
            time(&prom)
        );
    }
}
