//! The rebalance task: owns the assignment (which queues this consumer reads) and the queue tasks.
//!
//! It recomputes the assignment at start, every 20 s, when the broker reports that the group's members
//! changed, and when a subscribed topic's route changes. Queues that go away are stopped (their
//! in-flight messages finish or are abandoned, their offset is persisted) before new ones start.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::header::{ConsumerListBody, GetConsumerListByGroupRequestHeader};
use rmq_protocol::message::{java_string_cmp, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::consumer::ConsumerInner;
use super::listeners::Listener;
use super::lock::{by_broker, lock_batch, unlock_batch, QueueLock};
use super::orderly_task::OrderlyQueueTask;
use super::prefetch::PrefetchTask;
use super::puller::sleep_until_opt;
use super::queue_task::QueueTask;
use crate::consumer::config::{start_position, ConsumerConfig, StartPosition};
use crate::consumer::offset_store::ReadOffsetType;
use crate::consumer::process_queue::Thresholds;
use crate::error::Result;

/// How often the assignment is recomputed without a trigger (Java `rebalance.waitInterval`).
const REBALANCE_INTERVAL: Duration = Duration::from_secs(20);
/// How often an orderly consumer renews its queue locks (Java `rebalance.lockInterval`).
const LOCK_RENEW_INTERVAL: Duration = Duration::from_secs(20);
/// How soon an orderly consumer asks again for queues whose lock another client still held.
const LOCK_RETRY_DELAY: Duration = Duration::from_secs(1);

/// How many queues this consumer holds, per topic and in all: the queue tasks split the topic and
/// consumer-wide cache limits by these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct QueueCounts {
    pub(crate) per_topic: HashMap<String, usize>,
    pub(crate) all: usize,
}

impl QueueCounts {
    /// The cache limits of one queue of `topic` (the span limit only for concurrent consumers).
    pub(crate) fn thresholds(&self, cfg: &ConsumerConfig, topic: &str, orderly: bool) -> Thresholds {
        let of_topic = self.per_topic.get(topic).copied().unwrap_or(1);
        Thresholds::for_queue(cfg, of_topic, self.all, orderly)
    }
}

/// Requests to the rebalancer from elsewhere in the consumer.
#[derive(Debug)]
pub(crate) enum Command {
    /// The broker reset the group's offsets (RESET_CONSUMER_CLIENT_OFFSET): stop these queues where
    /// held, store the new offsets, and start again from them.
    ResetOffsets(HashMap<MessageQueue, i64>),
}

struct Running {
    cancel: CancellationToken,
    /// Returns whether every listener call of the queue finished.
    task: tokio::task::JoinHandle<bool>,
    /// Orderly consumers: the queue's broker lock.
    lock: Option<Arc<QueueLock>>,
}

pub(crate) struct Rebalancer {
    inner: Arc<ConsumerInner>,
    running: HashMap<MessageQueue, Running>,
    commands: mpsc::Receiver<Command>,
    /// Orderly: when to try again for assigned queues whose lock another client still held.
    lock_retry_at: Option<Instant>,
    /// Queues whose task died while `enable_auto_recovery` is off: not restarted while assigned.
    abandoned: std::collections::HashSet<MessageQueue>,
}

impl Rebalancer {
    pub(crate) fn new(inner: Arc<ConsumerInner>, commands: mpsc::Receiver<Command>) -> Self {
        Rebalancer {
            inner,
            running: HashMap::new(),
            commands,
            lock_retry_at: None,
            abandoned: Default::default(),
        }
    }

