//! [`ProcessQueue`]: the messages of one assigned queue that were pulled but are not yet consumed, owned
//! by that queue's task (a plain struct: no locks, no async). It decides the offset to commit, tells the
//! task when to stop pulling ([`Thresholds`]) and finds messages whose consumption timed out. Its logic
//! follows Java's `ProcessQueue`.
//!
//! Invariants (checked by the unit tests and `tests/process_queue_props.rs`):
//! - every cached message is keyed by its queue offset, in exactly one of two maps: *waiting*
//!   (pulled, dispatched to the concurrent pool or not yet taken by the orderly loop) and *taken*
//!   (handed to an orderly listener by [`take_messages`](ProcessQueue::take_messages), awaiting
//!   [`commit`](ProcessQueue::commit) or [`rollback`](ProcessQueue::rollback));
//! - [`cached_count`](ProcessQueue::cached_count) and [`cached_bytes`](ProcessQueue::cached_bytes) are
//!   the number and total body length of the messages in both maps, bodies counted as delivered to the
//!   listener, i.e. decompressed (as Java's `ProcessQueue.msgSize`, which adds `getBody().length` of
//!   messages decoded with `decodeDecompressBody`);
//! - [`queue_offset_max`](ProcessQueue::queue_offset_max) is the highest offset ever cached (since the
//!   last [`clear`](ProcessQueue::clear));
//! - the offset [`remove_messages`](ProcessQueue::remove_messages) returns is never above the smallest
//!   waiting offset, so committing it never skips an unconsumed message. With offsets put in
//!   increasing order (as pulls deliver them) it never decreases.

use std::collections::btree_map::{BTreeMap, Entry};
use std::fmt;
use std::time::{Duration, Instant};

use rmq_protocol::message::properties::MAX_OFFSET;
use rmq_protocol::message::MessageExt;

use crate::consumer::config::ConsumerConfig;

/// A queue not pulled for this long is considered stuck and is dropped by the next rebalance
/// (Java `PULL_MAX_IDLE_TIME`, 120 s).
pub const PULL_MAX_IDLE_TIME: Duration = Duration::from_secs(120);
/// An orderly queue lock not renewed for this long is treated as lost
/// (Java `REBALANCE_LOCK_MAX_LIVE_TIME`, 30 s).
pub const REBALANCE_LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(30);
/// How long a queue task waits before checking again while flow control holds its pulls (Java 50 ms).
pub const FLOW_CONTROL_DELAY: Duration = Duration::from_millis(50);

/// The cache limits of one queue; pulling pauses while one is exceeded.
///
/// ```
/// use rmq_client::consumer::config::ConsumerConfig;
/// use rmq_client::consumer::process_queue::Thresholds;
///
/// let cfg = ConsumerConfig::new("G");
/// // 20 queues of this topic assigned, 100 in all: 10000 / 20 = 500 per queue beats the queue limit 1000
/// let t = Thresholds::for_queue(&cfg, 20, 100, false);
/// assert_eq!((t.max_count, t.max_span), (500, Some(2000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Most cached messages.
    pub max_count: usize,
    /// Most cached body bytes.
    pub max_bytes: u64,
    /// Largest distance between the highest and lowest waiting offsets (concurrent consumers only).
    pub max_span: Option<i64>,
}

impl Thresholds {
    /// The limits of one queue of a topic with `topic_queues` queues assigned to this consumer, which
    /// holds `all_queues` queues in total: the strictest of the per-queue limit, the topic limit split
    /// over the topic's queues and the consumer-wide limit split over all queues (each share at least 1).
    /// The span limit applies to concurrent consumers only (`orderly == false`).
    pub fn for_queue(cfg: &ConsumerConfig, topic_queues: usize, all_queues: usize, orderly: bool) -> Self {
        let share = |total: usize, n: usize| (total / n.max(1)).max(1);
        let byte_share = |total: u64, n: usize| (total / u64::try_from(n.max(1)).unwrap_or(u64::MAX)).max(1);
        Thresholds {
            max_count: cfg
                .pull_threshold_of_queue
                .min(share(cfg.pull_threshold_for_topic, topic_queues))
                .min(share(cfg.pull_threshold_for_all, all_queues)),
            max_bytes: cfg
                .pull_threshold_size_of_queue
                .min(byte_share(cfg.pull_threshold_size_for_topic, topic_queues)),
            max_span: (!orderly).then_some(cfg.consume_concurrently_max_span),
        }
    }

