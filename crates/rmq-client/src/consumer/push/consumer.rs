//! What both push consumers share — `ConsumerInner`, start and shutdown — and the
//! [`ConcurrentConsumer`] handle with its builder. The orderly handle is in `orderly.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_protocol::header::{ConsumeType, ConsumerData};
use rmq_protocol::RequestCode;
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::listener_pool::ListenerPool;
use super::listeners::{ConcurrentListener, Listener};
use super::rebalance::{Command, QueueCounts, Rebalancer};
use crate::client::ClientCore;
use crate::consumer::config::{ConsumerConfig, MessageModel};
use crate::consumer::listener::{AsyncMessageListener, MessageListener};
use crate::consumer::local_offsets::LocalOffsetFile;
use crate::consumer::offset_store::OffsetStore;
use crate::consumer::selector::{MessageSelector, Subscriptions};
use crate::consumer::stats::{ConsumerStats, StatsRecorder};
use crate::error::{Error, Result};
use crate::health::{queue_health, ConsumerHealth, StuckThresholds};
use crate::namespace;
use crate::telemetry::consumer::ConsumerLabels;

pub(crate) struct ConsumerInner {
    pub(crate) config: ConsumerConfig,
    pub(crate) core: Arc<ClientCore>,
    pub(crate) subscriptions: Arc<Mutex<Subscriptions>>,
    pub(crate) listener: Listener,
    pub(crate) offsets: OffsetStore,
    pub(crate) rebalance_now: Notify,
    /// Bounds concurrent listener calls (consume_thread_max).
    pub(crate) consume_permits: Arc<Semaphore>,
    /// Messages submitted to the listener pool and not yet in a listener call (bounded by
    /// `max_cache_size`: queue tasks stop pulling while it is exceeded).
    pub(crate) waiting_for_listener: Arc<std::sync::atomic::AtomicUsize>,
    /// The consume threads of a sync concurrent listener.
    pub(crate) listener_pool: Option<ListenerPool>,
    pub(crate) cancel: CancellationToken,
    pub(crate) closed: AtomicBool,
    /// Counters and queue gauges behind [`ConcurrentConsumer::stats`].
    pub(crate) stats: StatsRecorder,
    /// Queues held per topic and in all, published by the rebalancer for flow control.
    pub(crate) queue_counts: watch::Sender<QueueCounts>,
    /// Requests to the rebalancer.
    pub(crate) rebalance_commands: mpsc::Sender<Command>,
    /// When the consumer started (Unix ms), for running info.
    pub(crate) started_at_ms: i64,
    /// The rebalance task; it owns the queue tasks and stops them when cancelled.
    rebalancer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ConsumerInner {
    pub(crate) fn group(&self) -> &str {
        &self.config.consumer_group
    }

    /// Whether every consumer of the group gets every message (offsets in a local file, nothing sent
    /// back, no queue locks).
    pub(crate) fn broadcasting(&self) -> bool {
        self.config.message_model == MessageModel::Broadcasting
    }

    pub(crate) fn stats(&self) -> ConsumerStats {
        self.stats
            .snapshot(|mq| self.offsets.read_memory(mq), self.offsets.metrics())
    }

    pub(crate) fn health(&self, thresholds: &StuckThresholds) -> ConsumerHealth {
        let queues: std::collections::BTreeMap<_, _> = self
            .stats
            .gauges()
            .into_iter()
            .map(|(mq, g)| (mq, queue_health(&g, thresholds)))
            .collect();
        let stuck = queues
            .iter()
            .filter(|(_, q)| q.stuck.is_some())
            .map(|(mq, _)| mq.clone())
            .collect();
        ConsumerHealth {
            group: self.config.consumer_group.clone(),
            client: self.core.health(),
            queues,
            stuck,
        }
    }
}

/// Builds a [`ConcurrentConsumer`].
///
/// ```no_run
/// # async fn demo() -> rmq_client::Result<()> {
/// use rmq_client::consumer::{ConcurrentConsumer, ConsumeResult, ConsumerConfig};
/// let mut config = ConsumerConfig::new("order_consumers");
/// config.client.namesrv_addr = "127.0.0.1:9876".into();
/// let consumer = ConcurrentConsumer::builder(config)
///     .subscribe("orders", "created || paid")
///     .listener(|msgs: &[rmq_protocol::message::MessageExt], _ctx: &mut rmq_client::consumer::ConsumeContext| {
///         for m in msgs { println!("{}", m.msg_id()); }
///         ConsumeResult::Success
///     })
///     .start()
///     .await?;
/// consumer.shutdown().await;
/// # Ok(()) }
/// ```
pub struct ConsumerBuilder {
    config: ConsumerConfig,
    subscriptions: Vec<(String, MessageSelector)>,
    listener: Option<Listener>,
}

impl std::fmt::Debug for ConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerBuilder")
            .field("config", &self.config)
            .field("subscriptions", &self.subscriptions)
            .field("listener", &self.listener.is_some())
            .finish()
    }
}

