//! [`LitePullConsumer`]: the application asks for messages (`poll`) instead of being called (Java
//! `DefaultLitePullConsumer`). Queues come from a subscription (rebalanced within the group like the
//! push consumers) or from `assign`. Prefetching runs in the background within the pull thresholds.
//!
//! Offsets: `poll` records, per queue, the offset after the last message it returned; `commit` /
//! `commit_sync` (or auto-commit, on by default every 5 s, checked at each `poll`) store exactly that. A
//! message that was prefetched but not returned by `poll` is never committed; after a rebalance or a
//! `seek`, what was prefetched for the queue is dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rmq_protocol::message::{MessageExt, MessageQueue};

use super::consumer::ConsumerHandle;
use super::listeners::Listener;
use super::prefetch::{Batch, PrefetchQueue, PrefetchShared};
use crate::consumer::config::ConsumerConfig;
use crate::consumer::offset_store::ReadOffsetType;
use crate::consumer::selector::MessageSelector;
use crate::consumer::stats::ConsumerStats;
use crate::error::{Error, Result};
use crate::health::{ConsumerHealth, StuckThresholds};

/// Builds a [`LitePullConsumer`].
///
/// ```no_run
/// # async fn demo() -> rmq_client::Result<()> {
/// use std::time::Duration;
/// use rmq_client::consumer::{ConsumerConfig, LitePullConsumer};
///
/// let mut config = ConsumerConfig::new("reporting");
/// config.client.namesrv_addr = "127.0.0.1:9876".into();
/// let consumer = LitePullConsumer::builder(config).subscribe("orders", "*").start().await?;
/// loop {
///     let msgs = consumer.poll(Duration::from_secs(1)).await;
///     if msgs.is_empty() { break; }
///     for m in &msgs { println!("{}", m.queue_offset); }
/// }
/// consumer.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LitePullConsumerBuilder {
    config: ConsumerConfig,
    subscriptions: Vec<(String, MessageSelector)>,
    assigned: Option<Vec<MessageQueue>>,
    auto_commit: bool,
    auto_commit_interval: Duration,
}

impl LitePullConsumerBuilder {
    /// Read `topic`'s messages matching `selector`; the group's consumers share its queues.
    pub fn subscribe(mut self, topic: impl Into<String>, selector: impl Into<MessageSelector>) -> Self {
        self.subscriptions.push((topic.into(), selector.into()));
        self
    }

    /// Read exactly these queues (no rebalancing); replaces any subscription.
    pub fn assign(mut self, queues: Vec<MessageQueue>) -> Self {
        self.assigned = Some(queues);
        self
    }

    /// Commit polled offsets automatically (default true).
    pub fn auto_commit(mut self, on: bool) -> Self {
        self.auto_commit = on;
        self
    }

    /// How often auto-commit stores offsets (default 5 s).
    pub fn auto_commit_interval(mut self, every: Duration) -> Self {
        self.auto_commit_interval = every;
        self
    }

    /// Validate, connect and start prefetching.
    pub async fn start(self) -> Result<LitePullConsumer> {
        let subscriptions = match &self.assigned {
            Some(qs) => {
                if qs.is_empty() {
                    return Err(Error::invalid("assign: at least one queue"));
                }
                let mut topics: Vec<String> = qs.iter().map(|q| q.topic.clone()).collect();
                topics.sort();
                topics.dedup();
                topics.into_iter().map(|t| (t, MessageSelector::all())).collect()
            }
            None => self.subscriptions,
        };
        // Assigned queues name their topics as the user knows them; on the wire they are namespaced.
        let ns = self.config.namespace.clone();
        let assigned = self.assigned.map(|qs| {
            qs.into_iter()
                .map(|mut q| {
                    q.topic = crate::namespace::wrap(ns.as_deref(), &q.topic);
                    q
                })
                .collect::<Vec<_>>()
        });
        let shared = Arc::new(PrefetchShared::new(assigned));
        let handle =
            ConsumerHandle::start(self.config, subscriptions, Listener::Pull(shared.clone())).await?;
        Ok(LitePullConsumer {
            handle,
            shared,
            state: Arc::new(Mutex::new(PollState {
                held: Vec::new(),
                last_commit: Instant::now(),
            })),
            auto_commit: self.auto_commit,
            auto_commit_interval: self.auto_commit_interval,
        })
    }
}

struct PollState {
    /// Batches of paused queues, returned after `resume`.
    held: Vec<Batch>,
    last_commit: Instant,
}