    /// How many messages the next pull of a queue holding `cached_count` messages of `cached_bytes`
    /// may ask for, or why it must wait ([`FlowControlReason::NoRoom`]).
    ///
    /// The byte limit is checked before a pull, and what the pull brings is added after the check.
    /// Bodies are counted decompressed, but compressed ones travel small (a compressible 1 MiB body
    /// as ~1 KiB), so a pull of `batch` such messages would add `batch` MiB whatever the limit. The
    /// pull is therefore sized by the room left under `max_bytes`: `room / largest_body` messages,
    /// between 1 and `batch`, where `largest_body` is the largest decompressed body of the queue's
    /// last pull that found messages. When the room holds no such message the pull waits for the
    /// cache to shrink, unless nothing is cached (then it asks for one). With messages of one size
    /// `s` a queue so never caches more than `max(max_bytes, s)`; a pull of messages larger than the
    /// last ones can still overshoot, by at most one pull. Before any pull found a message
    /// (`largest_body` is `None`) one message is asked for, to learn the size.
    ///
    /// ```
    /// use rmq_client::consumer::process_queue::{FlowControlReason, Thresholds};
    ///
    /// let t = Thresholds { max_count: 1000, max_bytes: 10 << 20, max_span: None };
    /// assert_eq!(t.pull_size(0, 0, None, 32), Ok(1)); // size unknown: one message
    /// assert_eq!(t.pull_size(0, 0, Some(100), 32), Ok(32)); // small messages: a full batch
    /// assert_eq!(t.pull_size(2, 2 << 20, Some(1 << 20), 32), Ok(8)); // 8 MiB of room for 1 MiB bodies
    /// assert!(matches!(t.pull_size(9, 9 << 20 | 1, Some(1 << 20), 32), Err(FlowControlReason::NoRoom { .. })));
    /// assert_eq!(t.pull_size(0, 0, Some(64 << 20), 32), Ok(1)); // an empty cache always takes one
    /// ```
    pub fn pull_size(
        &self,
        cached_count: usize,
        cached_bytes: u64,
        largest_body: Option<u64>,
        batch: u32,
    ) -> Result<u32, FlowControlReason> {
        let batch = batch.max(1);
        let Some(message) = largest_body.map(|b| b.max(1)) else {
            return Ok(1);
        };
        let fits = self.max_bytes.saturating_sub(cached_bytes) / message;
        if fits == 0 && cached_count > 0 {
            return Err(FlowControlReason::NoRoom {
                cached: cached_bytes,
                message,
                limit: self.max_bytes,
            });
        }
        Ok(u32::try_from(fits).unwrap_or(u32::MAX).clamp(1, batch))
    }
}

/// Why a queue's pulls are paused ([`ProcessQueue::is_over_thresholds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControlReason {
    /// Too many cached messages.
    Count {
        /// Cached now.
        cached: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many cached body bytes.
    Bytes {
        /// Cached now.
        cached: u64,
        /// The limit.
        limit: u64,
    },
    /// The byte room left under the limit is smaller than the queue's last pulled messages: a pull
    /// would take the cache over it ([`Thresholds::pull_size`]).
    NoRoom {
        /// Cached bytes now.
        cached: u64,
        /// The largest body of the queue's last pull.
        message: u64,
        /// The limit.
        limit: u64,
    },
    /// The waiting offsets span too wide (a slow message holds back the commit).
    Span {
        /// Highest minus lowest waiting offset.
        span: i64,
        /// The limit.
        limit: i64,
    },
}

