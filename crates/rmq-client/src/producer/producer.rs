//! The producer handle.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::message::{Message, MessageQueue, UniqueIdGenerator};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use super::fault::LatencyFaultTolerance;
use super::options::{ProducerBuilder, ProducerOptions};
use super::result::SendResult;
use super::selector::QueueSelector;
use crate::client::ClientCore;
use crate::error::{Error, ErrorKind, Result};
use crate::health::ProducerHealth;
use crate::namespace;
use crate::telemetry::producer::ProducerTelemetry;

/// Sends messages. Cheap to clone; every clone drives the same producer, and sends take `&self`, so many
/// tasks can send concurrently through one producer.
///
/// ```no_run
/// # async fn demo() -> rmq_client::Result<()> {
/// use rmq_client::producer::Producer;
/// use rmq_protocol::message::Message;
///
/// let producer = Producer::builder("order_producer").name_server("127.0.0.1:9876").start().await?;
/// let result = producer.send(Message::new("orders", "order #1").with_tags("created")).await?;
/// println!("stored as {} at {}:{}", result.msg_id, result.queue, result.queue_offset);
/// producer.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    pub(crate) inner: Arc<ProducerInner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("group", &self.inner.group)
            .field("client_id", &self.inner.core.client_id)
            .finish()
    }
}

pub(crate) struct ProducerInner {
    pub(crate) options: ProducerOptions,
    /// The group as registered (namespace applied).
    pub(crate) group: String,
    pub(crate) core: Arc<ClientCore>,
    pub(crate) ids: UniqueIdGenerator,
    pub(crate) faults: LatencyFaultTolerance,
    pub(crate) next_queue: AtomicUsize,
    /// Callback-style sends in flight.
    pub(crate) pending: TaskTracker,
    pub(crate) cancel: CancellationToken,
    pub(crate) closed: AtomicBool,
    /// Requests waiting for replies.
    pub(crate) replies: super::request_reply::PendingReplies,
    /// Send metrics and the outcome of the last sends.
    pub(crate) telemetry: ProducerTelemetry,
}

impl Drop for ProducerInner {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Relaxed) {
            warn!(group = %self.group, "producer dropped without shutdown(); stopping without unregistering");
        }
        self.cancel.cancel();
    }
}

impl Producer {
    /// Start building a producer of `group`.
    pub fn builder(group: impl Into<String>) -> ProducerBuilder {
        ProducerBuilder::new(group)
    }