impl ConsumerBuilder {
    /// Subscribe `topic` with `selector` (a tag expression string such as `"a || b"`, or a
    /// [`MessageSelector`]).
    pub fn subscribe(mut self, topic: impl Into<String>, selector: impl Into<MessageSelector>) -> Self {
        self.subscriptions.push((topic.into(), selector.into()));
        self
    }

    /// The listener, a plain closure run on a bounded pool of threads.
    pub fn listener<L: MessageListener>(mut self, listener: L) -> Self {
        self.listener = Some(Listener::Concurrent(ConcurrentListener::Sync(Arc::new(listener))));
        self
    }

    /// An async listener, run as tasks (at most `consume_thread_max` at once).
    pub fn async_listener<L: AsyncMessageListener>(mut self, listener: L) -> Self {
        self.listener = Some(Listener::Concurrent(ConcurrentListener::Async(Arc::new(
            listener,
        ))));
        self
    }

    /// Validate, connect, register with the brokers and start consuming.
    pub async fn start(self) -> Result<ConcurrentConsumer> {
        let listener = self
            .listener
            .ok_or_else(|| Error::invalid("listener: a listener is required"))?;
        let handle = ConsumerHandle::start(self.config, self.subscriptions, listener).await?;
        Ok(ConcurrentConsumer { handle })
    }
}

/// A push consumer calling its listener concurrently (Java `DefaultMQPushConsumer` with a
/// `MessageListenerConcurrently`), in clustering mode. Cheap to clone.
#[derive(Clone)]
pub struct ConcurrentConsumer {
    handle: ConsumerHandle,
}

/// What both consumer handles wrap: the shared state and the guard that stops everything when the
/// last handle goes away.
#[derive(Clone)]
pub(crate) struct ConsumerHandle {
    pub(crate) inner: Arc<ConsumerInner>,
    /// Cancels everything when the last handle goes away (tasks hold `inner`, not this).
    _guard: Arc<DropGuard>,
}

struct DropGuard {
    inner: Arc<ConsumerInner>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.inner.closed.load(Ordering::Relaxed) {
            warn!(group = %self.inner.config.consumer_group, "consumer dropped without shutdown(): it stops in the background (offsets are persisted on a best-effort basis, the group is not unregistered); call shutdown().await to stop cleanly");
        }
        self.inner.cancel.cancel();
        self.inner.core.cancel.cancel();
    }
}

impl std::fmt::Debug for ConcurrentConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrentConsumer")
            .field("group", &self.handle.inner.config.consumer_group)
            .field("client_id", &self.handle.inner.core.client_id)
            .finish()
    }
}

