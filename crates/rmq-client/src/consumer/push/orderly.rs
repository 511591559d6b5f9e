//! [`OrderlyConsumer`]: the handle of a push consumer that consumes each queue in order, holding the
//! queue's broker lock (Java `DefaultMQPushConsumer` with a `MessageListenerOrderly`).

use std::sync::Arc;

use super::consumer::ConsumerHandle;
use super::listeners::{Listener, OrderlyListener};
use crate::consumer::config::ConsumerConfig;
use crate::consumer::listener::{AsyncOrderlyMessageListener, OrderlyMessageListener};
use crate::consumer::selector::MessageSelector;
use crate::consumer::stats::ConsumerStats;
use crate::error::{Error, Result};
use crate::health::{ConsumerHealth, StuckThresholds};

/// Builds an [`OrderlyConsumer`].
///
/// ```no_run
/// # async fn demo() -> rmq_client::Result<()> {
/// use rmq_client::consumer::{ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumerConfig, OrderlyConsumer};
/// use rmq_protocol::message::MessageExt;
///
/// let mut config = ConsumerConfig::new("ledger");
/// config.client.namesrv_addr = "127.0.0.1:9876".into();
/// let consumer = OrderlyConsumer::builder(config)
///     .subscribe("account_events", "*")
///     .listener(|msgs: &[MessageExt], _ctx: &mut ConsumeOrderlyContext| {
///         for m in msgs { println!("{} in order", m.queue_offset); }
///         ConsumeOrderlyResult::Success
///     })
///     .start()
///     .await?;
/// consumer.shutdown().await;
/// # Ok(()) }
/// ```
pub struct OrderlyConsumerBuilder {
    config: ConsumerConfig,
    subscriptions: Vec<(String, MessageSelector)>,
    listener: Option<OrderlyListener>,
}

impl std::fmt::Debug for OrderlyConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderlyConsumerBuilder")
            .field("config", &self.config)
            .field("subscriptions", &self.subscriptions)
            .field("listener", &self.listener.is_some())
            .finish()
    }
}

impl OrderlyConsumerBuilder {
    /// Subscribe `topic` with `selector` (a tag expression such as `"a || b"`, or a [`MessageSelector`]).
    pub fn subscribe(mut self, topic: impl Into<String>, selector: impl Into<MessageSelector>) -> Self {
        self.subscriptions.push((topic.into(), selector.into()));
        self
    }

    /// The listener, a plain closure run on the consume threads, one batch of a queue at a time.
    pub fn listener<L: OrderlyMessageListener>(mut self, listener: L) -> Self {
        self.listener = Some(OrderlyListener::Sync(Arc::new(listener)));
        self
    }

    /// An async listener, run as a task, one batch of a queue at a time.
    pub fn async_listener<L: AsyncOrderlyMessageListener>(mut self, listener: L) -> Self {
        self.listener = Some(OrderlyListener::Async(Arc::new(listener)));
        self
    }

    /// Validate, connect, register with the brokers and start consuming.
    pub async fn start(self) -> Result<OrderlyConsumer> {
        let listener = self
            .listener
            .ok_or_else(|| Error::invalid("listener: a listener is required"))?;
        let handle =
            ConsumerHandle::start(self.config, self.subscriptions, Listener::Orderly(listener)).await?;
        Ok(OrderlyConsumer { handle })
    }
}

/// A push consumer that consumes every queue strictly in offset order, one batch at a time, and only
/// while it holds the queue's lock on the broker — so no two consumers of the group ever consume the
/// same queue at once. Cheap to clone.
#[derive(Clone)]
pub struct OrderlyConsumer {
    handle: ConsumerHandle,
}

impl std::fmt::Debug for OrderlyConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderlyConsumer")
            .field("group", &self.handle.inner.config.consumer_group)
            .field("client_id", &self.handle.inner.core.client_id)
            .finish()
    }
}

impl OrderlyConsumer {
    /// Start building an orderly consumer with `config`.
    pub fn builder(config: ConsumerConfig) -> OrderlyConsumerBuilder {
        OrderlyConsumerBuilder {
            config,
            subscriptions: Vec::new(),
            listener: None,
        }
    }

    /// This client's id.
    pub fn client_id(&self) -> &str {
        &self.handle.inner.core.client_id
    }

    /// The consumer's statistics now (see [`ConcurrentConsumer::stats`](super::ConcurrentConsumer::stats)).
    pub fn stats(&self) -> ConsumerStats {
        self.handle.inner.stats()
    }

    /// The consumer's health now (see [`ConcurrentConsumer::health`](super::ConcurrentConsumer::health)).
    /// A queue whose broker lock is lost shows as [`Stuck::NotPulling`](crate::health::Stuck) once
    /// that lasts longer than the threshold.
    ///
    /// ```no_run
    /// # fn demo(consumer: &rmq_client::consumer::OrderlyConsumer) {
    /// assert!(consumer.health().stuck.is_empty());
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

    /// Stop: no more pulls; the running batch of each queue finishes (up to `await_termination`); offsets
    /// are stored; queue locks are released so another consumer takes over at once; the group is
    /// unregistered.
    pub async fn shutdown(&self) {
        self.handle.shutdown().await;
    }
}
