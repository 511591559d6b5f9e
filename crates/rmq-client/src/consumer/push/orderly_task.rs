//! One task per queue of an [`OrderlyConsumer`](super::OrderlyConsumer): it pulls while this client
//! holds the queue's broker lock and hands the listener one batch at a time, lowest offsets first.
//!
//! After a successful batch the offset is committed in memory and stored on the broker in the
//! background, one store at a time, the latest offset each time: the next batch does not wait for the
//! broker's answer (waiting cost a round trip per message and left the queue behind its producers), and
//! the broker's offset trails the consumed one by at most the batches of one round trip. While the
//! offset cannot be stored because the broker is unreachable, no new batch starts (its result could not
//! be committed, and the broker would deliver it again after its restart); the store is retried every
//! second. A suspended batch is consumed again after the suspend time with its reconsume times increased; a
//! message suspended `orderly_max_reconsume_times` times goes to the group's DLQ and the queue moves on.
//! When the lock is not valid (lost, or not renewed for 30 s) nothing is pulled or consumed; the task
//! tries to lock the queue again every second, and after regaining a lost lock it restarts from the
//! offset stored on the broker.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::message::{MessageExt, MessageQueue};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use super::consumer::ConsumerInner;
use super::listeners::OrderlyListener;
use super::lock::{lock_batch, QueueLock};
use super::puller::{publish_cache, send_back, sleep_until_opt, PullFuture, PullOutcome, Pulled, Puller};
use super::rebalance::QueueCounts;
use crate::consumer::listener::{ConsumeOrderlyContext, ConsumeOrderlyResult};
use crate::consumer::process_queue::{ProcessQueue, Thresholds, FLOW_CONTROL_DELAY};
use crate::telemetry::consumer::consume_span;

/// Pause between attempts to (re)lock a queue whose lock is not valid.
const RELOCK_INTERVAL: Duration = Duration::from_secs(1);
/// Pause before storing the offset again after the broker could not be reached.
const STORE_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Least time a stopping queue waits for its running batch before leaving its lock to expire.
const MIN_DRAIN: Duration = Duration::from_secs(3);
/// Delay level of a send-back that must go straight to the DLQ.
const TO_DLQ: i32 = -1;

/// What a finished piece of work (listener call, offset store, relock) reports.
enum Step {
    /// A listener call ended. `retry` are the messages to consume again (reconsume times already
    /// increased); empty means the batch is done (consumed, or its poison messages are in the DLQ).
    Consumed {
        retry: Vec<MessageExt>,
        suspend: Duration,
    },
    /// The listener call did not run to completion (the runtime is stopping): consume it again.
    Abandoned,
    /// A relock attempt ended; `restart_at` is the stored offset when a lost lock was regained.
    Relocked { restart_at: Option<i64> },
}

type Work = Pin<Box<dyn Future<Output = Step> + Send>>;

/// A store of the committed offset on the broker: the offset written and whether the broker could
/// not be reached.
type Store = Pin<Box<dyn Future<Output = (i64, bool)> + Send>>;

pub(crate) struct OrderlyQueueTask {
    inner: Arc<ConsumerInner>,
    listener: OrderlyListener,
    mq: MessageQueue,
    puller: Puller,
    pq: ProcessQueue,
    cancel: CancellationToken,
    counts: watch::Receiver<QueueCounts>,
    lock: Arc<QueueLock>,
    /// Whether the lock was lost since it was last held (regaining it restarts from the broker).
    lost: bool,
    /// The committed offset last stored on the broker (or read from it).
    stored: i64,
    /// The last store could not reach the broker: no batch starts until a store succeeds, retried
    /// at this time.
    store_retry_at: Option<Instant>,
}

impl OrderlyQueueTask {
    pub(crate) fn new(
        inner: Arc<ConsumerInner>,
        listener: OrderlyListener,
        mq: MessageQueue,
        offset: i64,
        lock: Arc<QueueLock>,
        cancel: CancellationToken,
    ) -> Self {
        let counts = inner.queue_counts.subscribe();
        let puller = Puller::new(inner.clone(), mq.clone(), offset);
        OrderlyQueueTask {
            inner,
            listener,
            mq,
            puller,
            pq: ProcessQueue::new(),
            cancel,
            counts,
            lock,
            lost: false,
            stored: offset,
            store_retry_at: None,
        }
    }