impl fmt::Display for FlowControlReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count { cached, limit } => write!(f, "{cached} cached messages exceed {limit}"),
            Self::Bytes { cached, limit } => write!(f, "{cached} cached bytes exceed {limit}"),
            Self::NoRoom {
                cached,
                message,
                limit,
            } => write!(
                f,
                "{cached} cached bytes leave no room under {limit} for another {message}-byte message"
            ),
            Self::Span { span, limit } => write!(f, "cached offset span {span} exceeds {limit}"),
        }
    }
}

#[derive(Debug)]
struct Waiting {
    msg: MessageExt,
    consume_started: Option<Instant>,
}

/// The pulled, unconsumed messages of one queue (see the [module docs](self) for the invariants).
///
/// ```
/// use rmq_client::consumer::process_queue::ProcessQueue;
/// use rmq_protocol::message::MessageExt;
///
/// let msg = |offset| MessageExt { queue_offset: offset, ..Default::default() };
/// let mut pq = ProcessQueue::new();
/// pq.put_messages(vec![msg(10), msg(11), msg(12)]);
/// assert_eq!(pq.remove_messages(&[11]), Some(10)); // 10 is still being consumed
/// assert_eq!(pq.remove_messages(&[10]), Some(12));
/// assert_eq!(pq.remove_messages(&[12]), Some(13)); // everything consumed: highest + 1
/// ```
#[derive(Debug)]
pub struct ProcessQueue {
    waiting: BTreeMap<i64, Waiting>,
    taken: BTreeMap<i64, MessageExt>,
    cached_count: usize,
    cached_bytes: u64,
    queue_offset_max: Option<i64>,
    dispatching: bool,
    acc_count: i64,
    /// Set when the queue is no longer ours (rebalanced away, offset moved, shutdown); its task stops
    /// and discards pulled messages and results.
    pub dropped: bool,
    /// Orderly consumer: whether this client holds the broker lock of the queue.
    pub locked: bool,
    /// Orderly consumer: when the lock was last obtained or renewed.
    pub last_lock_time: Option<Instant>,
    /// When the queue was last pulled (set by the queue task).
    pub last_pull: Instant,
    /// When messages were last removed or taken for consumption.
    pub last_consume: Instant,
}

impl Default for ProcessQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessQueue {
    /// An empty queue cache.
    pub fn new() -> Self {
        let now = Instant::now();
        ProcessQueue {
            waiting: BTreeMap::new(),
            taken: BTreeMap::new(),
            cached_count: 0,
            cached_bytes: 0,
            queue_offset_max: None,
            dispatching: false,
            acc_count: 0,
            dropped: false,
            locked: false,
            last_lock_time: None,
            last_pull: now,
            last_consume: now,
        }
    }

    /// Cache pulled messages. A message whose offset is already cached is ignored (the cached copy
    /// stays). Returns whether the orderly consume loop must be started: true when messages are waiting
    /// and the loop was idle (it then counts as running until [`take_messages`](Self::take_messages)
    /// finds nothing). Concurrent consumers dispatch every pulled batch and may ignore it.
    pub fn put_messages(&mut self, msgs: Vec<MessageExt>) -> bool {
        if let Some(last) = msgs.last() {
            let max = last
                .property(MAX_OFFSET)
                .and_then(|v| v.trim().parse::<i64>().ok());
            if let Some(behind) = max.map(|m| m - last.queue_offset).filter(|b| *b > 0) {
                self.acc_count = behind;
            }
        }
        for msg in msgs {
            let offset = msg.queue_offset;
            if self.taken.contains_key(&offset) {
                continue;
            }
            if let Entry::Vacant(slot) = self.waiting.entry(offset) {
                self.cached_count += 1;
                self.cached_bytes += body_len(&msg);
                self.queue_offset_max = Some(self.queue_offset_max.map_or(offset, |m| m.max(offset)));
                slot.insert(Waiting {
                    msg,
                    consume_started: None,
                });
            }
        }
        if !self.waiting.is_empty() && !self.dispatching {
            self.dispatching = true;
            return true;
        }
        false
    }

