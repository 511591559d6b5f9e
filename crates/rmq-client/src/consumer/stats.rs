//! Consumer statistics: pull and consume counters per topic, the state of every assigned queue, and the
//! offset store's metrics, offered as a [`ConsumerStats`] snapshot.
//!
//! Queue tasks update lock-free counters ([`TopicCounters`], [`QueueGauge`]); a snapshot reads them.
//! Rates (TPS) are computed over the last minute from samples taken once a second by the consumer.
//! The same places feed the [`metrics`] facade through handles kept next to the counters
//! (see [`crate::telemetry`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmq_protocol::header::{ConsumeStatus, ProcessQueueInfo};
use rmq_protocol::message::MessageQueue;

use crate::health::Stamp;
use crate::telemetry::consumer::{
    ConsumerLabels, ConsumerMetrics, OffsetMetrics, QueueMetrics, SendBack, TopicMetrics,
};

/// How far back rates look.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// What one consumer has done and holds, at one moment. See
/// [`ConcurrentConsumer::stats`](crate::consumer::ConcurrentConsumer::stats).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Per subscribed topic (including the group's retry topic).
    pub topics: BTreeMap<String, TopicStats>,
    /// Every queue currently assigned to this consumer.
    pub queues: BTreeMap<MessageQueue, QueueStats>,
    /// Messages pulled and not yet consumed, over all queues.
    pub cached_messages: u64,
    /// Their body bytes.
    pub cached_bytes: u64,
    /// The committed-offset store.
    pub offsets: OffsetStoreMetrics,
}

/// Counters and rates of one topic. Totals count since start; rates cover the last minute.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TopicStats {
    /// Messages pulled (after the client's tag re-filter).
    pub pulled_messages: u64,
    /// Pull requests answered by a broker.
    pub pulls: u64,
    /// Messages the listener consumed successfully.
    pub consumed_ok: u64,
    /// Messages the listener failed (sent back for retry or retried locally).
    pub consumed_failed: u64,
    /// Pulled messages per second.
    pub pull_tps: f64,
    /// Successfully consumed messages per second.
    pub consume_ok_tps: f64,
    /// Failed messages per second.
    pub consume_failed_tps: f64,
    /// Mean time a pull took (including the broker's long-poll hold), ms.
    pub pull_rt_ms: f64,
    /// Mean time a listener call took, ms.
    pub consume_rt_ms: f64,
}

/// The state of one assigned queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Messages pulled and not yet consumed.
    pub cached_messages: u64,
    /// Their body bytes.
    pub cached_bytes: u64,
    /// Lowest cached offset (`-1` when nothing is cached).
    pub cached_min_offset: i64,
    /// Highest cached offset (`-1` when nothing is cached).
    pub cached_max_offset: i64,
    /// The group's offset in this client's memory (what the next persist writes), `-1` if none.
    pub committed_offset: i64,
    /// The next offset to pull.
    pub next_pull_offset: i64,
    /// The queue's end on the broker, as last reported by a pull (`-1` before the first).
    pub broker_max_offset: i64,
    /// Messages on the broker not yet consumed by this group: broker end − committed offset.
    pub lag: i64,
}

/// Metrics of the committed-offset store (Java's design `OffsetStoreMetrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OffsetStoreMetrics {
    /// Offsets written to brokers.
    pub persisted: u64,
    /// Writes that failed (the offset stays in memory and is written again later).
    pub persist_failures: u64,
    /// Offsets read from brokers.
    pub fetched: u64,
    /// Reads that failed (the queue waits and retries; nothing is assumed).
    pub fetch_failures: u64,
    /// When an offset was last written successfully.
    pub last_persist: Option<SystemTime>,
}

/// Lock-free counters of one topic, shared by its queue tasks, with the topic's metric handles.
#[derive(Debug)]
pub(crate) struct TopicCounters {
    pulled: AtomicU64,
    pulls: AtomicU64,
    pull_rt_us: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    consume_calls: AtomicU64,
    consume_rt_us: AtomicU64,
    metrics: TopicMetrics,
}

impl TopicCounters {
    fn new(labels: &ConsumerLabels, topic: &str) -> Self {
        TopicCounters {
            pulled: AtomicU64::new(0),
            pulls: AtomicU64::new(0),
            pull_rt_us: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            consume_calls: AtomicU64::new(0),
            consume_rt_us: AtomicU64::new(0),
            metrics: TopicMetrics::new(labels, topic),
        }
    }

