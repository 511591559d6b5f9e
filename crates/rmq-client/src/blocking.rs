//! Blocking facades for programs without an async runtime.
//!
//! Each facade owns a small tokio runtime and drives the async client on it; its methods block the
//! calling thread. Calling them from inside an async runtime is refused with an error (blocking there
//! would stall the runtime) rather than panicking.
//!
//! ```no_run
//! use rmq_client::blocking::BlockingProducer;
//! use rmq_client::producer::Producer;
//! use rmq_protocol::message::Message;
//!
//! let producer = BlockingProducer::start(Producer::builder("sync_app").name_server("127.0.0.1:9876"))?;
//! let result = producer.send(Message::new("orders", "hello"))?;
//! println!("sent {}", result.msg_id);
//! producer.shutdown();
//! # Ok::<(), rmq_client::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_protocol::message::{Message, MessageExt, MessageQueue};

use crate::error::{Error, Result};
use crate::producer::{Producer, ProducerBuilder, QueueSelector, SendResult};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("rmq-blocking")
        .enable_all()
        .build()
        .map_err(|e| Error::new(crate::ErrorKind::Io).with_context(format!("cannot start a runtime: {e}")))
}

fn outside_runtime() -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::invalid(
            "blocking API called from inside an async runtime; use the async API there",
        ));
    }
    Ok(())
}

/// A [`Producer`] whose methods block.
#[derive(Debug, Clone)]
pub struct BlockingProducer {
    rt: Arc<tokio::runtime::Runtime>,
    producer: Producer,
}

impl BlockingProducer {
    /// Start the producer described by `builder` on a private runtime.
    pub fn start(builder: ProducerBuilder) -> Result<Self> {
        outside_runtime()?;
        let rt = Arc::new(runtime()?);
        let producer = rt.block_on(builder.start())?;
        Ok(BlockingProducer { rt, producer })
    }

    fn block<T>(&self, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        outside_runtime()?;
        self.rt.block_on(f)
    }

    /// The async producer underneath (e.g. to hand to async code running elsewhere).
    pub fn as_async(&self) -> &Producer {
        &self.producer
    }

    /// See [`Producer::send`].
    pub fn send(&self, msg: Message) -> Result<SendResult> {
        self.block(self.producer.send(msg))
    }

    /// See [`Producer::send_to_queue`].
    pub fn send_to_queue(&self, msg: Message, queue: &MessageQueue) -> Result<SendResult> {
        self.block(self.producer.send_to_queue(msg, queue))
    }

    /// See [`Producer::send_with_selector`].
    pub fn send_with_selector(&self, msg: Message, selector: &dyn QueueSelector) -> Result<SendResult> {
        self.block(self.producer.send_with_selector(msg, selector))
    }

    /// See [`Producer::send_oneway`].
    pub fn send_oneway(&self, msg: Message) -> Result<()> {
        self.block(self.producer.send_oneway(msg))
    }

    /// See [`Producer::send_with_callback`]; the callback runs on the facade's runtime.
    pub fn send_with_callback<F>(&self, msg: Message, callback: F) -> Result<()>
    where
        F: FnOnce(Result<SendResult>) + Send + 'static,
    {
        let _guard = self.rt.enter();
        self.producer.send_with_callback(msg, callback)
    }

    /// See [`Producer::send_batch`].
    pub fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult> {
        self.block(self.producer.send_batch(msgs))
    }

    /// See [`Producer::request`].
    pub fn request(&self, msg: Message, timeout: Duration) -> Result<MessageExt> {
        self.block(self.producer.request(msg, timeout))
    }

    /// See [`Producer::reply`].
    pub fn reply(&self, request: &Message, body: impl Into<Bytes>) -> Result<SendResult> {
        self.block(self.producer.reply(request, body))
    }

    /// See [`Producer::shutdown`].
    pub fn shutdown(&self) {
        if outside_runtime().is_ok() {
            self.rt.block_on(self.producer.shutdown());
        }
    }
}