    /// Forget consumed messages (concurrent consumer) and return the offset to commit (Java
    /// `removeMessage`): the smallest offset still waiting, or the highest cached offset + 1 when none
    /// is. `None` (Java's -1) when nothing was waiting before the call: nothing to commit.
    pub fn remove_messages(&mut self, offsets: &[i64]) -> Option<i64> {
        self.last_consume = Instant::now();
        if self.waiting.is_empty() {
            return None;
        }
        for offset in offsets {
            if let Some(w) = self.waiting.remove(offset) {
                self.forget(&w.msg);
            }
        }
        match self.waiting.keys().next() {
            Some(first) => Some(*first),
            None => self.queue_offset_max.map(|m| m + 1),
        }
    }

    /// Record that consumption of these messages began at `at` (the start of the listener call), for
    /// [`expired_messages`](Self::expired_messages).
    pub fn mark_consume_started(&mut self, offsets: &[i64], at: Instant) {
        for offset in offsets {
            if let Some(w) = self.waiting.get_mut(offset) {
                w.consume_started = Some(at);
            }
        }
    }

    /// Up to `limit` waiting messages, lowest offsets first, whose consumption started more than
    /// `consume_timeout` before `now` (Java `cleanExpiredMsg`: only the head of the queue, stopping at
    /// the first message not expired or not started). The caller sends them back for redelivery and, if
    /// that worked, [removes](Self::remove_messages) them.
    pub fn expired_messages(&self, consume_timeout: Duration, now: Instant, limit: usize) -> Vec<MessageExt> {
        self.waiting
            .values()
            .take(limit)
            .map_while(|w| {
                let started = w.consume_started?;
                (now.saturating_duration_since(started) > consume_timeout).then(|| w.msg.clone())
            })
            .collect()
    }

    /// Highest minus lowest waiting offset, 0 when none waits (Java `getMaxSpan`).
    pub fn max_span(&self) -> i64 {
        match (self.waiting.keys().next(), self.waiting.keys().next_back()) {
            (Some(first), Some(last)) => last - first,
            _ => 0,
        }
    }

    /// Number of cached messages (waiting and taken).
    pub fn cached_count(&self) -> usize {
        self.cached_count
    }

    /// Total body bytes of the cached messages.
    pub fn cached_bytes(&self) -> u64 {
        self.cached_bytes
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.cached_count == 0
    }

    /// The highest offset cached since creation or the last [`clear`](Self::clear).
    pub fn queue_offset_max(&self) -> Option<i64> {
        self.queue_offset_max
    }

    /// The smallest waiting offset.
    pub fn min_offset(&self) -> Option<i64> {
        self.waiting.keys().next().copied()
    }

    /// Whether `offset` is cached (waiting or taken).
    pub fn contains(&self, offset: i64) -> bool {
        self.waiting.contains_key(&offset) || self.taken.contains_key(&offset)
    }