    pub(crate) async fn start(options: ProducerOptions, _reserved: Option<()>) -> Result<Producer> {
        super::validate::group_name(&options.group)?;
        if matches!(
            options.group.as_str(),
            "DEFAULT_PRODUCER" | "CLIENT_INNER_PRODUCER"
        ) {
            return Err(Error::invalid(format!(
                "producer group {} is reserved",
                options.group
            )));
        }
        if options.send_timeout.is_zero() {
            return Err(Error::invalid("send_timeout must be positive"));
        }
        if options.max_message_size == 0 {
            return Err(Error::invalid("max_message_size must be positive"));
        }
        let core = ClientCore::start(options.client.clone(), options.rpc_hook.clone())?;
        let group = namespace::wrap(options.namespace.as_deref(), &options.group);
        core.registry.add_producer(&group);
        let ip = core.client_id.split('@').next().and_then(|ip| ip.parse().ok());
        let ids = match ip {
            Some(ip) => UniqueIdGenerator::new(ip),
            None => UniqueIdGenerator::with_fake_ip(),
        };
        let cancel = core.cancel.child_token();
        let telemetry = ProducerTelemetry::new(&group, &core.client_id);
        let inner = Arc::new(ProducerInner {
            telemetry,
            options,
            group,
            core,
            ids,
            faults: LatencyFaultTolerance::default(),
            next_queue: AtomicUsize::new(rand::random::<u16>() as usize),
            pending: TaskTracker::new(),
            cancel,
            closed: AtomicBool::new(false),
            replies: Default::default(),
        });
        super::request_reply::install(&inner);
        Ok(Producer { inner })
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Shutdown));
        }
        Ok(())
    }

    /// The options this producer runs with.
    pub fn options(&self) -> &ProducerOptions {
        &self.inner.options
    }

    /// This client's id (`ip@instance`).
    pub fn client_id(&self) -> &str {
        &self.inner.core.client_id
    }

    /// Send `msg` and wait for the broker to store it. On a retryable failure the send is retried on
    /// another broker, up to `retries` times, never past `send_timeout` in total. A timeout is reported
    /// as [`ErrorKind::Timeout`]: the message may still have been stored.
    pub async fn send(&self, msg: Message) -> Result<SendResult> {
        self.check_open()?;
        let p = self.inner.prepare(msg)?;
        self.inner.send_with_retries(&p, self.inner.options.retries).await
    }

    /// Send `msg` to the given queue (one attempt, no retry elsewhere).
    pub async fn send_to_queue(&self, msg: Message, queue: &MessageQueue) -> Result<SendResult> {
        self.check_open()?;
        if msg.topic != queue.topic {
            return Err(Error::invalid(format!(
                "message topic {} differs from queue topic {}",
                msg.topic, queue.topic
            )));
        }
        let p = self.inner.prepare(msg)?;
        let inner = &self.inner;
        let send = |_| async {
            let route = inner.publish_route(&p.topic).await?;
            let mut mq = queue.clone();
            mq.topic = p.topic.clone();
            inner.send_once(&p, &route, &mq, inner.options.send_timeout).await
        };
        inner.observe(&p, send).await
    }

    /// Send `msg` to the queue `selector` picks among the topic's writable queues (one attempt: order
    /// matters more than availability here, as with the Java client).
    pub async fn send_with_selector(&self, msg: Message, selector: &dyn QueueSelector) -> Result<SendResult> {
        self.check_open()?;
        let p = self.inner.prepare(msg.clone())?;
        let inner = &self.inner;
        let send = |_| async {
            let route = inner.publish_route(&p.topic).await?;
            let idx = selector
                .select(&route.publish_queues, &msg)
                .filter(|i| *i < route.publish_queues.len())
                .ok_or_else(|| Error::invalid("queue selector chose no valid queue"))?;
            let mq = route.publish_queues[idx].clone();
            inner.send_once(&p, &route, &mq, inner.options.send_timeout).await
        };
        inner.observe(&p, send).await
    }

    /// Send `msg` without waiting for the broker (no result, no retry, no guarantee).
    pub async fn send_oneway(&self, msg: Message) -> Result<()> {
        self.check_open()?;
        let p = self.inner.prepare(msg)?;
        let route = self.inner.publish_route(&p.topic).await?;
        let mq = self.inner.select_queue(&route, None);
        self.inner.send_oneway_once(&p, &route, &mq).await
    }

    /// Send `msg` in the background and call `callback` exactly once with the outcome — also when the
    /// producer shuts down first (then with [`ErrorKind::Shutdown`]). Retries up to `async_retries`.
    pub fn send_with_callback<F>(&self, msg: Message, callback: F) -> Result<()>
    where
        F: FnOnce(Result<SendResult>) + Send + 'static,
    {
        self.check_open()?;
        let p = self.inner.prepare(msg)?;
        let inner = self.inner.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.pending.spawn(async move {
            let outcome = tokio::select! {
                r = inner.send_with_retries(&p, inner.options.async_retries) => r,
                _ = cancel.cancelled() => Err(Error::new(ErrorKind::Shutdown)),
            };
            callback(outcome);
        });
        Ok(())
    }

    /// Send several messages of one topic as one request; one [`SendResult`] covers them all (its
    /// `msg_id` lists every message's id, comma-separated). Batches are never compressed.
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult> {
        self.check_open()?;
        let p = self.inner.prepare_batch(msgs)?;
        self.inner.send_with_retries(&p, self.inner.options.retries).await
    }

    /// The writable queues of `topic`, as sends see them.
    pub async fn publish_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        let wire = namespace::wrap(self.inner.options.namespace.as_deref(), topic);
        let route = self.inner.publish_route(&wire).await?;
        Ok(route
            .publish_queues
            .iter()
            .map(|q| {
                MessageQueue::new(
                    namespace::unwrap(self.inner.options.namespace.as_deref(), &q.topic),
                    q.broker_name.clone(),
                    q.queue_id,
                )
            })
            .collect())
    }

    /// The producer's health now: the last heartbeat, the age of every route it holds, its open
    /// connections, and when a send last succeeded and last failed.
    ///
    /// ```no_run
    /// # fn demo(producer: &rmq_client::producer::Producer) {
    /// let health = producer.health();
    /// if let Some((at, error)) = &health.last_send_error {
    ///     eprintln!("last failed send at {at:?}: {error}");
    /// }
    /// for (topic, route) in &health.client.routes {
    ///     eprintln!("{topic}: route fetched {:?} ago", route.age);
    /// }
    /// # }
    /// ```
    pub fn health(&self) -> ProducerHealth {
        let t = &self.inner.telemetry;
        let last_send_error = t
            .last_error
            .lock()
            .ok()
            .and_then(|l| l.as_ref().and_then(|(at, e)| at.at().map(|at| (at, e.clone()))));
        ProducerHealth {
            client: self.inner.core.health(),
            last_send_ok: t.last_ok.at(),
            since_last_send_ok: t.last_ok.age(),
            last_send_error,
        }
    }

    /// Number of callback-style sends still in flight.
    pub fn pending_sends(&self) -> usize {
        self.inner.pending.len()
    }

    /// Stop: refuse new sends, let callback-style sends finish (up to `send_timeout` plus a second; any
    /// still running then complete with [`ErrorKind::Shutdown`]), unregister the group from the brokers,
    /// stop background tasks and close connections. Idempotent.
    pub async fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.pending.close();
        let grace = self.inner.options.send_timeout + Duration::from_secs(1);
        if tokio::time::timeout(grace, self.inner.pending.wait())
            .await
            .is_err()
        {
            self.inner.cancel.cancel();
            self.inner.pending.wait().await;
        }
        self.inner.core.shutdown(Duration::from_secs(3)).await;
    }
}
