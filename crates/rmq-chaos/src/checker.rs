//! The history checker: what was sent, what was delivered, and what the group committed, turned
//! into the counts every scenario reports (`docs/reliability.md`, terms of
//! `reliability-scenarios.md` §0, after Jepsen's `total-queue` and OpenChaos' `QueueChecker` and
//! `OrderChecker`).
//!
//! A [`Recorder`] collects a [`History`] while a scenario runs (it is a cheap clone shared by the
//! producer tasks and the listeners); [`History::check`] turns it into a [`Report`] after the final
//! drain.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use rmq_chaos::checker::{Delivery, Recorder, SendOutcome};
//! use rmq_protocol::message::MessageQueue;
//!
//! let rec = Recorder::new();
//! rec.invoke("r:c:k1:0", "k1", 0);
//! rec.complete("r:c:k1:0", SendOutcome::Ok);
//! let t = Instant::now();
//! rec.deliver(Delivery {
//!     body: "r:c:k1:0".into(),
//!     queue: MessageQueue::new("T", "broker-a", 0),
//!     offset: 0,
//!     reconsume_times: 0,
//!     consumer: "c1".into(),
//!     entered: t,
//!     exited: t + Duration::from_millis(1),
//! });
//! let report = rec.history().check();
//! assert_eq!((report.acked, report.lost, report.duplicates), (1, 0, 0));
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rmq_protocol::message::MessageQueue;

/// How a send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendOutcome {
    /// `SEND_OK`: the message must be delivered (a loss otherwise).
    Ok,
    /// A definite failure: the broker refused it, or it was never written.
    Failed,
    /// Timeout, connection reset after the request was written, `FLUSH_*_TIMEOUT`,
    /// `SLAVE_NOT_AVAILABLE`: the message may be stored. Never counts as lost; when delivered it
    /// counts as *recovered*.
    Indeterminate,
}

/// One send: a unique body, its sharding key and its sequence number within the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    /// The unique body, `run:client:key:seq`.
    pub body: String,
    /// Sharding key (orderly sends) or any grouping key.
    pub key: String,
    /// Sequence number within `key`, increasing in send order.
    pub seq: u64,
    /// How the send ended; `None` while pending (an invoke without completion).
    pub outcome: Option<SendOutcome>,
    /// How many times a completion was recorded (an async callback must fire exactly once).
    pub completions: u32,
}

/// One delivery of a message to a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The body as delivered.
    pub body: String,
    /// The queue it was pulled from (for retries: the `%RETRY%` queue).
    pub queue: MessageQueue,
    /// Its queue offset.
    pub offset: i64,
    /// `reconsumeTimes` of the delivered message (> 0 for a redelivery through `%RETRY%`).
    pub reconsume_times: i32,
    /// The consumer instance (client id) that ran the listener.
    pub consumer: String,
    /// When the listener call started.
    pub entered: Instant,
    /// When it returned.
    pub exited: Instant,
}

/// A committed offset read back with the admin `queryConsumerOffset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSample {
    /// The queue.
    pub queue: MessageQueue,
    /// The committed offset.
    pub offset: i64,
    /// Samples are compared only within one epoch: a broker killed with `kill -9` loses the
    /// consumer offsets it had not flushed yet (`flushConsumerOffsetInterval`), which is not the
    /// client's doing; a scenario starts a new epoch when it restarts a broker.
    pub epoch: u32,
}

/// Everything a scenario recorded, in recording order.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Sends, in invoke order.
    pub sends: Vec<SendRecord>,
    /// Completions for bodies that were never invoked (a bug in the workload or the client).
    pub stray_completions: u64,
    /// Deliveries, in recording order.
    pub deliveries: Vec<Delivery>,
    /// Committed-offset samples, in sampling order.
    pub offsets: Vec<OffsetSample>,
    /// Bodies found by the final drain with a fresh group from offset 0 (what the store holds).
    pub drained: HashSet<String>,
}

/// How many lost or unexpected bodies a report lists by name.
const EXAMPLES: usize = 10;