    /// The waiting messages, lowest offset first.
    pub fn waiting_messages(&self) -> impl Iterator<Item = &MessageExt> + '_ {
        self.waiting.values().map(|w| &w.msg)
    }

    /// Messages stored on the broker behind the last pulled one (from the pull's MAX_OFFSET), for
    /// consumer running info (Java `msgAccCnt`).
    pub fn acc_count(&self) -> i64 {
        self.acc_count
    }

    /// The first exceeded limit, checked in Java's order: count, bytes, span (when set).
    pub fn is_over_thresholds(&self, t: &Thresholds) -> Option<FlowControlReason> {
        if self.cached_count > t.max_count {
            return Some(FlowControlReason::Count {
                cached: self.cached_count,
                limit: t.max_count,
            });
        }
        if self.cached_bytes > t.max_bytes {
            return Some(FlowControlReason::Bytes {
                cached: self.cached_bytes,
                limit: t.max_bytes,
            });
        }
        let span = self.max_span();
        match t.max_span {
            Some(limit) if span > limit => Some(FlowControlReason::Span { span, limit }),
            _ => None,
        }
    }

    /// Whether the next pull may be sent and how many messages it may ask for: the
    /// [thresholds](Self::is_over_thresholds), then the byte room for messages of `largest_body`
    /// ([`Thresholds::pull_size`]).
    pub fn pull_size(
        &self,
        t: &Thresholds,
        largest_body: Option<u64>,
        batch: u32,
    ) -> Result<u32, FlowControlReason> {
        match self.is_over_thresholds(t) {
            Some(reason) => Err(reason),
            None => t.pull_size(self.cached_count, self.cached_bytes, largest_body, batch),
        }
    }

    /// Orderly: move up to `batch` lowest waiting messages to the taken set and return copies. When
    /// nothing waits, the consume loop counts as idle again (see [`put_messages`](Self::put_messages)).
    pub fn take_messages(&mut self, batch: usize) -> Vec<MessageExt> {
        self.last_consume = Instant::now();
        let mut out = Vec::with_capacity(batch.min(self.waiting.len()));
        while out.len() < batch {
            let Some((offset, w)) = self.waiting.pop_first() else {
                break;
            };
            out.push(w.msg.clone());
            self.taken.insert(offset, w.msg);
        }
        if out.is_empty() {
            self.dispatching = false;
        }
        out
    }

    /// Orderly: the taken messages are consumed; forget them and return the offset to commit
    /// (highest taken + 1), or `None` when nothing was taken (Java `commit`).
    pub fn commit(&mut self) -> Option<i64> {
        let taken = std::mem::take(&mut self.taken);
        for msg in taken.values() {
            self.forget(msg);
        }
        taken.keys().next_back().map(|last| last + 1)
    }

    /// Orderly: put every taken message back to waiting, to be taken again (Java `rollback`).
    pub fn rollback(&mut self) {
        for (offset, msg) in std::mem::take(&mut self.taken) {
            self.waiting.insert(
                offset,
                Waiting {
                    msg,
                    consume_started: None,
                },
            );
        }
    }

    /// Orderly: put these taken messages (possibly updated, e.g. their reconsume times) back to waiting
    /// so they are consumed again first (Java `makeMessageToConsumeAgain`). Messages not cached yet are
    /// cached; a waiting copy is replaced.
    pub fn make_available(&mut self, msgs: Vec<MessageExt>) {
        for msg in msgs {
            let offset = msg.queue_offset;
            let old = self
                .taken
                .remove(&offset)
                .or_else(|| self.waiting.remove(&offset).map(|w| w.msg));
            match old {
                Some(old) => self.forget(&old),
                None => self.queue_offset_max = Some(self.queue_offset_max.map_or(offset, |m| m.max(offset))),
            }
            self.cached_count += 1;
            self.cached_bytes += body_len(&msg);
            let waiting = Waiting {
                msg,
                consume_started: None,
            };
            self.waiting.insert(offset, waiting);
        }
    }

    /// Number of taken (orderly, being consumed) messages.
    pub fn taken_count(&self) -> usize {
        self.taken.len()
    }

    /// Orderly: whether the lock was never obtained or not renewed within
    /// [`REBALANCE_LOCK_MAX_LIVE_TIME`] before `now`.
    pub fn is_lock_expired(&self, now: Instant) -> bool {
        self.last_lock_time
            .is_none_or(|t| now.saturating_duration_since(t) > REBALANCE_LOCK_MAX_LIVE_TIME)
    }

    /// Whether the queue was not pulled within [`PULL_MAX_IDLE_TIME`] before `now`.
    pub fn is_pull_expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_pull) > PULL_MAX_IDLE_TIME
    }

    /// Forget every cached message (e.g. before the queue is dropped or its offset is reset).
    pub fn clear(&mut self) {
        self.waiting.clear();
        self.taken.clear();
        self.cached_count = 0;
        self.cached_bytes = 0;
        self.queue_offset_max = None;
        self.dispatching = false;
    }

    fn forget(&mut self, msg: &MessageExt) {
        self.cached_count -= 1;
        self.cached_bytes -= body_len(msg);
    }
}