impl ConsumerHandle {
    /// Validate, connect, register and start rebalancing; shared by both consumers.
    pub(crate) async fn start(
        config: ConsumerConfig,
        subscriptions: Vec<(String, MessageSelector)>,
        listener: Listener,
    ) -> Result<Self> {
        config.validate()?;
        if subscriptions.is_empty() {
            return Err(Error::invalid("subscriptions: subscribe to at least one topic"));
        }
        // Names are checked as the user wrote them, then put into the namespace (if any).
        let mut config = config;
        let ns = config.namespace.clone();
        config.consumer_group = namespace::wrap(ns.as_deref(), &config.consumer_group);
        let mut subs = Subscriptions::new();
        for (topic, selector) in subscriptions {
            crate::validate::topic_name(&topic)?;
            subs.subscribe(&namespace::wrap(ns.as_deref(), &topic), selector)?;
        }
        // Broadcasting sends nothing back, so it has no retry topic to read (as in Java).
        if config.message_model == MessageModel::Clustering && !listener.is_pull() {
            subs.subscribe_retry(&config.consumer_group)?;
        }
        let core = ClientCore::start(config.client.clone(), None)?;
        let subscriptions = Arc::new(Mutex::new(subs));
        let group = config.consumer_group.clone();
        {
            let subscriptions = subscriptions.clone();
            let (model, from) = (config.message_model, config.consume_from_where);
            let consume_type = if listener.is_pull() {
                ConsumeType::ConsumeActively
            } else {
                ConsumeType::ConsumePassively
            };
            let group = group.clone();
            core.registry.add_consumer(
                &group.clone(),
                Arc::new(move || ConsumerData {
                    consume_from_where: from,
                    consume_type,
                    group_name: group.clone(),
                    message_model: model,
                    subscription_data_set: subscriptions.lock().map(|s| s.to_vec()).unwrap_or_default(),
                    unit_mode: false,
                }),
            );
        }
        let (commands_tx, commands_rx) = mpsc::channel(16);
        let labels = ConsumerLabels::new(&group, &core.client_id);
        let inner = Arc::new(ConsumerInner {
            offsets: match config.message_model {
                MessageModel::Clustering => OffsetStore::remote(core.clone(), group.clone()),
                MessageModel::Broadcasting => {
                    let file = LocalOffsetFile::new(&config.offset_store_path, &core.client_id, &group);
                    OffsetStore::local(core.clone(), group.clone(), file)
                }
            }
            .with_persist_burst(config.persist_batch_size),
            consume_permits: Arc::new(Semaphore::new(config.consume_thread_max)),
            waiting_for_listener: Arc::default(),
            listener_pool: match &listener {
                Listener::Concurrent(ConcurrentListener::Sync(_)) => Some(ListenerPool::new(
                    &config.consumer_group,
                    config.consume_thread_min,
                    config.consume_thread_max,
                )),
                _ => None,
            },
            cancel: core.cancel.child_token(),
            config,
            core,
            subscriptions,
            listener,
            rebalance_now: Notify::new(),
            closed: AtomicBool::new(false),
            stats: StatsRecorder::new(labels),
            queue_counts: watch::channel(QueueCounts::default()).0,
            rebalance_commands: commands_tx,
            started_at_ms: crate::consumer::stats::now_ms(),
            rebalancer: Mutex::new(None),
        });

        // Routes first (so the heartbeat reaches every broker), then the heartbeat (the broker must know
        // the subscription before the first pull), then the retry topic's route (created by that heartbeat).
        let topics: Vec<String> = inner
            .subscriptions
            .lock()
            .map(|s| s.topics().map(str::to_owned).collect())
            .unwrap_or_default();
        for t in topics.iter().filter(|t| !t.starts_with("%RETRY%")) {
            if let Err(e) = inner.core.routes.refresh(t).await {
                warn!(topic = %t, error = %e, "no route yet for a subscribed topic");
            }
        }
        // A broker refusing an SQL92 subscription would refuse every pull of it: fail start instead.
        let subs = inner.subscriptions.lock().map(|s| s.to_vec()).unwrap_or_default();
        if let Err(e) = super::check_client::check_client_in_broker(&inner.core, inner.group(), &subs).await {
            inner.core.shutdown(Duration::from_secs(3)).await;
            return Err(e);
        }
        inner.core.send_heartbeat_to_all().await?;
        // From here the brokers list this client in the group and tell the other members.
        debug!(group = %inner.group(), client = %inner.core.client_id, "registered with the brokers");
        for t in topics.iter().filter(|t| t.starts_with("%RETRY%")) {
            if let Err(e) = inner.core.routes.refresh(t).await {
                debug!(topic = %t, error = %e, "no route yet for the retry topic");
            }
        }

        let (tx, mut rx) = mpsc::channel(64);
        inner
            .core
            .handlers
            .register(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED, tx);
        let weak = Arc::downgrade(&inner);
        let cancel = inner.cancel.clone();
        inner.core.tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = rx.recv() => match (r, weak.upgrade()) {
                        (Some(_), Some(i)) => i.rebalance_now.notify_one(),
                        _ => break,
                    },
                }
            }
        });

        super::broker_requests::register(&inner);
        let handle = tokio::spawn(Rebalancer::new(inner.clone(), commands_rx).run());
        if let Ok(mut slot) = inner.rebalancer.lock() {
            *slot = Some(handle);
        }
        let persist = Arc::downgrade(&inner);
        let (interval, cancel) = (inner.config.persist_interval, inner.cancel.clone());
        inner.core.tracker.spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            let mut sample = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => match persist.upgrade() {
                        Some(i) => i.offsets.persist_all_oneway().await,
                        None => break,
                    },
                    _ = sample.tick() => match persist.upgrade() {
                        Some(i) => i.stats.sample(|mq| i.offsets.read_memory(mq)),
                        None => break,
                    },
                }
            }
        });
        debug!(group = %inner.group(), client = %inner.core.client_id, "consumer started");
        let guard = Arc::new(DropGuard { inner: inner.clone() });
        Ok(ConsumerHandle { inner, _guard: guard })
    }

    /// Stop: no more pulls; in-flight listener calls finish (up to `await_termination`, then their
    /// messages are left uncommitted for redelivery); offsets are persisted; orderly queue locks are
    /// released; the group is unregistered.
    pub(crate) async fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // The rebalancer stops every queue task (each persists its offset) before it returns.
        self.inner.cancel.cancel();
        let handle = self.inner.rebalancer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let wait = self.inner.config.await_termination + Duration::from_secs(10);
            if tokio::time::timeout(wait, h).await.is_err() {
                warn!("queue tasks did not stop in time");
            }
        }
        self.inner.core.shutdown(Duration::from_secs(3)).await;
    }
}