/// The counts of one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Sends invoked.
    pub sent: u64,
    /// Sends that returned `SEND_OK`.
    pub acked: u64,
    /// Sends that failed definitely.
    pub failed: u64,
    /// Sends with an indeterminate outcome ("info").
    pub indeterminate: u64,
    /// Sends invoked but never completed (a lost callback).
    pub pending: u64,
    /// Sends completed more than once (extra completions; a callback fired twice), plus
    /// completions of bodies never invoked.
    pub extra_completions: u64,
    /// Deliveries recorded (all of them, retries included).
    pub deliveries: u64,
    /// Distinct bodies delivered.
    pub unique_delivered: u64,
    /// Acked sends found neither in a delivery nor by the final drain of the store: lost by the
    /// producer or the broker.
    pub lost: u64,
    /// Acked sends in the store (found by the drain) that the test group never delivered: lost
    /// by the consumer (e.g. an offset committed past them).
    pub unconsumed: u64,
    /// Delivered bodies that were never sent.
    pub unexpected: u64,
    /// Deliveries beyond the first of a message, not counting redeliveries through `%RETRY%`.
    pub duplicates: u64,
    /// The duplicates that are extra stored copies: first-time deliveries of a body from a
    /// (queue, offset) it had not been delivered from before. A send retried after an attempt
    /// whose outcome was unknown (the connection closed after the request was written) stores
    /// the message twice; the rest of `duplicates` are one stored copy delivered again (the
    /// consumer side: an offset not committed in time).
    pub stored_twice: u64,
    /// Deliveries with `reconsumeTimes > 0` (through `%RETRY%`).
    pub retries: u64,
    /// Indeterminate sends that were delivered.
    pub recovered: u64,
    /// Failed sends that were delivered nevertheless (stored although the client reported a
    /// failure; an information, like `recovered`).
    pub failed_delivered: u64,
    /// Order violations summed over keys: rewinds within one consumer's lease of a queue plus
    /// acked sends that break the acked order in the delivery order (skips).
    pub order_violations: u64,
    /// The rewinds among `order_violations`.
    pub rewinds: u64,
    /// The skips among `order_violations`.
    pub skips: u64,
    /// Deliveries whose listener call overlapped a call of another consumer on the same queue.
    pub lease_overlaps: u64,
    /// Committed offsets that went down between two samples of a queue (within an epoch).
    pub offset_regressions: u64,
    /// Up to ten lost bodies.
    pub lost_examples: Vec<String>,
    /// Up to ten unexpected bodies.
    pub unexpected_examples: Vec<String>,
    /// Up to ten offset regressions: `queue: before -> after`.
    pub regression_examples: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent={} acked={} failed={} info={} pending={} extra_completions={} deliveries={} unique={} \
             lost={} unconsumed={} unexpected={} dup={} (stored_twice={}) retries={} recovered={} failed_delivered={} \
             order_violations={} (rewinds={} skips={}) lease_overlaps={} offset_regressions={}",
            self.sent,
            self.acked,
            self.failed,
            self.indeterminate,
            self.pending,
            self.extra_completions,
            self.deliveries,
            self.unique_delivered,
            self.lost,
            self.unconsumed,
            self.unexpected,
            self.duplicates,
            self.stored_twice,
            self.retries,
            self.recovered,
            self.failed_delivered,
            self.order_violations,
            self.rewinds,
            self.skips,
            self.lease_overlaps,
            self.offset_regressions
        )?;
        if !self.lost_examples.is_empty() {
            write!(f, " lost_examples={:?}", self.lost_examples)?;
        }
        if !self.unexpected_examples.is_empty() {
            write!(f, " unexpected_examples={:?}", self.unexpected_examples)?;
        }
        if !self.regression_examples.is_empty() {
            write!(f, " regression_examples={:?}", self.regression_examples)?;
        }
        Ok(())
    }
}

impl History {
    /// Counts everything (see [`Report`]).
    pub fn check(&self) -> Report {
        let mut r = Report {
            sent: self.sends.len() as u64,
            deliveries: self.deliveries.len() as u64,
            extra_completions: self.stray_completions,
            ..Report::default()
        };
        let sends: HashMap<&str, &SendRecord> = self.sends.iter().map(|s| (s.body.as_str(), s)).collect();

        // Per body: first-time deliveries and retries.
        let mut first_time: HashMap<&str, u64> = HashMap::new();
        let mut positions: HashMap<&str, HashSet<(&MessageQueue, i64)>> = HashMap::new();
        let mut delivered: HashSet<&str> = HashSet::new();
        for d in &self.deliveries {
            delivered.insert(d.body.as_str());
            if d.reconsume_times > 0 {
                r.retries += 1;
            } else {
                *first_time.entry(d.body.as_str()).or_default() += 1;
                positions
                    .entry(d.body.as_str())
                    .or_default()
                    .insert((&d.queue, d.offset));
            }
        }
        r.unique_delivered = delivered.len() as u64;
        r.duplicates = first_time.values().map(|n| n.saturating_sub(1)).sum();
        r.stored_twice = positions
            .values()
            .map(|p| (p.len() as u64).saturating_sub(1))
            .sum();
        let mut unexpected: Vec<&str> = delivered
            .iter()
            .copied()
            .filter(|b| !sends.contains_key(b))
            .collect();
        unexpected.sort_unstable();
        r.unexpected = unexpected.len() as u64;
        r.unexpected_examples = unexpected.iter().take(EXAMPLES).map(|s| s.to_string()).collect();

        for s in &self.sends {
            r.extra_completions += u64::from(s.completions.saturating_sub(1));
            let seen = delivered.contains(s.body.as_str());
            match s.outcome {
                None => r.pending += 1,
                Some(SendOutcome::Ok) => {
                    r.acked += 1;
                    if !seen && self.drained.contains(&s.body) {
                        r.unconsumed += 1;
                    } else if !seen {
                        r.lost += 1;
                        if r.lost_examples.len() < EXAMPLES {
                            r.lost_examples.push(s.body.clone());
                        }
                    }
                }
                Some(SendOutcome::Failed) => {
                    r.failed += 1;
                    r.failed_delivered += u64::from(seen);
                }
                Some(SendOutcome::Indeterminate) => {
                    r.indeterminate += 1;
                    r.recovered += u64::from(seen);
                }
            }
        }

        r.rewinds = self.rewinds(&sends);
        r.skips = self.skips(&sends, &delivered);
        r.order_violations = r.rewinds + r.skips;
        r.lease_overlaps = self.lease_overlaps();
        let regressions = self.offset_regressions();
        r.offset_regressions = regressions.len() as u64;
        r.regression_examples = regressions
            .iter()
            .take(EXAMPLES)
            .map(|(q, before, after)| format!("{}/{}: {before} -> {after}", q.broker_name, q.queue_id))
            .collect();
        r
    }