/// A consumer the application polls for messages. Cheap to clone; clones share one stream of
/// messages.
#[derive(Clone)]
pub struct LitePullConsumer {
    handle: ConsumerHandle,
    shared: Arc<PrefetchShared>,
    state: Arc<Mutex<PollState>>,
    auto_commit: bool,
    auto_commit_interval: Duration,
}

impl std::fmt::Debug for LitePullConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LitePullConsumer")
            .field("group", &self.handle.inner.config.consumer_group)
            .field("client_id", &self.handle.inner.core.client_id)
            .finish()
    }
}

impl LitePullConsumer {
    /// Start building a pull consumer with `config`.
    pub fn builder(config: ConsumerConfig) -> LitePullConsumerBuilder {
        LitePullConsumerBuilder {
            config,
            subscriptions: Vec::new(),
            assigned: None,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
        }
    }

    /// This client's id.
    pub fn client_id(&self) -> &str {
        &self.handle.inner.core.client_id
    }

    /// The next prefetched messages (one queue's batch, in offset order), waiting up to `timeout`;
    /// empty when nothing arrived in time.
    pub async fn poll(&self, timeout: Duration) -> Vec<MessageExt> {
        self.maybe_auto_commit();
        if let Some(msgs) = self.take_resumed() {
            return msgs;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = match tokio::time::timeout_at(deadline, self.shared.rx.lock()).await {
            Ok(rx) => rx,
            Err(_) => return Vec::new(),
        };
        loop {
            let batch = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(b)) => b,
                _ => return Vec::new(),
            };
            let Some(q) = self.shared.queue(&batch.mq) else {
                continue; // no longer held: dropped, never committed
            };
            if batch.epoch != q.epoch.load(Relaxed) {
                continue; // prefetched before a seek or a rebalance
            }
            q.taken(&batch);
            if q.paused.load(Relaxed) {
                if let Ok(mut s) = self.state.lock() {
                    s.held.push(batch);
                }
                continue;
            }
            return Self::deliver(&q, batch);
        }
    }

    fn deliver(q: &PrefetchQueue, batch: Batch) -> Vec<MessageExt> {
        if let Some(last) = batch.msgs.last() {
            q.consumed.store(last.queue_offset + 1, Relaxed);
        }
        batch.msgs
    }

    /// A held batch of a queue that was resumed since (and is still current).
    fn take_resumed(&self) -> Option<Vec<MessageExt>> {
        let mut s = self.state.lock().ok()?;
        let mut i = 0;
        while i < s.held.len() {
            let b = &s.held[i];
            match self.shared.queue(&b.mq) {
                Some(q) if q.epoch.load(Relaxed) == b.epoch => {
                    if !q.paused.load(Relaxed) {
                        let batch = s.held.remove(i);
                        return Some(Self::deliver(&q, batch));
                    }
                    i += 1;
                }
                _ => {
                    s.held.remove(i);
                }
            }
        }
        None
    }

    /// Messages as a [`Stream`](futures_core::Stream) (polling with a 1 s timeout, forever, until the
    /// consumer shuts down).
    pub fn stream(&self) -> MessageStream {
        MessageStream {
            consumer: self.clone(),
            buffer: VecDeque::new(),
            pending: None,
        }
    }

    fn maybe_auto_commit(&self) {
        if !self.auto_commit {
            return;
        }
        let due = self
            .state
            .lock()
            .map(|mut s| {
                let due = s.last_commit.elapsed() >= self.auto_commit_interval;
                if due {
                    s.last_commit = Instant::now();
                }
                due
            })
            .unwrap_or(false);
        if due {
            self.commit();
        }
    }

    /// Move each held queue's committed offset to just after its last polled message, in memory.
    fn mark_polled(&self) -> Vec<MessageQueue> {
        let inner = &self.handle.inner;
        let mut queues = Vec::new();
        for (mq, q) in self.shared.held() {
            let offset = q.consumed.load(Relaxed);
            if offset >= 0 {
                inner.offsets.update(&mq, offset, false);
                queues.push(mq);
            }
        }
        queues
    }

    /// Commit what `poll` returned so far; stored on the brokers in the background.
    pub fn commit(&self) {
        self.mark_polled();
        let inner = self.handle.inner.clone();
        tokio::spawn(async move { inner.offsets.persist_all_oneway().await });
    }

    /// Commit what `poll` returned so far and wait until every broker stored it.
    pub async fn commit_sync(&self) -> Result<()> {
        for mq in self.mark_polled() {
            self.handle.inner.offsets.persist(&mq).await?;
        }
        Ok(())
    }

    /// The offset the group has stored for `mq` on its broker.
    pub async fn committed(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        self.handle
            .inner
            .offsets
            .read(mq, ReadOffsetType::ReadFromStore)
            .await
    }

    /// The queues this consumer holds now.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        let mut v: Vec<MessageQueue> = self.shared.held().into_iter().map(|(q, _)| q).collect();
        v.sort();
        v
    }

    /// Wait (up to the request timeout) until `mq` is held: right after `start` its task may not run yet.
    async fn held(&self, mq: &MessageQueue) -> Result<Arc<PrefetchQueue>> {
        let deadline = Instant::now() + self.handle.inner.core.config.request_timeout;
        loop {
            if let Some(q) = self.shared.queue(mq) {
                return Ok(q);
            }
            if Instant::now() >= deadline {
                return Err(Error::invalid(format!("{mq} is not held by this consumer")));
            }
            self.handle.inner.rebalance_now.notify_one();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Continue `mq` from `offset`: what was prefetched is dropped, the next `poll` of this queue starts
    /// there, and the next commit stores it.
    pub async fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::invalid("seek: offset must not be negative"));
        }
        self.held(mq).await?.seek(offset);
        Ok(())
    }

    /// Continue `mq` from its first stored message.
    pub async fn seek_to_begin(&self, mq: &MessageQueue) -> Result<()> {
        let offset = self.handle.inner.core.admin().min_offset(mq).await?;
        self.seek(mq, offset).await
    }

    /// Continue `mq` after its last stored message (only new messages).
    pub async fn seek_to_end(&self, mq: &MessageQueue) -> Result<()> {
        let offset = self.handle.inner.core.admin().max_offset(mq).await?;
        self.seek(mq, offset).await
    }

    /// The offset of `mq`'s first message stored at or after `timestamp_ms`.
    pub async fn offset_for_timestamp(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        self.handle
            .inner
            .core
            .admin()
            .offset_for_timestamp(mq, timestamp_ms)
            .await
    }

    /// Stop delivering (and prefetching) these queues until [`resume`](Self::resume).
    pub fn pause(&self, queues: &[MessageQueue]) {
        for mq in queues {
            if let Some(q) = self.shared.queue(mq) {
                q.paused.store(true, Relaxed);
            }
        }
    }

    /// Deliver these queues again.
    pub fn resume(&self, queues: &[MessageQueue]) {
        for mq in queues {
            if let Some(q) = self.shared.queue(mq) {
                q.paused.store(false, Relaxed);
                q.wake.notify_one();
            }
        }
    }

    /// The consumer's statistics now.
    pub fn stats(&self) -> ConsumerStats {
        self.handle.inner.stats()
    }

    /// The consumer's health now: the last heartbeat, route ages, and when each held queue last sent a
    /// pull. Prefetching stops while a queue is paused or its prefetched messages are not polled, so
    /// such a queue shows as [`Stuck::NotPulling`](crate::health::Stuck) after
    /// [`StuckThresholds::not_pulling`]; polled messages are not tracked per queue (`last_consumed` and
    /// `cached_messages` stay empty).
    ///
    /// ```no_run
    /// # fn demo(consumer: &rmq_client::consumer::LitePullConsumer) {
    /// let health = consumer.health();
    /// println!("{} queues, stuck: {:?}", health.queues.len(), health.stuck);
    /// # }
    /// ```
    pub fn health(&self) -> ConsumerHealth {
        self.handle.inner.health(&StuckThresholds::default())
    }

    /// Stop prefetching, commit what was polled (when auto-commit is on), store offsets, unregister.
    pub async fn shutdown(&self) {
        if self.auto_commit {
            self.mark_polled();
        }
        self.handle.shutdown().await;
    }
}

/// The messages of a [`LitePullConsumer`] as a stream; see [`LitePullConsumer::stream`].
pub struct MessageStream {
    consumer: LitePullConsumer,
    buffer: VecDeque<MessageExt>,
    pending: Option<Pin<Box<dyn Future<Output = Vec<MessageExt>> + Send>>>,
}

impl std::fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl futures_core::Stream for MessageStream {
    type Item = MessageExt;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MessageExt>> {
        loop {
            if let Some(m) = self.buffer.pop_front() {
                return Poll::Ready(Some(m));
            }
            if self.consumer.handle.inner.cancel.is_cancelled() {
                return Poll::Ready(None);
            }
            if self.pending.is_none() {
                let c = self.consumer.clone();
                self.pending = Some(Box::pin(async move { c.poll(Duration::from_secs(1)).await }));
            }
            let Some(fut) = self.pending.as_mut() else {
                return Poll::Pending;
            };
            match fut.as_mut().poll(cx) {
                Poll::Ready(msgs) => {
                    self.pending = None;
                    self.buffer.extend(msgs);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