    fn thresholds(&self) -> Thresholds {
        self.counts
            .borrow()
            .thresholds(&self.inner.config, &self.mq.topic, true)
    }

    /// Run until cancelled; returns whether the last listener call finished (only then may the
    /// queue's lock be released: otherwise a new owner could run its listener on the same queue while
    /// ours is still running).
    pub(crate) async fn run(mut self) -> bool {
        let mut pull: Option<PullFuture> = None;
        let mut pull_at: Option<Instant> = Some(Instant::now());
        let mut work: Option<Work> = None;
        let mut store: Option<Store> = None;
        let mut consume_at: Option<Instant> = None;
        let mut relock_at = Instant::now();
        let batch = self.inner.config.consume_message_batch_max_size.max(1);
        loop {
            let now = Instant::now();
            let locked = self.lock.is_valid(now.into_std());
            if !locked && !self.lost {
                debug!(queue = %self.mq, "queue lock not valid; consumption paused");
                self.lost = true;
            }
            if pull.is_none() && locked && pull_at.is_some_and(|t| t <= now) {
                let batch = self.inner.config.pull_batch_size;
                match self
                    .pq
                    .pull_size(&self.thresholds(), self.puller.largest_body(), batch)
                {
                    Err(_) => pull_at = Some(now + FLOW_CONTROL_DELAY),
                    Ok(n) => {
                        pull = Some(self.puller.pull(n));
                        pull_at = None;
                    }
                }
            }
            if store.is_none() && self.store_retry_at.is_none_or(|t| t <= now) {
                store = self.store_if_behind();
            }
            // A batch whose result cannot be stored is not started.
            let can_commit = self.store_retry_at.is_none();
            if work.is_none() && consume_at.is_none_or(|t| t <= now) {
                if !locked {
                    if relock_at <= now {
                        work = Some(self.relock());
                        relock_at = now + RELOCK_INTERVAL;
                    }
                } else if can_commit {
                    let msgs = self.pq.take_messages(batch);
                    if !msgs.is_empty() {
                        consume_at = None;
                        work = Some(self.consume(msgs));
                    }
                }
            }
            let mut wake = consume_at;
            if pull.is_none() && locked {
                wake = earliest(wake, pull_at);
            }
            if work.is_none() && !locked {
                wake = earliest(wake, Some(relock_at));
            }
            if store.is_none() {
                wake = earliest(wake, self.store_retry_at);
            }
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                p = async { match pull.as_mut() { Some(p) => p.await, None => std::future::pending().await } }, if pull.is_some() => {
                    pull = None;
                    pull_at = Some(self.on_pulled(p));
                }
                step = async { match work.as_mut() { Some(w) => w.await, None => std::future::pending().await } }, if work.is_some() => {
                    work = None;
                    match self.on_step(step) {
                        Next::Idle => {}
                        Next::SuspendUntil(t) => consume_at = Some(t),
                        Next::Restart => {
                            pull = None;
                            pull_at = Some(Instant::now());
                        }
                    }
                }
                stored = async { match store.as_mut() { Some(s) => s.await, None => std::future::pending().await } }, if store.is_some() => {
                    store = None;
                    self.on_stored(stored);
                }
                _ = sleep_until_opt(wake), if wake.is_some() => {}
            }
        }
        drop(pull);
        let clean = self.drain(work, store).await;
        self.puller.gauge.dropped.store(true, Relaxed);
        clean
    }

    /// After cancellation: let the running listener call and the offset store in flight finish, up to
    /// `await_termination` (the rebalancer stores the final offset after this, and no older store
    /// may land after that one). Returns whether the listener call finished.
    async fn drain(&mut self, work: Option<Work>, store: Option<Store>) -> bool {
        // Releasing the lock needs the batch to end, so wait for it at least a little even when
        // await_termination is zero (Java waits 1 s for the queue's consume lock).
        let wait = self.inner.config.await_termination.max(MIN_DRAIN);
        let deadline = Instant::now() + wait;
        if let Some(s) = store {
            if let Ok(stored) = tokio::time::timeout_at(deadline, s).await {
                self.on_stored(stored);
            }
        }
        if let Some(w) = work {
            match tokio::time::timeout_at(deadline, w).await {
                Ok(step) => {
                    self.on_step(step);
                }
                Err(_) => {
                    warn!(queue = %self.mq, "orderly listener still running at shutdown; its lock is left to expire on the broker");
                    return false;
                }
            }
        }
        true
    }

    /// A store of the in-memory committed offset when the broker's is behind it.
    fn store_if_behind(&self) -> Option<Store> {
        let offset = self.inner.offsets.read_memory(&self.mq)?;
        if offset <= self.stored {
            return None;
        }
        let (inner, mq) = (self.inner.clone(), self.mq.clone());
        Some(Box::pin(async move {
            match inner.offsets.persist(&mq).await {
                Ok(()) => (offset, false),
                Err(e) => {
                    debug!(queue = %mq, offset, error = %e, "offset store failed");
                    (offset, unreachable(&e))
                }
            }
        }))
    }

    fn on_stored(&mut self, (offset, unreachable): (i64, bool)) {
        if unreachable {
            if self.store_retry_at.is_none() {
                info!(queue = %self.mq, offset, "broker unreachable: the offset cannot be stored; consumption paused");
            }
            self.store_retry_at = Some(Instant::now() + STORE_RETRY_INTERVAL);
            return;
        }
        if self.store_retry_at.take().is_some() {
            info!(queue = %self.mq, offset, "offset stored again; consumption goes on");
        }
        // Other failures (the broker refused the write) do not stop consumption: the periodic
        // persist writes the offset again.
        self.stored = self.stored.max(offset);
    }

    fn on_pulled(&mut self, pulled: Pulled) -> Instant {
        let now = Instant::now();
        let next = match self.puller.on_pulled(pulled) {
            PullOutcome::Found(msgs) => {
                self.pq.put_messages(msgs);
                now + self.inner.config.pull_interval
            }
            PullOutcome::Empty => {
                if self.pq.is_empty() {
                    self.inner.offsets.update(&self.mq, self.puller.next_offset, true);
                }
                now
            }
            PullOutcome::OffsetMoved { from, to } => {
                warn!(queue = %self.mq, from, to, "offset moved");
                if self.pq.is_empty() {
                    self.inner.offsets.update(&self.mq, to, false);
                }
                now
            }
            PullOutcome::Backoff(pause) => now + pause,
        };
        self.publish();
        next
    }

    fn publish(&self) {
        publish_cache(&self.puller.gauge, &self.pq, self.puller.next_offset);
    }

    /// Call the listener on `msgs`, then send messages suspended too often to the DLQ.
    fn consume(&self, msgs: Vec<MessageExt>) -> Work {
        let (inner, listener, mq) = (self.inner.clone(), self.listener.clone(), self.mq.clone());
        let counters = self.puller.counters.clone();
        Box::pin(async move {
            let _permit = inner.consume_permits.clone().acquire_owned().await.ok();
            let n = msgs.len();
            let ctx = ConsumeOrderlyContext::new(mq.clone());
            let started = Instant::now();
            let span = consume_span(inner.group(), &mq, &msgs);
            let (result, msgs) = listener.call(msgs, &ctx).instrument(span.clone()).await;
            let took = started.elapsed();
            span.in_scope(|| debug!(?result, ?took, "listener returned"));
            if took > inner.config.orderly_consume_timeout {
                warn!(queue = %mq, ?took, "orderly listener call exceeded orderly_consume_timeout");
            }
            if msgs.len() != n {
                return Step::Abandoned;
            }
            if result == ConsumeOrderlyResult::Success {
                counters.consumed(n, 0, took);
                return Step::Consumed {
                    retry: Vec::new(),
                    suspend: Duration::ZERO,
                };
            }
            counters.consumed(0, n, took);
            let max = inner.config.orderly_max_reconsume_times;
            let mut retry = Vec::new();
            for mut m in msgs {
                if max >= 0 && m.reconsume_times >= max {
                    match send_back(&inner, &mq, &m, TO_DLQ, max).await {
                        Ok(()) => {
                            warn!(queue = %mq, msg_id = %m.msg_id(), reconsume_times = m.reconsume_times, "message moved to the DLQ");
                            continue;
                        }
                        Err(e) => {
                            warn!(queue = %mq, error = %e, "could not move a message to the DLQ; consuming it again")
                        }
                    }
                }
                m.reconsume_times += 1;
                retry.push(m);
            }
            let suspend = ctx.suspend_time(inner.config.suspend_current_queue_time);
            Step::Consumed { retry, suspend }
        })
    }

    /// Try to lock the queue; after a lost lock is regained, read the stored offset to restart from.
    fn relock(&self) -> Work {
        let (inner, mq, lock, lost) = (self.inner.clone(), self.mq.clone(), self.lock.clone(), self.lost);
        Box::pin(async move {
            let granted = match lock_batch(&inner, &mq.broker_name, vec![mq.clone()]).await {
                Ok(g) => g.contains(&mq),
                Err(e) => {
                    debug!(queue = %mq, error = %e, "relock failed");
                    false
                }
            };
            if !granted {
                lock.lost();
                return Step::Relocked { restart_at: None };
            }
            let restart_at = if lost {
                match inner.offsets.fetch(&mq).await {
                    Ok(o) => o,
                    Err(e) => {
                        debug!(queue = %mq, error = %e, "cannot read the offset after relocking; retrying");
                        return Step::Relocked { restart_at: None };
                    }
                }
            } else {
                None
            };
            lock.renewed(std::time::Instant::now());
            Step::Relocked { restart_at }
        })
    }

    fn on_step(&mut self, step: Step) -> Next {
        let next = match step {
            // The lock was lost while the listener ran: another client may own the queue now, so do
            // not move its offset; the batch is consumed again (by whoever holds the lock).
            Step::Consumed { .. } if !self.lock.is_valid(std::time::Instant::now()) => {
                warn!(queue = %self.mq, "queue lock lost during a listener call; its result is not committed");
                self.pq.rollback();
                Next::Idle
            }
            Step::Consumed { retry, .. } if retry.is_empty() => {
                self.puller.gauge.consumed_now();
                if let Some(offset) = self.pq.commit().filter(|_| !self.pq.dropped) {
                    // Stored on the broker by the run loop (`store_if_behind`).
                    self.inner.offsets.update(&self.mq, offset, false);
                }
                Next::Idle
            }
            Step::Consumed { retry, suspend } => {
                debug!(queue = %self.mq, count = retry.len(), ?suspend, "batch suspended");
                self.puller.counters.retried_locally(retry.len());
                self.pq.make_available(retry);
                Next::SuspendUntil(Instant::now() + suspend)
            }
            Step::Abandoned => {
                self.pq.rollback();
                Next::Idle
            }
            Step::Relocked { restart_at } => {
                if self.lock.is_valid(std::time::Instant::now()) {
                    if self.lost {
                        info!(queue = %self.mq, ?restart_at, "queue lock regained");
                    }
                    self.lost = false;
                    if let Some(offset) = restart_at {
                        self.pq.clear();
                        self.puller.next_offset = offset;
                        self.inner.offsets.update(&self.mq, offset, false);
                        // The broker answered: it holds this offset.
                        self.stored = offset;
                        self.store_retry_at = None;
                        return Next::Restart;
                    }
                }
                Next::Idle
            }
        };
        self.publish();
        next
    }
}

/// What the loop does after a step.
enum Next {
    Idle,
    SuspendUntil(Instant),
    Restart,
}

/// Whether a failed request means the broker could not be reached (rather than refused it).
fn unreachable(e: &crate::Error) -> bool {
    use crate::ErrorKind as K;
    matches!(
        e.kind(),
        K::Connect { .. } | K::Timeout { .. } | K::Disconnected { .. } | K::Io | K::BrokerNotFound { .. }
    )
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