    /// Deliveries in listener-entry order (stable: ties keep recording order).
    fn by_entry(&self) -> Vec<&Delivery> {
        let mut ds: Vec<&Delivery> = self.deliveries.iter().collect();
        ds.sort_by_key(|d| d.entered);
        ds
    }

    /// Rewinds: within one lease (a run of deliveries of a queue by one consumer, uninterrupted by
    /// another consumer), a key's sequence number going down. Redelivering the same message
    /// (a suspend) is not a rewind; starting over after the queue changed owner is allowed.
    fn rewinds(&self, sends: &HashMap<&str, &SendRecord>) -> u64 {
        let mut violations = 0;
        // queue -> (owner of the current lease, key -> last seq in this lease)
        let mut leases: HashMap<&MessageQueue, (&str, HashMap<&str, u64>)> = HashMap::new();
        for d in self.by_entry() {
            let Some(s) = sends.get(d.body.as_str()) else {
                continue;
            };
            let (owner, last) = leases
                .entry(&d.queue)
                .or_insert_with(|| (d.consumer.as_str(), HashMap::new()));
            if *owner != d.consumer {
                *owner = d.consumer.as_str();
                last.clear();
            }
            match last.get(s.key.as_str()) {
                Some(&prev) if s.seq < prev => violations += 1,
                _ => {
                    last.insert(s.key.as_str(), s.seq);
                }
            }
        }
        violations
    }

    /// Skips: per key, the delivered acked sends in send order must be a subsequence of the
    /// delivery order. Each acked send the greedy match cannot place counts once (lost sends are
    /// counted as lost, not here).
    fn skips(&self, sends: &HashMap<&str, &SendRecord>, delivered: &HashSet<&str>) -> u64 {
        let mut order: HashMap<&str, Vec<u64>> = HashMap::new();
        for d in self.by_entry() {
            if let Some(s) = sends.get(d.body.as_str()) {
                order.entry(s.key.as_str()).or_default().push(s.seq);
            }
        }
        let mut acked: HashMap<&str, Vec<u64>> = HashMap::new();
        for s in &self.sends {
            if s.outcome == Some(SendOutcome::Ok) && delivered.contains(s.body.as_str()) {
                acked.entry(s.key.as_str()).or_default().push(s.seq);
            }
        }
        let mut violations = 0;
        for (key, mut seqs) in acked {
            seqs.sort_unstable();
            let stream = order.get(key).map(Vec::as_slice).unwrap_or_default();
            let mut pos = 0;
            for seq in seqs {
                match stream[pos..].iter().position(|&x| x == seq) {
                    Some(i) => pos += i + 1,
                    None => violations += 1,
                }
            }
        }
        violations
    }

    /// Deliveries that entered the listener while another consumer was inside it for the same queue.
    fn lease_overlaps(&self) -> u64 {
        let mut overlaps = 0;
        // queue -> consumer -> latest exit so far
        let mut inside: HashMap<&MessageQueue, HashMap<&str, Instant>> = HashMap::new();
        for d in self.by_entry() {
            let exits = inside.entry(&d.queue).or_default();
            if exits
                .iter()
                .any(|(&c, &exit)| c != d.consumer && exit > d.entered)
            {
                overlaps += 1;
            }
            let e = exits.entry(d.consumer.as_str()).or_insert(d.exited);
            *e = (*e).max(d.exited);
        }
        overlaps
    }

