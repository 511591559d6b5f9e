//! The pulling side of the [`LitePullConsumer`](super::LitePullConsumer): one prefetch task per held
//! queue pulls into a shared channel that `poll` drains, within the pull thresholds (each pull sized
//! to the byte room left, `Thresholds::pull_size`), unless the queue is paused. `seek` moves a queue's task and invalidates what it prefetched (an epoch per queue):
//! batches of an old epoch, or of a queue no longer held, are dropped by `poll`, never returned or
//! committed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_protocol::message::{MessageExt, MessageQueue};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::consumer::ConsumerInner;
use super::puller::{PullOutcome, Puller};
use super::rebalance::QueueCounts;
use crate::consumer::process_queue::FLOW_CONTROL_DELAY;

/// Messages prefetched from one queue, in offset order.
pub(crate) struct Batch {
    pub(crate) mq: MessageQueue,
    pub(crate) epoch: u64,
    pub(crate) msgs: Vec<MessageExt>,
    pub(crate) bytes: u64,
}

/// What `poll` and the prefetch task of one queue share.
#[derive(Debug)]
pub(crate) struct PrefetchQueue {
    /// Bumped by `seek`: batches of older epochs are stale.
    pub(crate) epoch: AtomicU64,
    pub(crate) paused: AtomicBool,
    /// Prefetched, not yet polled (current epoch).
    pub(crate) cached_count: AtomicU64,
    pub(crate) cached_bytes: AtomicU64,
    /// The offset after the last message `poll` returned (what `commit` stores); -1 before any.
    pub(crate) consumed: AtomicI64,
    /// Where `seek` asked the task to continue.
    pub(crate) seek_to: Mutex<Option<i64>>,
    /// Wakes a waiting task (resume, room freed).
    pub(crate) wake: Notify,
    /// Interrupts the task, even mid-pull (seek).
    seeked: Notify,
}

impl PrefetchQueue {
    fn new() -> Self {
        PrefetchQueue {
            epoch: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            cached_count: AtomicU64::new(0),
            cached_bytes: AtomicU64::new(0),
            consumed: AtomicI64::new(-1),
            seek_to: Mutex::new(None),
            wake: Notify::new(),
            seeked: Notify::new(),
        }
    }

    /// Forget what was prefetched and continue from `offset`.
    pub(crate) fn seek(&self, offset: i64) {
        self.epoch.fetch_add(1, Relaxed);
        self.cached_count.store(0, Relaxed);
        self.cached_bytes.store(0, Relaxed);
        self.consumed.store(offset, Relaxed);
        if let Ok(mut s) = self.seek_to.lock() {
            *s = Some(offset);
        }
        self.seeked.notify_one();
    }

    /// A batch left the channel.
    pub(crate) fn taken(&self, b: &Batch) {
        if b.epoch == self.epoch.load(Relaxed) {
            let _ = self
                .cached_count
                .fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(b.msgs.len() as u64)));
            let _ = self
                .cached_bytes
                .fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(b.bytes)));
            self.wake.notify_one();
        }
    }
}

/// The prefetch channel and the state of every held queue.
pub(crate) struct PrefetchShared {
    tx: mpsc::UnboundedSender<Batch>,
    pub(crate) rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Batch>>,
    queues: Mutex<HashMap<MessageQueue, Arc<PrefetchQueue>>>,
    /// `assign` mode: the queues to read (no rebalancing); `None` when subscribed.
    pub(crate) assigned: Mutex<Option<Vec<MessageQueue>>>,
}

impl std::fmt::Debug for PrefetchShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefetchShared").finish_non_exhaustive()
    }
}

impl PrefetchShared {
    pub(crate) fn new(assigned: Option<Vec<MessageQueue>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        PrefetchShared {
            tx,
            rx: tokio::sync::Mutex::new(rx),
            queues: Mutex::new(HashMap::new()),
            assigned: Mutex::new(assigned),
        }
    }

    /// The state of a held queue.
    pub(crate) fn queue(&self, mq: &MessageQueue) -> Option<Arc<PrefetchQueue>> {
        self.queues.lock().ok().and_then(|q| q.get(mq).cloned())
    }