    pub(crate) fn pulled(&self, messages: usize, took: Duration) {
        self.pulled.fetch_add(messages as u64, Relaxed);
        self.pulls.fetch_add(1, Relaxed);
        self.pull_rt_us.fetch_add(micros(took), Relaxed);
        self.metrics.pulled(messages, took);
    }

    /// A pull got no usable answer.
    pub(crate) fn pull_failed(&self) {
        self.metrics.pull_failed();
    }

    pub(crate) fn consumed(&self, ok: usize, failed: usize, took: Duration) {
        self.ok.fetch_add(ok as u64, Relaxed);
        self.failed.fetch_add(failed as u64, Relaxed);
        self.consume_calls.fetch_add(1, Relaxed);
        self.consume_rt_us.fetch_add(micros(took), Relaxed);
        self.metrics.consumed(ok, failed, took);
    }

    /// A failed message was sent back to the broker (or could not be).
    pub(crate) fn sent_back(&self, how: SendBack) {
        self.metrics.sent_back(how);
    }

    /// `n` messages are consumed again in this client.
    pub(crate) fn retried_locally(&self, n: usize) {
        self.metrics.retried_locally(n);
    }

    fn totals(&self) -> Totals {
        Totals {
            pulled: self.pulled.load(Relaxed),
            pulls: self.pulls.load(Relaxed),
            pull_rt_us: self.pull_rt_us.load(Relaxed),
            ok: self.ok.load(Relaxed),
            failed: self.failed.load(Relaxed),
            consume_calls: self.consume_calls.load(Relaxed),
            consume_rt_us: self.consume_rt_us.load(Relaxed),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    pulled: u64,
    pulls: u64,
    pull_rt_us: u64,
    ok: u64,
    failed: u64,
    consume_calls: u64,
    consume_rt_us: u64,
}

/// What a queue task publishes about its queue.
#[derive(Debug)]
pub(crate) struct QueueGauge {
    pub(crate) cached_count: AtomicU64,
    pub(crate) cached_bytes: AtomicU64,
    pub(crate) cached_min_offset: AtomicI64,
    pub(crate) cached_max_offset: AtomicI64,
    pub(crate) next_pull_offset: AtomicI64,
    pub(crate) broker_max_offset: AtomicI64,
    /// Unix ms of the last pull sent (as Java's `lastPullTimestamp`).
    pub(crate) last_pull_ms: AtomicI64,
    /// Unix ms of the last completed listener call.
    pub(crate) last_consume_ms: AtomicI64,
    pub(crate) dropped: AtomicBool,
    /// When the queue was assigned, last pulled and consumed, and since when messages are cached
    /// (monotonic, for [`health`](crate::health)).
    pub(crate) assigned: Stamp,
    pub(crate) last_pull: Stamp,
    pub(crate) last_consume: Stamp,
    pub(crate) cached_since: Stamp,
    pub(crate) metrics: QueueMetrics,
}

impl QueueGauge {
    fn new(labels: &ConsumerLabels, mq: &MessageQueue) -> Self {
        QueueGauge {
            metrics: QueueMetrics::new(labels, mq),
            ..Default::default()
        }
    }

    /// A pull was sent now.
    pub(crate) fn pull_sent(&self) {
        self.last_pull_ms.store(now_ms(), Relaxed);
        self.last_pull.mark();
    }

    /// A listener call ended now.
    pub(crate) fn consumed_now(&self) {
        self.last_consume_ms.store(now_ms(), Relaxed);
        self.last_consume.mark();
    }

    /// Publish the cache's size.
    pub(crate) fn cached(&self, count: u64, bytes: u64) {
        let before = self.cached_count.swap(count, Relaxed);
        self.cached_bytes.store(bytes, Relaxed);
        if count == 0 {
            self.cached_since.clear();
        } else if before == 0 {
            self.cached_since.mark();
        }
        self.metrics.cached_messages.set(count as f64);
        self.metrics.cached_bytes.set(bytes as f64);
    }
}

impl Default for QueueGauge {
    fn default() -> Self {
        QueueGauge {
            cached_count: AtomicU64::new(0),
            cached_bytes: AtomicU64::new(0),
            cached_min_offset: AtomicI64::new(-1),
            cached_max_offset: AtomicI64::new(-1),
            next_pull_offset: AtomicI64::new(-1),
            broker_max_offset: AtomicI64::new(-1),
            last_pull_ms: AtomicI64::new(0),
            last_consume_ms: AtomicI64::new(0),
            dropped: AtomicBool::new(false),
            assigned: Stamp::now(),
            last_pull: Stamp::default(),
            last_consume: Stamp::default(),
            cached_since: Stamp::default(),
            metrics: QueueMetrics::noop(),
        }
    }
}

/// Messages between the committed offset and the broker's end (0 when either is unknown).
fn lag(broker_max: i64, committed: i64) -> i64 {
    if broker_max >= 0 && committed >= 0 {
        (broker_max - committed).max(0)
    } else {
        0
    }
}

/// Unix time in ms.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Offset store counters, with their metric handles.
#[derive(Debug)]
pub(crate) struct OffsetCounters {
    pub(crate) persisted: AtomicU64,
    pub(crate) persist_failures: AtomicU64,
    pub(crate) fetched: AtomicU64,
    pub(crate) fetch_failures: AtomicU64,
    pub(crate) last_persist_ms: AtomicI64,
    pub(crate) metrics: OffsetMetrics,
}

impl OffsetCounters {
    pub(crate) fn new(labels: &ConsumerLabels) -> Self {
        OffsetCounters {
            persisted: AtomicU64::new(0),
            persist_failures: AtomicU64::new(0),
            fetched: AtomicU64::new(0),
            fetch_failures: AtomicU64::new(0),
            last_persist_ms: AtomicI64::new(0),
            metrics: OffsetMetrics::new(labels),
        }
    }

    pub(crate) fn snapshot(&self) -> OffsetStoreMetrics {
        let last = self.last_persist_ms.load(Relaxed);
        OffsetStoreMetrics {
            persisted: self.persisted.load(Relaxed),
            persist_failures: self.persist_failures.load(Relaxed),
            fetched: self.fetched.load(Relaxed),
            fetch_failures: self.fetch_failures.load(Relaxed),
            last_persist: (last > 0)
                .then(|| UNIX_EPOCH + Duration::from_millis(u64::try_from(last).unwrap_or(0))),
        }
    }
}

/// The recorder one consumer owns: topic counters, queue gauges, and the samples rates come from.
#[derive(Debug)]
pub(crate) struct StatsRecorder {
    labels: ConsumerLabels,
    topics: Mutex<HashMap<String, Arc<TopicCounters>>>,
    queues: Mutex<HashMap<MessageQueue, Arc<QueueGauge>>>,
    samples: Mutex<VecDeque<(Instant, HashMap<String, Totals>)>>,
    pub(crate) metrics: ConsumerMetrics,
}

impl Default for StatsRecorder {
    fn default() -> Self {
        Self::new(ConsumerLabels::default())
    }
}

impl StatsRecorder {
    /// A recorder whose metrics carry `labels`.
    pub(crate) fn new(labels: ConsumerLabels) -> Self {
        StatsRecorder {
            metrics: ConsumerMetrics::new(&labels),
            labels,
            topics: Mutex::default(),
            queues: Mutex::default(),
            samples: Mutex::default(),
        }
    }

    /// The counters of `topic` (created on first use).
    pub(crate) fn topic(&self, topic: &str) -> Arc<TopicCounters> {
        match self.topics.lock() {
            Ok(mut t) => t
                .entry(topic.to_owned())
                .or_insert_with(|| Arc::new(TopicCounters::new(&self.labels, topic)))
                .clone(),
            Err(_) => Arc::new(TopicCounters::new(&self.labels, topic)),
        }
    }

    /// A fresh gauge for a newly assigned queue (replacing any old one).
    pub(crate) fn add_queue(&self, mq: &MessageQueue) -> Arc<QueueGauge> {
        let gauge = Arc::new(QueueGauge::new(&self.labels, mq));
        if let Ok(mut q) = self.queues.lock() {
            q.insert(mq.clone(), gauge.clone());
        }
        gauge
    }

    /// Forget a queue that is no longer assigned.
    pub(crate) fn remove_queue(&self, mq: &MessageQueue) {
        let removed = self.queues.lock().ok().and_then(|mut q| q.remove(mq));
        if let Some(g) = removed {
            g.metrics.clear();
        }
    }

    /// Record the totals now; rates are computed against the oldest sample within the window. Also
    /// publishes the rates and every queue's lag (`committed` gives a queue's committed offset) as
    /// metrics.
    pub(crate) fn sample(&self, committed: impl Fn(&MessageQueue) -> Option<i64>) {
        let now = Instant::now();
        let totals = self.totals();
        if let Ok(mut s) = self.samples.lock() {
            while s
                .front()
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
            {
                s.pop_front();
            }
            s.push_back((now, totals));
        }
        let counters: Vec<(String, Arc<TopicCounters>)> = self
            .topics
            .lock()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let stats = self.topic_stats();
        for (topic, c) in counters {
            if let Some(t) = stats.get(&topic) {
                c.metrics
                    .rates(t.pull_tps, t.consume_ok_tps, t.consume_failed_tps);
            }
        }
        for (mq, g) in self.gauges() {
            let lag = lag(g.broker_max_offset.load(Relaxed), committed(&mq).unwrap_or(-1));
            g.metrics.lag.set(lag as f64);
        }
    }

    fn totals(&self) -> HashMap<String, Totals> {
        self.topics
            .lock()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.totals())).collect())
            .unwrap_or_default()
    }

    pub(crate) fn gauges(&self) -> Vec<(MessageQueue, Arc<QueueGauge>)> {
        self.queues
            .lock()
            .map(|q| q.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// A snapshot; `committed` gives the in-memory committed offset of a queue.
    pub(crate) fn snapshot(
        &self,
        committed: impl Fn(&MessageQueue) -> Option<i64>,
        offsets: OffsetStoreMetrics,
    ) -> ConsumerStats {
        let mut stats = ConsumerStats {
            topics: self.topic_stats(),
            offsets,
            ..Default::default()
        };
        for (mq, g) in self.gauges() {
            let committed = committed(&mq).unwrap_or(-1);
            let broker_max = g.broker_max_offset.load(Relaxed);
            let q = QueueStats {
                cached_messages: g.cached_count.load(Relaxed),
                cached_bytes: g.cached_bytes.load(Relaxed),
                cached_min_offset: g.cached_min_offset.load(Relaxed),
                cached_max_offset: g.cached_max_offset.load(Relaxed),
                committed_offset: committed,
                next_pull_offset: g.next_pull_offset.load(Relaxed),
                broker_max_offset: broker_max,
                lag: lag(broker_max, committed),
            };
            stats.cached_messages += q.cached_messages;
            stats.cached_bytes += q.cached_bytes;
            stats.queues.insert(mq, q);
        }
        stats
    }

    /// Totals and rates of every topic.
    fn topic_stats(&self) -> BTreeMap<String, TopicStats> {
        let now = Instant::now();
        let totals = self.totals();
        let oldest = self
            .samples
            .lock()
            .ok()
            .and_then(|s| s.front().map(|(t, v)| (*t, v.clone())));
        let mut topics = BTreeMap::new();
        for (topic, t) in &totals {
            let (secs, base) = match &oldest {
                Some((at, v)) => (
                    now.saturating_duration_since(*at).as_secs_f64(),
                    v.get(topic).copied().unwrap_or_default(),
                ),
                None => (0.0, Totals::default()),
            };
            let rate = |now: u64, then: u64| {
                if secs > 0.0 {
                    now.saturating_sub(then) as f64 / secs
                } else {
                    0.0
                }
            };
            let mean_ms = |us: u64, n: u64| {
                if n == 0 {
                    0.0
                } else {
                    us as f64 / n as f64 / 1000.0
                }
            };
            topics.insert(
                topic.clone(),
                TopicStats {
                    pulled_messages: t.pulled,
                    pulls: t.pulls,
                    consumed_ok: t.ok,
                    consumed_failed: t.failed,
                    pull_tps: rate(t.pulled, base.pulled),
                    consume_ok_tps: rate(t.ok, base.ok),
                    consume_failed_tps: rate(t.failed, base.failed),
                    pull_rt_ms: mean_ms(t.pull_rt_us, t.pulls),
                    consume_rt_ms: mean_ms(t.consume_rt_us, t.consume_calls),
                },
            );
        }
        topics
    }

    /// The running-info tables the broker asks for (GET_CONSUMER_RUNNING_INFO).
    pub(crate) fn running_info(
        &self,
        stats: &ConsumerStats,
    ) -> (
        BTreeMap<MessageQueue, ProcessQueueInfo>,
        BTreeMap<String, ConsumeStatus>,
    ) {
        let gauges: HashMap<MessageQueue, Arc<QueueGauge>> = self.gauges().into_iter().collect();
        let mq_table = stats
            .queues
            .iter()
            .map(|(mq, q)| {
                let g = gauges.get(mq);
                let load = |f: fn(&QueueGauge) -> i64| g.map_or(0, |g| f(g));
                let info = ProcessQueueInfo {
                    commit_offset: q.committed_offset,
                    cached_msg_min_offset: q.cached_min_offset.max(0),
                    cached_msg_max_offset: q.cached_max_offset.max(0),
                    cached_msg_count: i32::try_from(q.cached_messages).unwrap_or(i32::MAX),
                    cached_msg_size_in_mib: i32::try_from(q.cached_bytes / (1024 * 1024)).unwrap_or(i32::MAX),
                    dropped: g.is_some_and(|g| g.dropped.load(Relaxed)),
                    last_pull_timestamp: load(|g| g.last_pull_ms.load(Relaxed)),
                    last_consume_timestamp: load(|g| g.last_consume_ms.load(Relaxed)),
                    ..Default::default()
                };
                (mq.clone(), info)
            })
            .collect();
        let status = stats
            .topics
            .iter()
            .map(|(topic, t)| {
                let s = ConsumeStatus {
                    pull_rt: t.pull_rt_ms,
                    pull_tps: t.pull_tps,
                    consume_rt: t.consume_rt_ms,
                    consume_ok_tps: t.consume_ok_tps,
                    consume_failed_tps: t.consume_failed_tps,
                    consume_failed_msgs: i64::try_from(t.consumed_failed).unwrap_or(i64::MAX),
                };
                (topic.clone(), s)
            })
            .collect();
        (mq_table, status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_rates_and_lag() {
        let rec = StatsRecorder::default();
        let mq = MessageQueue::new("T", "b", 0);
        let t = rec.topic("T");
        rec.sample(|_| None);
        t.pulled(32, Duration::from_millis(4));
        t.consumed(30, 2, Duration::from_millis(10));
        t.consumed(1, 0, Duration::from_millis(20));
        let g = rec.add_queue(&mq);
        g.cached_count.store(5, Relaxed);
        g.cached_bytes.store(5000, Relaxed);
        g.broker_max_offset.store(100, Relaxed);
        let s = rec.snapshot(|_| Some(60), OffsetStoreMetrics::default());
        let ts = &s.topics["T"];
        assert_eq!(
            (ts.pulled_messages, ts.pulls, ts.consumed_ok, ts.consumed_failed),
            (32, 1, 31, 2)
        );
        assert!((ts.pull_rt_ms - 4.0).abs() < 1e-9);
        assert!((ts.consume_rt_ms - 15.0).abs() < 1e-9);
        assert!(ts.pull_tps > 0.0, "a rate over a non-empty window");
        let q = &s.queues[&mq];
        assert_eq!(
            (q.lag, q.committed_offset, s.cached_messages, s.cached_bytes),
            (40, 60, 5, 5000)
        );
        let (mqs, status) = rec.running_info(&s);
        assert_eq!(mqs[&mq].cached_msg_count, 5);
        assert_eq!(status["T"].consume_failed_msgs, 2);
        rec.remove_queue(&mq);
        assert!(rec
            .snapshot(|_| None, OffsetStoreMetrics::default())
            .queues
            .is_empty());
    }

    #[test]
    fn no_sample_means_no_rate() {
        let rec = StatsRecorder::default();
        rec.topic("T").pulled(10, Duration::ZERO);
        let s = rec.snapshot(|_| None, OffsetStoreMetrics::default());
        assert_eq!(s.topics["T"].pull_tps, 0.0);
        assert_eq!(s.topics["T"].pulled_messages, 10);
    }
}