    /// Committed offsets that went down from one sample of a queue to the next of its epoch.
    fn offset_regressions(&self) -> Vec<(&MessageQueue, i64, i64)> {
        let mut last: HashMap<&MessageQueue, (u32, i64)> = HashMap::new();
        let mut regressions = Vec::new();
        for s in &self.offsets {
            if let Some((epoch, prev)) = last.insert(&s.queue, (s.epoch, s.offset)) {
                if epoch == s.epoch && s.offset < prev {
                    regressions.push((&s.queue, prev, s.offset));
                }
            }
        }
        regressions
    }

    /// The history restricted to sends and deliveries whose body satisfies `keep` (e.g. one
    /// client's bodies, for an order check of its keys only).
    pub fn filter_bodies(&self, keep: impl Fn(&str) -> bool) -> History {
        History {
            sends: self.sends.iter().filter(|s| keep(&s.body)).cloned().collect(),
            stray_completions: self.stray_completions,
            deliveries: self
                .deliveries
                .iter()
                .filter(|d| keep(&d.body))
                .cloned()
                .collect(),
            offsets: self.offsets.clone(),
            drained: self.drained.iter().filter(|b| keep(b)).cloned().collect(),
        }
    }
}

/// Collects a [`History`] from many tasks; clones share it.
///
/// [`Recorder::another_group`] gives a recorder that shares the sends but records its own
/// deliveries, offsets and drain: one per consumer group reading the same sends.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    sends: Arc<Mutex<Sends>>,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Sends {
    list: Vec<SendRecord>,
    /// body -> index in `list`
    index: HashMap<String, usize>,
    stray_completions: u64,
}

#[derive(Debug, Default)]
struct Seen {
    epoch: u32,
    deliveries: Vec<Delivery>,
    offsets: Vec<OffsetSample>,
    drained: HashSet<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// A recorder with the same sends and nothing delivered yet (for a second consumer group).
    pub fn another_group(&self) -> Recorder {
        Recorder {
            sends: self.sends.clone(),
            seen: Arc::default(),
        }
    }

    /// Records that a send of `body` (key `key`, sequence `seq`) starts.
    pub fn invoke(&self, body: &str, key: &str, seq: u64) {
        let mut st = lock(&self.sends);
        let i = st.list.len();
        st.list.push(SendRecord {
            body: body.to_string(),
            key: key.to_string(),
            seq,
            outcome: None,
            completions: 0,
        });
        st.index.insert(body.to_string(), i);
    }

    /// Records how the send of `body` ended. A second completion is counted, not applied.
    pub fn complete(&self, body: &str, outcome: SendOutcome) {
        let mut st = lock(&self.sends);
        match st.index.get(body).copied() {
            Some(i) => {
                let s = &mut st.list[i];
                s.completions += 1;
                if s.completions == 1 {
                    s.outcome = Some(outcome);
                }
            }
            None => st.stray_completions += 1,
        }
    }

    /// Records a delivery.
    pub fn deliver(&self, delivery: Delivery) {
        lock(&self.seen).deliveries.push(delivery);
    }

    /// Records a committed offset read back from the broker.
    pub fn sample_offset(&self, queue: MessageQueue, offset: i64) {
        let mut seen = lock(&self.seen);
        let epoch = seen.epoch;
        seen.offsets.push(OffsetSample { queue, offset, epoch });
    }

    /// Starts a new offset epoch (see [`OffsetSample::epoch`]).
    pub fn new_offset_epoch(&self) {
        lock(&self.seen).epoch += 1;
    }

    /// Records a body found by the final drain of the store (a fresh group from offset 0).
    pub fn drained(&self, body: &str) {
        lock(&self.seen).drained.insert(body.to_string());
    }

    /// Sends invoked so far.
    pub fn sends(&self) -> usize {
        lock(&self.sends).list.len()
    }

    /// Deliveries recorded so far.
    pub fn deliveries(&self) -> usize {
        lock(&self.seen).deliveries.len()
    }

    /// Acked sends not delivered yet.
    pub fn undelivered(&self) -> usize {
        let sends = lock(&self.sends);
        let seen = lock(&self.seen);
        let delivered: HashSet<&str> = seen.deliveries.iter().map(|d| d.body.as_str()).collect();
        sends
            .list
            .iter()
            .filter(|s| s.outcome == Some(SendOutcome::Ok) && !delivered.contains(s.body.as_str()))
            .count()
    }

    /// Whether every acked send has been delivered at least once.
    pub fn all_acked_delivered(&self) -> bool {
        self.undelivered() == 0
    }

    /// A copy of the history so far.
    pub fn history(&self) -> History {
        let sends = lock(&self.sends);
        let seen = lock(&self.seen);
        History {
            sends: sends.list.clone(),
            stray_completions: sends.stray_completions,
            deliveries: seen.deliveries.clone(),
            offsets: seen.offsets.clone(),
            drained: seen.drained.clone(),
        }
    }
}

#[cfg(test)]
#[path = "checker_tests.rs"]
mod tests;