    /// Every held queue.
    pub(crate) fn held(&self) -> Vec<(MessageQueue, Arc<PrefetchQueue>)> {
        self.queues
            .lock()
            .map(|q| q.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The queues of `topic` to hold in `assign` mode.
    pub(crate) fn assigned_of(&self, topic: &str) -> Option<Vec<MessageQueue>> {
        self.assigned.lock().ok().and_then(|a| {
            a.as_ref()
                .map(|a| a.iter().filter(|q| q.topic == topic).cloned().collect())
        })
    }

    pub(crate) fn remove(&self, mq: &MessageQueue) {
        if let Ok(mut q) = self.queues.lock() {
            if let Some(s) = q.remove(mq) {
                // Anything still in the channel for it is stale now.
                s.epoch.fetch_add(1, Relaxed);
            }
        }
    }

    fn add(&self, mq: &MessageQueue, offset: i64) -> Arc<PrefetchQueue> {
        let state = Arc::new(PrefetchQueue::new());
        state.consumed.store(offset, Relaxed);
        if let Ok(mut q) = self.queues.lock() {
            q.insert(mq.clone(), state.clone());
        }
        state
    }
}

/// Prefetches one queue.
pub(crate) struct PrefetchTask {
    inner: Arc<ConsumerInner>,
    shared: Arc<PrefetchShared>,
    state: Arc<PrefetchQueue>,
    puller: Puller,
    counts: watch::Receiver<QueueCounts>,
    cancel: CancellationToken,
}

impl PrefetchTask {
    pub(crate) fn new(
        inner: Arc<ConsumerInner>,
        shared: Arc<PrefetchShared>,
        mq: MessageQueue,
        offset: i64,
        cancel: CancellationToken,
    ) -> Self {
        let state = shared.add(&mq, offset);
        let counts = inner.queue_counts.subscribe();
        let puller = Puller::new(inner.clone(), mq, offset);
        PrefetchTask {
            inner,
            shared,
            state,
            puller,
            counts,
            cancel,
        }
    }

    /// How many messages the next pull may ask for; `None` while the prefetched messages are over
    /// the thresholds or leave no byte room for another message of the last pull's size.
    fn pull_size(&self) -> Option<u32> {
        let t = self
            .counts
            .borrow()
            .thresholds(&self.inner.config, &self.puller.mq.topic, true);
        let (count, bytes) = (
            self.state.cached_count.load(Relaxed) as usize,
            self.state.cached_bytes.load(Relaxed),
        );
        if count > t.max_count || bytes > t.max_bytes {
            return None;
        }
        t.pull_size(
            count,
            bytes,
            self.puller.largest_body(),
            self.inner.config.pull_batch_size,
        )
        .ok()
    }

    pub(crate) async fn run(mut self) -> bool {
        let mut pause = Duration::ZERO;
        loop {
            if let Some(o) = self.state.seek_to.lock().ok().and_then(|mut s| s.take()) {
                self.puller.next_offset = o;
            }
            let size = self.pull_size();
            if !pause.is_zero() || self.state.paused.load(Relaxed) || size.is_none() {
                let wait = if pause.is_zero() {
                    FLOW_CONTROL_DELAY * 4
                } else {
                    pause
                };
                pause = Duration::ZERO;
                tokio::select! {
                    _ = self.cancel.cancelled() => break,
                    _ = self.state.wake.notified() => {}
                    _ = self.state.seeked.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            let epoch = self.state.epoch.load(Relaxed);
            let pulled = tokio::select! {
                _ = self.cancel.cancelled() => break,
                // A seek while the pull is out makes its answer stale: start over from the new offset.
                _ = self.state.seeked.notified() => continue,
                p = self.puller.pull(size.unwrap_or(1)) => p,
            };
            let outcome = self.puller.on_pulled(pulled);
            if self.state.epoch.load(Relaxed) != epoch {
                continue;
            }
            match outcome {
                PullOutcome::Found(msgs) => {
                    let bytes: u64 = msgs.iter().map(|m| m.body.len() as u64).sum();
                    self.state.cached_count.fetch_add(msgs.len() as u64, Relaxed);
                    self.state.cached_bytes.fetch_add(bytes, Relaxed);
                    let batch = Batch {
                        mq: self.puller.mq.clone(),
                        epoch,
                        msgs,
                        bytes,
                    };
                    if self.shared.tx.send(batch).is_err() {
                        break;
                    }
                    pause = self.inner.config.pull_interval;
                }
                PullOutcome::Empty => {}
                PullOutcome::OffsetMoved { from, to } => {
                    warn!(queue = %self.puller.mq, from, to, "offset moved");
                }
                PullOutcome::Backoff(p) => pause = p,
            }
        }
        true
    }
}