    pub(crate) async fn run(mut self) {
        let mut routes = self.inner.core.routes.subscribe();
        let cancel = self.inner.cancel.clone();
        let mut tick = tokio::time::interval(REBALANCE_INTERVAL);
        let orderly = self.inner.listener.is_orderly();
        let mut renew = tokio::time::interval_at(Instant::now() + LOCK_RENEW_INTERVAL, LOCK_RENEW_INTERVAL);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
                _ = self.inner.rebalance_now.notified() => {}
                _ = sleep_until_opt(self.lock_retry_at), if self.lock_retry_at.is_some() => {}
                _ = renew.tick(), if orderly && !self.inner.broadcasting() => {
                    // A failed renewal is retried soon: a lock is only valid 30 s after its last one.
                    if !self.renew_locks().await {
                        renew.reset_after(LOCK_RETRY_DELAY * 2);
                    }
                    continue;
                }
                changed = routes.changed() => if changed.is_err() { break },
                Some(cmd) = self.commands.recv() => match cmd {
                    Command::ResetOffsets(table) => self.reset_offsets(table).await,
                },
            }
            self.lock_retry_at = None;
            routes.borrow_and_update();
            if let Err(e) = self.rebalance_once().await {
                debug!(error = %e, "rebalance round incomplete; retrying at the next trigger");
            }
        }
        let queues: Vec<MessageQueue> = self.running.keys().cloned().collect();
        for mq in queues {
            self.stop_queue(&mq).await;
        }
        self.publish_counts(self.running.keys());
        info!(group = %self.inner.group(), "consumer stopped");
    }

    async fn rebalance_once(&mut self) -> Result<()> {
        let topics: Vec<String> = self
            .inner
            .subscriptions
            .lock()
            .map(|s| s.topics().map(str::to_owned).collect())
            .unwrap_or_default();
        let mut target: BTreeSet<MessageQueue> = BTreeSet::new();
        let mut complete = true;
        for topic in &topics {
            match self.allocate(topic).await {
                Ok(qs) => target.extend(qs),
                Err(e) => {
                    debug!(%topic, error = %e, "cannot allocate topic now");
                    complete = false;
                    // Keep what we have for this topic rather than dropping it on a transient failure.
                    target.extend(self.running.keys().filter(|q| &q.topic == topic).cloned());
                }
            }
        }
        let target_all = target.clone();
        // A queue task ends only when stopped; one that ended by itself panicked. With
        // enable_auto_recovery it is started again below (from the committed offset), else its queue
        // stays idle until it is reassigned.
        let dead: Vec<MessageQueue> = self
            .running
            .iter()
            .filter(|(_, r)| r.task.is_finished() && !r.cancel.is_cancelled())
            .map(|(q, _)| q.clone())
            .collect();
        for mq in dead {
            warn!(queue = %mq, recover = self.inner.config.enable_auto_recovery, "queue task ended unexpectedly");
            if let Some(r) = self.running.remove(&mq) {
                if !self.inner.config.enable_auto_recovery {
                    self.abandoned.insert(mq.clone());
                }
                if let Some(lock) = r.lock {
                    drop(lock);
                    self.unlock(&mq).await;
                }
            }
            self.inner.stats.remove_queue(&mq);
            self.inner.offsets.remove(&mq);
        }
        target.retain(|q| !self.abandoned.contains(q));
        self.abandoned.retain(|q| target_all.contains(q));
        let removed: Vec<MessageQueue> = self
            .running
            .keys()
            .filter(|q| !target.contains(*q))
            .cloned()
            .collect();
        for mq in &removed {
            debug!(queue = %mq, "process queue dropped: no longer assigned");
            self.stop_queue(mq).await;
        }
        // New queues take their share of the cache limits from the start.
        self.publish_counts(target.iter());
        let new: Vec<MessageQueue> = target
            .into_iter()
            .filter(|mq| !self.running.contains_key(mq))
            .collect();
        // Orderly: a queue is started only once its broker lock is ours (the previous owner may still
        // be finishing its batch; try again shortly).
        let locks = if self.inner.listener.is_orderly() {
            let locks = self.lock_queues(&new).await;
            if locks.len() < new.len() {
                debug!(
                    waiting = new.len() - locks.len(),
                    "queues still locked by another client"
                );
                self.lock_retry_at = Some(Instant::now() + LOCK_RETRY_DELAY);
            }
            Some(locks)
        } else {
            None
        };
        let mut added = 0;
        for mq in new {
            let lock = match &locks {
                Some(l) => match l.get(&mq) {
                    Some(lock) => Some(lock.clone()),
                    None => continue,
                },
                None => None,
            };
            // Read after locking: the previous owner stored its last offset before it unlocked.
            match self.start_offset(&mq).await {
                Ok(offset) => {
                    self.start_queue(mq, offset, lock);
                    added += 1;
                }
                // Not knowing the offset is not "no offset": leave the queue for the next round.
                Err(e) => {
                    warn!(queue = %mq, error = %e, "cannot read the committed offset; queue not started yet");
                    complete = false;
                    if let Some(lock) = lock {
                        drop(lock);
                        self.unlock(&mq).await;
                    }
                }
            }
        }
        self.publish_counts(self.running.keys());
        let changed = !removed.is_empty() || added > 0;
        self.inner.stats.metrics.rebalanced(changed, self.running.len());
        if changed {
            info!(group = %self.inner.group(), removed = removed.len(), added, total = self.running.len(), "rebalanced");
        }
        if complete {
            Ok(())
        } else {
            Err(crate::Error::new(crate::ErrorKind::Io)
                .with_context("some topics or queues could not be assigned"))
        }
    }

    fn publish_counts<'a>(&self, held: impl Iterator<Item = &'a MessageQueue>) {
        let mut counts = QueueCounts::default();
        for mq in held {
            counts.all += 1;
            *counts.per_topic.entry(mq.topic.clone()).or_default() += 1;
        }
        self.inner.queue_counts.send_if_modified(|c| {
            let changed = *c != counts;
            *c = counts;
            changed
        });
    }

    /// Apply a reset: held queues stop (their in-flight results are not committed over the new
    /// offset), every offset in `table` is stored in memory and on the broker, and held queues start
    /// again from it. Java `MQClientInstance.resetOffset`.
    async fn reset_offsets(&mut self, table: HashMap<MessageQueue, i64>) {
        let mut restart = Vec::new();
        for (mq, offset) in &table {
            if let Some(r) = self.running.remove(mq) {
                debug!(queue = %mq, "process queue dropped: offset reset");
                r.cancel.cancel();
                let _ = r.task.await;
                self.inner.stats.remove_queue(mq);
                restart.push((mq.clone(), r.lock));
            }
            self.inner.offsets.update(mq, *offset, false);
            if let Err(e) = self.inner.offsets.persist(mq).await {
                warn!(queue = %mq, error = %e, "could not store a reset offset; it is written again at the next persist");
            }
            info!(queue = %mq, offset, "offset reset by the broker");
        }
        for (mq, lock) in restart {
            if let Some(offset) = self.inner.offsets.read_memory(&mq) {
                self.start_queue(mq, offset, lock);
            }
        }
        self.publish_counts(self.running.keys());
    }

    /// The queues of `topic` this consumer should own now.
    async fn allocate(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        let route = self.inner.core.routes.route(topic).await?;
        let mq_all = route.subscribe_queues.clone();
        if mq_all.is_empty() {
            return Ok(Vec::new());
        }
        if self.inner.broadcasting() {
            return Ok(mq_all);
        }
        if let Listener::Pull(p) = &self.inner.listener {
            if let Some(assigned) = p.assigned_of(topic) {
                return Ok(assigned);
            }
        }
        let (broker, mut cids) = self.consumer_ids(&route).await?;
        cids.sort_by(|a, b| java_string_cmp(a, b));
        let me = &self.inner.core.client_id;
        let strategy = &self.inner.config.allocate_queue_strategy;
        let mine = strategy
            .allocate(self.inner.group(), me, &mq_all, &cids)
            .map_err(|e| crate::Error::invalid(format!("allocation failed: {e}")))?;
        debug!(
            %topic,
            %broker,
            consumers = ?cids,
            allocated = ?mine.iter().map(|q| q.to_string()).collect::<Vec<_>>(),
            "allocation"
        );
        Ok(mine)
    }

    /// The group's consumer ids as one broker of `route` knows them, with that broker's address.
    async fn consumer_ids(&self, route: &crate::route::TopicRoute) -> Result<(String, Vec<String>)> {
        let core = &self.inner.core;
        let mut last_err = None;
        let mut brokers: Vec<&str> = route
            .data
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr())
            .collect();
        let shift = rand::random::<usize>() % brokers.len().max(1);
        brokers.rotate_left(shift);
        for addr in brokers {
            let h = GetConsumerListByGroupRequestHeader {
                consumer_group: self.inner.group().to_owned(),
            };
            let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP, &h);
            match core
                .remoting
                .invoke_ok(addr, cmd, core.config.request_timeout)
                .await
            {
                Ok(resp) => {
                    let ids = ConsumerListBody::from_json(&resp.body)?.consumer_id_list;
                    return Ok((addr.to_owned(), ids));
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            crate::Error::new(crate::ErrorKind::BrokerNotFound {
                broker: route.topic.clone(),
            })
        }))
    }

    /// Where a newly assigned queue starts: the committed offset, else `consume_from_where`.
    async fn start_offset(&self, mq: &MessageQueue) -> Result<i64> {
        let committed = self
            .inner
            .offsets
            .read(mq, ReadOffsetType::MemoryFirstThenStore)
            .await?;
        let cfg = &self.inner.config;
        let ts = cfg.consume_timestamp_millis(std::time::SystemTime::now());
        let core = &self.inner.core;
        let offset = match start_position(cfg.consume_from_where, committed, &mq.topic, ts) {
            StartPosition::Offset(o) => o,
            StartPosition::MaxOffset => core.admin().max_offset(mq).await?,
            StartPosition::Timestamp(t) => core.admin().offset_for_timestamp(mq, t).await?,
        };
        debug!(queue = %mq, ?committed, offset, "queue start position");
        Ok(offset)
    }

    fn start_queue(&mut self, mq: MessageQueue, offset: i64, lock: Option<Arc<QueueLock>>) {
        let cancel = self.inner.cancel.child_token();
        self.inner.offsets.update(&mq, offset, false);
        let (inner, c) = (self.inner.clone(), cancel.clone());
        let task = match (&self.inner.listener, &lock) {
            (Listener::Orderly(l), Some(lock)) => tokio::spawn(
                OrderlyQueueTask::new(inner, l.clone(), mq.clone(), offset, lock.clone(), c).run(),
            ),
            (Listener::Concurrent(l), _) => {
                tokio::spawn(QueueTask::new(inner, l.clone(), mq.clone(), offset, c).run())
            }
            (Listener::Pull(p), _) => {
                tokio::spawn(PrefetchTask::new(inner, p.clone(), mq.clone(), offset, c).run())
            }
            (Listener::Orderly(_), None) => {
                warn!(queue = %mq, "orderly queue without a lock not started");
                return;
            }
        };
        self.running.insert(mq, Running { cancel, task, lock });
    }

    /// Stop `mq`'s task and wait for it: it finishes or abandons in-flight messages, then persists;
    /// an orderly queue's lock is released if its last batch finished.
    async fn stop_queue(&mut self, mq: &MessageQueue) {
        let mut release = false;
        if let Some(r) = self.running.remove(mq) {
            r.cancel.cancel();
            let clean = r.task.await.unwrap_or(false);
            release = r.lock.is_some() && clean;
        }
        self.inner.stats.remove_queue(mq);
        if let Listener::Pull(p) = &self.inner.listener {
            p.remove(mq);
        }
        if let Err(e) = self.inner.offsets.persist(mq).await {
            warn!(queue = %mq, error = %e, "could not persist the offset of a removed queue");
        }
        self.inner.offsets.remove(mq);
        if release {
            self.unlock(mq).await;
        }
    }

    /// Orderly: lock `queues` (one request per broker); returns the granted ones with their lock.
    async fn lock_queues(&self, queues: &[MessageQueue]) -> HashMap<MessageQueue, Arc<QueueLock>> {
        let mut out = HashMap::new();
        // Broadcasting: every consumer reads every queue; no broker locks (as in Java).
        if self.inner.broadcasting() {
            for mq in queues {
                out.insert(mq.clone(), Arc::new(QueueLock::permanent()));
            }
            return out;
        }
        for (broker, qs) in by_broker(queues) {
            match lock_batch(&self.inner, &broker, qs).await {
                Ok(granted) => {
                    let now = std::time::Instant::now();
                    for mq in granted {
                        let lock = Arc::new(QueueLock::default());
                        lock.renewed(now);
                        out.insert(mq, lock);
                    }
                }
                Err(e) => debug!(%broker, error = %e, "lock request failed"),
            }
        }
        out
    }

    /// Orderly: renew the locks of every held queue (Java `lockAll`, every 20 s). Returns false when a
    /// broker could not be asked.
    async fn renew_locks(&self) -> bool {
        let mut complete = true;
        let held: Vec<MessageQueue> = self
            .running
            .iter()
            .filter(|(_, r)| r.lock.is_some())
            .map(|(q, _)| q.clone())
            .collect();
        for (broker, qs) in by_broker(&held) {
            match lock_batch(&self.inner, &broker, qs.clone()).await {
                Ok(granted) => {
                    let now = std::time::Instant::now();
                    for mq in qs {
                        if let Some(lock) = self.running.get(&mq).and_then(|r| r.lock.as_ref()) {
                            if granted.contains(&mq) {
                                lock.renewed(now);
                            } else {
                                warn!(queue = %mq, "queue lock lost");
                                lock.lost();
                            }
                        }
                    }
                }
                // Not renewed: the locks stay valid until 30 s after their last renewal.
                Err(e) => {
                    debug!(%broker, error = %e, "lock renewal failed");
                    complete = false;
                }
            }
        }
        complete
    }

    /// Orderly: release `mq`'s broker lock so its next owner takes over at once.
    async fn unlock(&self, mq: &MessageQueue) {
        if self.inner.broadcasting() {
            return;
        }
        if let Err(e) = unlock_batch(&self.inner, &mq.broker_name, vec![mq.clone()]).await {
            debug!(queue = %mq, error = %e, "unlock failed; the broker lock expires by itself");
        }
    }
}