impl ConcurrentConsumer {
    /// Start building a consumer with `config`.
    pub fn builder(config: ConsumerConfig) -> ConsumerBuilder {
        ConsumerBuilder {
            config,
            subscriptions: Vec::new(),
            listener: None,
        }
    }

    /// This client's id.
    pub fn client_id(&self) -> &str {
        &self.handle.inner.core.client_id
    }

    /// The consumer's statistics now: pull and consume counts and rates per topic, and the cache, committed
    /// offset and lag of every assigned queue.
    ///
    /// ```no_run
    /// # fn demo(consumer: &rmq_client::consumer::ConcurrentConsumer) {
    /// let stats = consumer.stats();
    /// for (mq, q) in &stats.queues {
    ///     println!("{mq}: {} cached, lag {}", q.cached_messages, q.lag);
    /// }
    /// # }
    /// ```
    pub fn stats(&self) -> ConsumerStats {
        self.handle.inner.stats()
    }

    /// The consumer's health now, with the default [`StuckThresholds`]: the last heartbeat, the age of
    /// every route, and for every assigned queue when it was last pulled and consumed and whether it
    /// is stuck.
    ///
    /// ```no_run
    /// # fn demo(consumer: &rmq_client::consumer::ConcurrentConsumer) {
    /// let health = consumer.health();
    /// for mq in &health.stuck {
    ///     eprintln!("{mq} is stuck: {:?}", health.queues[mq].stuck);
    /// }
    /// # }
    /// ```
    pub fn health(&self) -> ConsumerHealth {
        self.handle.inner.health(&StuckThresholds::default())
    }

    /// [`health`](Self::health) with other thresholds for stuck queues.
    pub fn health_with(&self, thresholds: &StuckThresholds) -> ConsumerHealth {
        self.handle.inner.health(thresholds)
    }

    /// Rebalance now instead of at the next 20 s tick.
    pub fn rebalance_now(&self) {
        self.handle.inner.rebalance_now.notify_one();
    }

    /// Stop: no more pulls; in-flight listener calls finish (up to `await_termination`, then their
    /// messages are left uncommitted for redelivery); offsets are persisted; the group is unregistered.
    pub async fn shutdown(&self) {
        self.handle.shutdown().await;
    }
}