fn body_len(msg: &MessageExt) -> u64 {
    u64::try_from(msg.body.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(offset: i64, len: usize) -> MessageExt {
        let mut m = MessageExt {
            queue_offset: offset,
            ..Default::default()
        };
        m.body = vec![b'x'; len].into();
        m
    }

    fn msgs(offsets: impl IntoIterator<Item = i64>) -> Vec<MessageExt> {
        offsets.into_iter().map(|o| msg(o, 10)).collect()
    }

    #[test]
    fn put_counts_dedups_and_tracks_dispatch() {
        let mut pq = ProcessQueue::default();
        assert!(!pq.put_messages(vec![]));
        assert!(pq.put_messages(msgs([5, 6])));
        assert!(!pq.put_messages(vec![msg(6, 99), msg(7, 3)]));
        assert_eq!((pq.cached_count(), pq.cached_bytes()), (3, 23));
        assert_eq!((pq.queue_offset_max(), pq.min_offset()), (Some(7), Some(5)));
        assert!(pq.contains(6) && !pq.contains(8));
        assert_eq!(
            pq.waiting_messages().map(|m| m.queue_offset).collect::<Vec<_>>(),
            [5, 6, 7]
        );
        let mut last = msg(8, 0);
        last.put_property(MAX_OFFSET, "20");
        pq.put_messages(vec![last]);
        assert_eq!(pq.acc_count(), 12);
    }

    #[test]
    fn remove_returns_java_commit_offset() {
        let mut pq = ProcessQueue::new();
        assert_eq!(pq.remove_messages(&[1]), None);
        pq.put_messages(msgs([0, 1, 2, 3]));
        assert_eq!(pq.remove_messages(&[2, 3]), Some(0));
        assert_eq!(pq.remove_messages(&[42]), Some(0));
        assert_eq!(pq.remove_messages(&[0]), Some(1));
        assert_eq!(pq.remove_messages(&[1]), Some(4));
        assert_eq!(pq.remove_messages(&[1]), None);
        assert!(pq.is_empty() && pq.cached_bytes() == 0);
        pq.put_messages(msgs([10, 20]));
        assert_eq!(pq.remove_messages(&[10, 20]), Some(21));
    }

    #[test]
    fn span_and_thresholds() {
        let mut pq = ProcessQueue::new();
        assert_eq!(pq.max_span(), 0);
        pq.put_messages(msgs([3, 9]));
        assert_eq!(pq.max_span(), 6);
        let t = |c, b, s| Thresholds {
            max_count: c,
            max_bytes: b,
            max_span: s,
        };
        assert_eq!(pq.is_over_thresholds(&t(2, 20, Some(6))), None);
        let over = pq.is_over_thresholds(&t(1, 0, Some(0)));
        assert_eq!(over, Some(FlowControlReason::Count { cached: 2, limit: 1 }));
        assert_eq!(
            pq.is_over_thresholds(&t(2, 19, Some(0))),
            Some(FlowControlReason::Bytes {
                cached: 20,
                limit: 19
            })
        );
        let span = pq.is_over_thresholds(&t(2, 20, Some(5))).unwrap();
        assert_eq!(span.to_string(), "cached offset span 6 exceeds 5");
        assert_eq!(pq.is_over_thresholds(&t(2, 20, None)), None);
    }

    #[test]
    fn bytes_are_counted_decompressed() {
        use rmq_protocol::message::{
            compress, encode_message_ext, sysflag, CompressionType, DecodeOptions, MessageIter,
        };

        // A compressible body as a pull answer carries it: compressed, flagged.
        let body = vec![b'x'; 256 << 10];
        let mut stored = msg(7, 0);
        stored.message.topic = "T".into();
        stored.sys_flag = sysflag::COMPRESSED | sysflag::COMPRESSION_ZLIB;
        stored.message.body = compress(CompressionType::Zlib, 5, &body).unwrap().into();
        let wire = encode_message_ext(&stored).unwrap();
        assert!(wire.len() < 4096, "{} bytes on the wire", wire.len());
        let decoded: Vec<MessageExt> = MessageIter::new(wire, DecodeOptions::default())
            .collect::<Result<_, _>>()
            .unwrap();
        let mut pq = ProcessQueue::new();
        pq.put_messages(decoded);
        assert_eq!(pq.cached_bytes(), body.len() as u64);
        assert_eq!(pq.remove_messages(&[7]), Some(8));
        assert_eq!(pq.cached_bytes(), 0);
    }

    #[test]
    fn pull_size_keeps_the_cache_within_the_byte_limit() {
        const MIB: u64 = 1 << 20;
        // 64 queues sharing 100 MiB: 1.5625 MiB each.
        let t = Thresholds {
            max_count: 1000,
            max_bytes: 100 * MIB / 64,
            max_span: Some(2000),
        };
        // Compressible 1 MiB bodies: simulate pulls that bring `asked` messages each (the broker has
        // a backlog), against consumption of one message between some pulls.
        let mut pq = ProcessQueue::new();
        let mut largest = None;
        let mut next = 0i64;
        let mut peak = 0;
        for round in 0..50 {
            match pq.pull_size(&t, largest, 32) {
                Ok(n) => {
                    let batch: Vec<MessageExt> =
                        (0..i64::from(n)).map(|i| msg(next + i, MIB as usize)).collect();
                    next += i64::from(n);
                    largest = batch.iter().map(|m| m.body.len() as u64).max();
                    pq.put_messages(batch);
                }
                Err(reason) => assert!(matches!(reason, FlowControlReason::NoRoom { .. }), "{reason}"),
            }
            peak = peak.max(pq.cached_bytes());
            if round % 3 == 2 {
                let first = pq.min_offset().unwrap();
                pq.remove_messages(&[first]);
            }
        }
        assert_eq!(peak, MIB, "one 1 MiB message fits a 1.56 MiB share");
        assert!(next > 10, "the queue kept pulling: {next}");

        // Without the room rule a pull of 32 compressed 1 MiB messages adds 32 MiB; with it, small
        // messages still get full batches and a cache over the limit still waits.
        assert_eq!(t.pull_size(0, 0, Some(1024), 32), Ok(32));
        assert_eq!(t.pull_size(1, MIB, Some(1024), 32), Ok(32));
        let over = pq_with(2, MIB as usize).pull_size(&t, Some(1024), 32);
        assert!(matches!(over, Err(FlowControlReason::Bytes { .. })), "{over:?}");
        // A body larger than the share: one at a time, only into an empty cache.
        assert_eq!(t.pull_size(0, 0, Some(4 * MIB), 32), Ok(1));
        let wait = t.pull_size(1, 4 * MIB, Some(4 * MIB), 32).unwrap_err();
        assert_eq!(
            wait.to_string(),
            format!(
                "{} cached bytes leave no room under {} for another {}-byte message",
                4 * MIB,
                t.max_bytes,
                4 * MIB
            )
        );
        // Empty bodies do not divide by zero.
        assert_eq!(t.pull_size(5, 0, Some(0), 32), Ok(32));
    }

    fn pq_with(count: i64, len: usize) -> ProcessQueue {
        let mut pq = ProcessQueue::new();
        pq.put_messages((0..count).map(|o| msg(o, len)).collect());
        pq
    }

    #[test]
    fn thresholds_from_config() {
        let mut cfg = ConsumerConfig::new("G");
        let t = Thresholds::for_queue(&cfg, 4, 8, true);
        assert_eq!(
            t,
            Thresholds {
                max_count: 1000,
                max_bytes: 25 << 20,
                max_span: None
            }
        );
        cfg.pull_threshold_for_all = 10;
        let t = Thresholds::for_queue(&cfg, 0, 100, false);
        assert_eq!((t.max_count, t.max_bytes, t.max_span), (1, 100 << 20, Some(2000)));
    }

    #[test]
    fn expired_messages_only_at_the_head() {
        let mut pq = ProcessQueue::new();
        pq.put_messages(msgs([1, 2, 3, 4]));
        let t0 = Instant::now();
        let timeout = Duration::from_secs(60);
        let later = t0 + Duration::from_secs(61);
        assert!(pq.expired_messages(timeout, later, 16).is_empty());
        pq.mark_consume_started(&[1, 2, 4, 99], t0);
        pq.mark_consume_started(&[3], t0 + Duration::from_secs(30));
        let off = |v: Vec<MessageExt>| v.iter().map(|m| m.queue_offset).collect::<Vec<_>>();
        assert_eq!(off(pq.expired_messages(timeout, later, 16)), [1, 2]);
        assert_eq!(off(pq.expired_messages(timeout, later, 1)), [1]);
        assert!(pq.expired_messages(timeout, t0, 16).is_empty());
        assert_eq!(
            off(pq.expired_messages(timeout, later + timeout, 16)),
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn orderly_take_commit_rollback() {
        let mut pq = ProcessQueue::new();
        assert!(pq.put_messages(msgs([0, 1, 2])));
        let batch = pq.take_messages(2);
        assert_eq!(batch.len(), 2);
        assert_eq!((pq.taken_count(), pq.cached_count(), pq.max_span()), (2, 3, 0));
        assert!(
            !pq.put_messages(msgs([1, 3])),
            "loop still running; taken offset 1 ignored"
        );
        assert_eq!(pq.cached_count(), 4);
        assert_eq!(pq.commit(), Some(2));
        assert_eq!((pq.cached_count(), pq.cached_bytes()), (2, 20));
        assert_eq!(pq.commit(), None);

        assert_eq!(pq.take_messages(10).len(), 2);
        pq.rollback();
        assert_eq!((pq.taken_count(), pq.min_offset()), (0, Some(2)));
        let mut again = pq.take_messages(1);
        again[0].reconsume_times = 3;
        again[0].body = vec![0; 4].into();
        pq.make_available(again);
        assert_eq!(
            (pq.taken_count(), pq.cached_count(), pq.cached_bytes()),
            (0, 2, 14)
        );
        assert_eq!(pq.waiting_messages().next().unwrap().reconsume_times, 3);
        pq.make_available(vec![msg(9, 1)]);
        assert_eq!((pq.cached_count(), pq.queue_offset_max()), (3, Some(9)));

        assert_eq!(pq.take_messages(5).len(), 3);
        assert!(pq.take_messages(5).is_empty(), "idle again");
        assert!(pq.put_messages(msgs([10])), "idle loop must be restarted");
    }

    #[test]
    fn locks_expiry_and_clear() {
        let mut pq = ProcessQueue::new();
        let now = Instant::now();
        assert!(pq.is_lock_expired(now));
        pq.last_lock_time = Some(now);
        assert!(!pq.is_lock_expired(now + REBALANCE_LOCK_MAX_LIVE_TIME));
        assert!(pq.is_lock_expired(now + REBALANCE_LOCK_MAX_LIVE_TIME + Duration::from_millis(1)));
        pq.last_pull = now;
        assert!(!pq.is_pull_expired(now + PULL_MAX_IDLE_TIME));
        assert!(pq.is_pull_expired(now + PULL_MAX_IDLE_TIME + Duration::from_millis(1)));
        pq.put_messages(msgs([1, 2]));
        pq.take_messages(1);
        pq.clear();
        assert!(pq.is_empty() && pq.cached_bytes() == 0 && pq.taken_count() == 0);
        assert_eq!((pq.queue_offset_max(), pq.remove_messages(&[2])), (None, None));
        assert!(pq.put_messages(msgs([5])));
    }
}