/// A [`ConcurrentConsumer`](crate::consumer::ConcurrentConsumer) for programs without an async runtime:
/// the listener (a plain closure) runs on the consumer's threads while the calling thread is free.
///
/// ```no_run
/// use rmq_client::blocking::BlockingConsumer;
/// use rmq_client::consumer::{ConcurrentConsumer, ConsumeContext, ConsumeResult, ConsumerConfig};
/// use rmq_protocol::message::MessageExt;
///
/// let mut config = ConsumerConfig::new("sync_app");
/// config.client.namesrv_addr = "127.0.0.1:9876".into();
/// let consumer = BlockingConsumer::start(
///     ConcurrentConsumer::builder(config)
///         .subscribe("orders", "*")
///         .listener(|msgs: &[MessageExt], _: &mut ConsumeContext| {
///             println!("{} messages", msgs.len());
///             ConsumeResult::Success
///         }),
/// )?;
/// // ... the program does other work ...
/// consumer.shutdown();
/// # Ok::<(), rmq_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BlockingConsumer {
    rt: Arc<tokio::runtime::Runtime>,
    consumer: crate::consumer::ConcurrentConsumer,
}

impl BlockingConsumer {
    /// Start the consumer described by `builder` on a private runtime.
    pub fn start(builder: crate::consumer::ConsumerBuilder) -> Result<Self> {
        outside_runtime()?;
        let rt = Arc::new(runtime()?);
        let consumer = rt.block_on(builder.start())?;
        Ok(BlockingConsumer { rt, consumer })
    }

    /// The async consumer underneath.
    pub fn as_async(&self) -> &crate::consumer::ConcurrentConsumer {
        &self.consumer
    }

    /// See [`ConcurrentConsumer::stats`](crate::consumer::ConcurrentConsumer::stats).
    pub fn stats(&self) -> crate::consumer::ConsumerStats {
        self.consumer.stats()
    }

    /// See [`ConcurrentConsumer::shutdown`](crate::consumer::ConcurrentConsumer::shutdown): blocks until
    /// in-flight messages are done (up to `await_termination`) and offsets are stored.
    pub fn shutdown(&self) {
        if outside_runtime().is_ok() {
            self.rt.block_on(self.consumer.shutdown());
        }
    }
}

/// An [`OrderlyConsumer`](crate::consumer::OrderlyConsumer) for programs without an async runtime.
///
/// ```no_run
/// use rmq_client::blocking::BlockingOrderlyConsumer;
/// use rmq_client::consumer::{ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumerConfig, OrderlyConsumer};
/// use rmq_protocol::message::MessageExt;
///
/// let mut config = ConsumerConfig::new("ledger");
/// config.client.namesrv_addr = "127.0.0.1:9876".into();
/// let consumer = BlockingOrderlyConsumer::start(
///     OrderlyConsumer::builder(config)
///         .subscribe("account_events", "*")
///         .listener(|msgs: &[MessageExt], _: &mut ConsumeOrderlyContext| {
///             println!("{} in order", msgs.len());
///             ConsumeOrderlyResult::Success
///         }),
/// )?;
/// consumer.shutdown();
/// # Ok::<(), rmq_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BlockingOrderlyConsumer {
    rt: Arc<tokio::runtime::Runtime>,
    consumer: crate::consumer::OrderlyConsumer,
}

impl BlockingOrderlyConsumer {
    /// Start the consumer described by `builder` on a private runtime.
    pub fn start(builder: crate::consumer::OrderlyConsumerBuilder) -> Result<Self> {
        outside_runtime()?;
        let rt = Arc::new(runtime()?);
        let consumer = rt.block_on(builder.start())?;
        Ok(BlockingOrderlyConsumer { rt, consumer })
    }

    /// The async consumer underneath.
    pub fn as_async(&self) -> &crate::consumer::OrderlyConsumer {
        &self.consumer
    }

    /// See [`OrderlyConsumer::stats`](crate::consumer::OrderlyConsumer::stats).
    pub fn stats(&self) -> crate::consumer::ConsumerStats {
        self.consumer.stats()
    }

    /// See [`OrderlyConsumer::shutdown`](crate::consumer::OrderlyConsumer::shutdown).
    pub fn shutdown(&self) {
        if outside_runtime().is_ok() {
            self.rt.block_on(self.consumer.shutdown());
        }
    }
}
