//! Message listeners: what the user runs for each batch, the results it returns, the per-call context,
//! and the guards that turn a panicking or failing listener into a retry.
//!
//! | | concurrent | orderly |
//! |---|---|---|
//! | sync (runs on the consume threads) | [`MessageListener`] | [`OrderlyMessageListener`] |
//! | async (runs on the runtime) | [`AsyncMessageListener`] | [`AsyncOrderlyMessageListener`] |
//! | result | [`ConsumeResult`] | [`ConsumeOrderlyResult`] |
//! | context | [`ConsumeContext`] | [`ConsumeOrderlyContext`] |
//!
//! Closures implement the traits. They may return the result itself or a `Result<_, E>` with
//! `E: Display`; an `Err` counts as the failure result (ReconsumeLater / SuspendCurrentQueueAMoment), and
//! so does a panic once the call runs through [`run_guarded`] (or its async and orderly variants).
//!
//! A context is a cheap handle (clone it freely); what the listener sets through it is read by the
//! consumer after the call returns, also when an async listener moved its clone into a future.

use std::fmt::{self, Display};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rmq_protocol::message::{MessageExt, MessageQueue};
use tracing::warn;

/// What a concurrent listener says about a batch (Java `ConsumeConcurrentlyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeResult {
    /// Consumed: the messages up to the context's [ack index](ConsumeContext::set_ack_index) (all by
    /// default) are done; any later ones are treated as failed.
    Success,
    /// Failed: every message of the batch is redelivered later (CLUSTERING; dropped when broadcasting),
    /// with the context's [delay level](ConsumeContext::set_delay_level_when_next_consume).
    ReconsumeLater,
}

/// What an orderly listener says about a batch (Java `ConsumeOrderlyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeOrderlyResult {
    /// Consumed: the queue's offset moves past the batch.
    Success,
    /// Failed: the queue pauses (see [`ConsumeOrderlyContext::suspend_time`]), then the same batch is
    /// consumed again, in order.
    SuspendCurrentQueueAMoment,
}

/// A listener result type: what counts as failure when the listener errs or panics.
pub trait ListenerResult: Copy + fmt::Debug + Send + 'static {
    /// The result of a failed call.
    const FAILED: Self;
}

impl ListenerResult for ConsumeResult {
    const FAILED: Self = ConsumeResult::ReconsumeLater;
}

impl ListenerResult for ConsumeOrderlyResult {
    const FAILED: Self = ConsumeOrderlyResult::SuspendCurrentQueueAMoment;
}

/// What a listener closure may return: the result `R` itself, or `Result<R, E>` with `E: Display`
/// (an `Err` becomes [`ListenerResult::FAILED`] and is logged).
pub trait IntoListenerResult<R>: Send {
    /// The result, or the error text.
    fn into_listener_result(self) -> Result<R, String>;
}

impl IntoListenerResult<ConsumeResult> for ConsumeResult {
    fn into_listener_result(self) -> Result<ConsumeResult, String> {
        Ok(self)
    }
}

impl IntoListenerResult<ConsumeOrderlyResult> for ConsumeOrderlyResult {
    fn into_listener_result(self) -> Result<ConsumeOrderlyResult, String> {
        Ok(self)
    }
}

impl<R, T: IntoListenerResult<R>, E: Display + Send> IntoListenerResult<R> for Result<T, E> {
    fn into_listener_result(self) -> Result<R, String> {
        self.map_err(|e| e.to_string())?.into_listener_result()
    }
}

/// The context of one concurrent listener call (Java `ConsumeConcurrentlyContext`).
///
/// ```
/// use rmq_client::consumer::listener::{ConsumeContext, ConsumeResult};
/// use rmq_protocol::message::MessageQueue;
///
/// let ctx = ConsumeContext::new(MessageQueue::new("T", "broker-a", 0));
/// ctx.set_ack_index(1); // the first two messages are done, the rest failed
/// ctx.set_delay_level_when_next_consume(5);
/// assert_eq!(ctx.acknowledged(ConsumeResult::Success, 4), 2);
/// assert_eq!(ctx.acknowledged(ConsumeResult::ReconsumeLater, 4), 0);
/// ```
#[derive(Clone)]
pub struct ConsumeContext {
    inner: Arc<ContextState>,
}

struct ContextState {
    queue: MessageQueue,
    delay_level: AtomicI32,
    ack_index: AtomicUsize,
}

impl ConsumeContext {
    /// A context for a batch from `queue`: delay level 0, every message acknowledged on success.
    pub fn new(queue: MessageQueue) -> Self {
        ConsumeContext {
            inner: Arc::new(ContextState {
                queue,
                delay_level: AtomicI32::new(0),
                ack_index: AtomicUsize::new(usize::MAX),
            }),
        }
    }

    /// The queue the batch came from.
    pub fn message_queue(&self) -> &MessageQueue {
        &self.inner.queue
    }

    /// Delay level of failed messages' redelivery: 0 (default) lets the broker choose
    /// (3 + reconsume times, i.e. 10 s, 30 s, 1 min, ...), 1..=18 picks a level, -1 sends the messages
    /// straight to the dead-letter queue.
    pub fn delay_level_when_next_consume(&self) -> i32 {
        self.inner.delay_level.load(Ordering::Relaxed)
    }

    /// Set the delay level of failed messages' redelivery (see
    /// [`delay_level_when_next_consume`](Self::delay_level_when_next_consume)).
    pub fn set_delay_level_when_next_consume(&self, level: i32) {
        self.inner.delay_level.store(level, Ordering::Relaxed);
    }

    /// Index of the last message consumed when the call returns [`ConsumeResult::Success`]; `None`
    /// (default) means all of them.
    pub fn ack_index(&self) -> Option<usize> {
        Some(self.inner.ack_index.load(Ordering::Relaxed)).filter(|&i| i != usize::MAX)
    }

    /// On success, only messages `0..=index` are consumed; later ones are redelivered.
    pub fn set_ack_index(&self, index: usize) {
        self.inner.ack_index.store(index, Ordering::Relaxed);
    }

    /// How many leading messages of a batch of `len` count as consumed after `result` (Java
    /// `processConsumeResult`: success acks `min(ack_index + 1, len)`, ReconsumeLater acks none).
    pub fn acknowledged(&self, result: ConsumeResult, len: usize) -> usize {
        match result {
            ConsumeResult::Success => self.ack_index().map_or(len, |i| i.saturating_add(1).min(len)),
            ConsumeResult::ReconsumeLater => 0,
        }
    }
}

impl fmt::Debug for ConsumeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumeContext")
            .field("queue", &self.inner.queue)
            .field("delay_level", &self.delay_level_when_next_consume())
            .field("ack_index", &self.ack_index())
            .finish()
    }
}

/// Shortest and longest orderly pause (Java clamps `suspendCurrentQueueTimeMillis` to these).
const SUSPEND_MIN: Duration = Duration::from_millis(10);
const SUSPEND_MAX: Duration = Duration::from_millis(30_000);

/// The context of one orderly listener call (Java `ConsumeOrderlyContext`).
///
/// ```
/// use std::time::Duration;
/// use rmq_client::consumer::listener::ConsumeOrderlyContext;
/// use rmq_protocol::message::MessageQueue;
///
/// let ctx = ConsumeOrderlyContext::new(MessageQueue::new("T", "broker-a", 0));
/// assert_eq!(ctx.suspend_time(Duration::from_secs(1)), Duration::from_secs(1));
/// ctx.set_suspend_current_queue_time(Duration::from_secs(60));
/// assert_eq!(ctx.suspend_time(Duration::from_secs(1)), Duration::from_secs(30)); // clamped
/// ```
#[derive(Clone)]
pub struct ConsumeOrderlyContext {
    inner: Arc<OrderlyState>,
}

struct OrderlyState {
    queue: MessageQueue,
    /// Millis; `u64::MAX` = not set.
    suspend_ms: AtomicU64,
}

impl ConsumeOrderlyContext {
    /// A context for a batch from `queue`, with no suspend time of its own.
    pub fn new(queue: MessageQueue) -> Self {
        ConsumeOrderlyContext {
            inner: Arc::new(OrderlyState {
                queue,
                suspend_ms: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// The queue the batch came from.
    pub fn message_queue(&self) -> &MessageQueue {
        &self.inner.queue
    }

    /// The pause this call asked for after [`ConsumeOrderlyResult::SuspendCurrentQueueAMoment`], if any.
    pub fn suspend_current_queue_time(&self) -> Option<Duration> {
        let ms = self.inner.suspend_ms.load(Ordering::Relaxed);
        (ms != u64::MAX).then(|| Duration::from_millis(ms))
    }

    /// Ask for this pause (instead of the consumer's `suspend_current_queue_time`).
    pub fn set_suspend_current_queue_time(&self, pause: Duration) {
        let ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX - 1);
        self.inner
            .suspend_ms
            .store(ms.min(u64::MAX - 1), Ordering::Relaxed);
    }

    /// The pause to apply: this call's own, else `default`, clamped to 10 ms..=30 s as Java does.
    pub fn suspend_time(&self, default: Duration) -> Duration {
        self.suspend_current_queue_time()
            .unwrap_or(default)
            .clamp(SUSPEND_MIN, SUSPEND_MAX)
    }
}

impl fmt::Debug for ConsumeOrderlyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumeOrderlyContext")
            .field("queue", &self.inner.queue)
            .field("suspend_current_queue_time", &self.suspend_current_queue_time())
            .finish()
    }
}

/// The future an async listener returns.
pub type ListenerFuture<'a, R> = Pin<Box<dyn Future<Output = R> + Send + 'a>>;

/// A concurrent listener run on the consume thread pool (Java `MessageListenerConcurrently`).
/// Implemented by `Fn(&[MessageExt], &mut ConsumeContext) -> R` closures, where `R` is a
/// [`ConsumeResult`] or a `Result<ConsumeResult, E: Display>`.
///
/// ```
/// use rmq_client::consumer::listener::{run_guarded, ConsumeContext, ConsumeResult, MessageListener};
/// use rmq_protocol::message::{MessageExt, MessageQueue};
///
/// let listener = |msgs: &[MessageExt], _ctx: &mut ConsumeContext| -> Result<ConsumeResult, String> {
///     for m in msgs { if m.body.is_empty() { return Err("empty body".into()); } }
///     Ok(ConsumeResult::Success)
/// };
/// let mut ctx = ConsumeContext::new(MessageQueue::new("T", "b", 0));
/// assert_eq!(run_guarded(&listener, &[MessageExt::default()], &mut ctx), ConsumeResult::ReconsumeLater);
/// ```
pub trait MessageListener: Send + Sync + 'static {
    /// Consume a batch (at most `consume_message_batch_max_size` messages of one queue).
    fn consume(&self, msgs: &[MessageExt], ctx: &mut ConsumeContext) -> ConsumeResult;
}

impl<F, R> MessageListener for F
where
    F: Fn(&[MessageExt], &mut ConsumeContext) -> R + Send + Sync + 'static,
    R: IntoListenerResult<ConsumeResult>,
{
    fn consume(&self, msgs: &[MessageExt], ctx: &mut ConsumeContext) -> ConsumeResult {
        let outcome = self(msgs, ctx).into_listener_result();
        settle(outcome, ctx.message_queue(), || ids(msgs))
    }
}

/// A concurrent listener run as a task on the runtime. Implemented by closures
/// `Fn(Vec<MessageExt>, ConsumeContext) -> impl Future<Output = R> + Send + 'static`.
///
/// ```
/// use rmq_client::consumer::listener::{run_guarded_async, ConsumeContext, ConsumeResult};
/// use rmq_protocol::message::{MessageExt, MessageQueue};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let listener = |msgs: Vec<MessageExt>, ctx: ConsumeContext| async move {
///     ctx.set_ack_index(msgs.len() / 2);
///     ConsumeResult::Success
/// };
/// let ctx = ConsumeContext::new(MessageQueue::new("T", "b", 0));
/// let msgs = vec![MessageExt::default(); 4];
/// let result = run_guarded_async(&listener, msgs, ctx.clone()).await;
/// assert_eq!(ctx.acknowledged(result, 4), 3);
/// # });
/// ```
pub trait AsyncMessageListener: Send + Sync + 'static {
    /// Consume a batch; the future runs on the consumer's runtime.
    fn consume(&self, msgs: Vec<MessageExt>, ctx: ConsumeContext) -> ListenerFuture<'_, ConsumeResult>;
}

impl<F, Fut> AsyncMessageListener for F
where
    F: Fn(Vec<MessageExt>, ConsumeContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoListenerResult<ConsumeResult>,
{
    fn consume(&self, msgs: Vec<MessageExt>, ctx: ConsumeContext) -> ListenerFuture<'_, ConsumeResult> {
        let (handle, span) = (ctx.clone(), offset_span(&msgs));
        let fut = self(msgs, ctx);
        Box::pin(async move { settle(fut.await.into_listener_result(), handle.message_queue(), || span) })
    }
}

/// An orderly listener run in its queue's task while the queue lock is held (Java
/// `MessageListenerOrderly`). Implemented by `Fn(&[MessageExt], &mut ConsumeOrderlyContext) -> R`.
pub trait OrderlyMessageListener: Send + Sync + 'static {
    /// Consume a batch, in queue order.
    fn consume(&self, msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext) -> ConsumeOrderlyResult;
}

impl<F, R> OrderlyMessageListener for F
where
    F: Fn(&[MessageExt], &mut ConsumeOrderlyContext) -> R + Send + Sync + 'static,
    R: IntoListenerResult<ConsumeOrderlyResult>,
{
    fn consume(&self, msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext) -> ConsumeOrderlyResult {
        let outcome = self(msgs, ctx).into_listener_result();
        settle(outcome, ctx.message_queue(), || ids(msgs))
    }
}

/// The async counterpart of [`OrderlyMessageListener`].
pub trait AsyncOrderlyMessageListener: Send + Sync + 'static {
    /// Consume a batch, in queue order.
    fn consume(
        &self,
        msgs: Vec<MessageExt>,
        ctx: ConsumeOrderlyContext,
    ) -> ListenerFuture<'_, ConsumeOrderlyResult>;
}

impl<F, Fut> AsyncOrderlyMessageListener for F
where
    F: Fn(Vec<MessageExt>, ConsumeOrderlyContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoListenerResult<ConsumeOrderlyResult>,
{
    fn consume(
        &self,
        msgs: Vec<MessageExt>,
        ctx: ConsumeOrderlyContext,
    ) -> ListenerFuture<'_, ConsumeOrderlyResult> {
        let (handle, span) = (ctx.clone(), offset_span(&msgs));
        let fut = self(msgs, ctx);
        Box::pin(async move { settle(fut.await.into_listener_result(), handle.message_queue(), || span) })
    }
}

/// Run a sync listener; a panic counts as [`ConsumeResult::ReconsumeLater`] and is logged at WARN with
/// the queue and message ids.
pub fn run_guarded<L: MessageListener + ?Sized>(
    listener: &L,
    msgs: &[MessageExt],
    ctx: &mut ConsumeContext,
) -> ConsumeResult {
    catch_unwind(AssertUnwindSafe(|| listener.consume(msgs, ctx)))
        .unwrap_or_else(|panic| failed(ctx.message_queue(), &ids(msgs), &*panic))
}

/// [`run_guarded`] for an orderly listener (a panic counts as `SuspendCurrentQueueAMoment`).
pub fn run_guarded_orderly<L: OrderlyMessageListener + ?Sized>(
    listener: &L,
    msgs: &[MessageExt],
    ctx: &mut ConsumeOrderlyContext,
) -> ConsumeOrderlyResult {
    catch_unwind(AssertUnwindSafe(|| listener.consume(msgs, ctx)))
        .unwrap_or_else(|panic| failed(ctx.message_queue(), &ids(msgs), &*panic))
}

/// Run an async listener; a panic (while building or polling its future) counts as
/// [`ConsumeResult::ReconsumeLater`] and is logged at WARN with the queue and message ids.
pub async fn run_guarded_async<L: AsyncMessageListener + ?Sized>(
    listener: &L,
    msgs: Vec<MessageExt>,
    ctx: ConsumeContext,
) -> ConsumeResult {
    let (handle, ids) = (ctx.clone(), ids(&msgs));
    guard_async(|| listener.consume(msgs, ctx), handle.message_queue(), ids).await
}

/// [`run_guarded_async`] for an orderly listener (a panic counts as `SuspendCurrentQueueAMoment`).
pub async fn run_guarded_orderly_async<L: AsyncOrderlyMessageListener + ?Sized>(
    listener: &L,
    msgs: Vec<MessageExt>,
    ctx: ConsumeOrderlyContext,
) -> ConsumeOrderlyResult {
    let (handle, ids) = (ctx.clone(), ids(&msgs));
    guard_async(|| listener.consume(msgs, ctx), handle.message_queue(), ids).await
}

async fn guard_async<'a, R: ListenerResult>(
    start: impl FnOnce() -> ListenerFuture<'a, R>,
    queue: &MessageQueue,
    ids: Vec<String>,
) -> R {
    let outcome = match catch_unwind(AssertUnwindSafe(start)) {
        Ok(fut) => CatchUnwind { inner: fut }.await,
        Err(panic) => Err(panic),
    };
    outcome.unwrap_or_else(|panic| failed(queue, &ids, &*panic))
}

/// Polls a boxed future, turning a panic inside `poll` into `Err(payload)`.
struct CatchUnwind<'a, R> {
    inner: ListenerFuture<'a, R>,
}

impl<R> Future for CatchUnwind<'_, R> {
    type Output = std::thread::Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn settle<R: ListenerResult, D: fmt::Debug>(
    outcome: Result<R, String>,
    queue: &MessageQueue,
    batch: impl FnOnce() -> D,
) -> R {
    outcome.unwrap_or_else(|error| {
        warn!(%queue, batch = ?batch(), %error, "message listener failed; the batch will be consumed again later");
        R::FAILED
    })
}

/// Log a listener panic and return the failure result.
fn failed<R: ListenerResult>(queue: &MessageQueue, ids: &[String], panic: &(dyn std::any::Any + Send)) -> R {
    let reason = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)");
    warn!(%queue, msg_ids = ?ids, %reason, "message listener panicked; the batch will be consumed again later");
    R::FAILED
}

fn ids(msgs: &[MessageExt]) -> Vec<String> {
    msgs.iter().map(|m| m.msg_id().into_owned()).collect()
}

/// `(first offset, last offset, count)` of a batch, for logs.
fn offset_span(msgs: &[MessageExt]) -> (Option<i64>, Option<i64>, usize) {
    let offset = |m: &MessageExt| m.queue_offset;
    (msgs.first().map(offset), msgs.last().map(offset), msgs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq() -> MessageQueue {
        MessageQueue::new("T", "b", 1)
    }

    fn batch(n: i64) -> Vec<MessageExt> {
        (0..n)
            .map(|i| MessageExt {
                queue_offset: i,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn context_ack_and_delay() {
        let ctx = ConsumeContext::new(mq());
        assert_eq!((ctx.ack_index(), ctx.delay_level_when_next_consume()), (None, 0));
        assert_eq!(ctx.acknowledged(ConsumeResult::Success, 3), 3);
        ctx.set_ack_index(7);
        assert_eq!(ctx.acknowledged(ConsumeResult::Success, 3), 3);
        ctx.clone().set_ack_index(0);
        assert_eq!(ctx.acknowledged(ConsumeResult::Success, 3), 1);
        assert_eq!(ctx.acknowledged(ConsumeResult::ReconsumeLater, 3), 0);
        ctx.set_delay_level_when_next_consume(-1);
        assert_eq!(ctx.delay_level_when_next_consume(), -1);
        assert_eq!(ctx.message_queue(), &mq());
        assert!(format!("{ctx:?}").contains("ack_index: Some(0)"));
    }

    #[test]
    fn orderly_context_suspend_time() {
        let ctx = ConsumeOrderlyContext::new(mq());
        let d = Duration::from_secs(1);
        assert_eq!(ctx.suspend_current_queue_time(), None);
        assert_eq!(ctx.suspend_time(Duration::ZERO), SUSPEND_MIN);
        ctx.set_suspend_current_queue_time(Duration::from_millis(250));
        assert_eq!(ctx.suspend_time(d), Duration::from_millis(250));
        ctx.set_suspend_current_queue_time(Duration::MAX);
        assert_eq!(ctx.suspend_time(d), SUSPEND_MAX);
        assert!(format!("{ctx:?}").contains("suspend_current_queue_time"));
    }

    #[test]
    fn sync_closures_errors_and_panics() {
        let mut ctx = ConsumeContext::new(mq());
        let ok = |_: &[MessageExt], c: &mut ConsumeContext| {
            c.set_delay_level_when_next_consume(2);
            ConsumeResult::Success
        };
        assert_eq!(run_guarded(&ok, &batch(2), &mut ctx), ConsumeResult::Success);
        assert_eq!(ctx.delay_level_when_next_consume(), 2);
        let err = |_: &[MessageExt], _: &mut ConsumeContext| Err::<ConsumeResult, _>("boom");
        assert_eq!(
            run_guarded(&err, &batch(1), &mut ctx),
            ConsumeResult::ReconsumeLater
        );
        let panics = |_: &[MessageExt], _: &mut ConsumeContext| -> ConsumeResult { panic!("listener bug") };
        assert_eq!(
            run_guarded(&panics, &batch(1), &mut ctx),
            ConsumeResult::ReconsumeLater
        );
        let dynamic: Box<dyn MessageListener> = Box::new(ok);
        assert_eq!(
            run_guarded(dynamic.as_ref(), &[], &mut ctx),
            ConsumeResult::Success
        );

        let mut octx = ConsumeOrderlyContext::new(mq());
        let o =
            |_: &[MessageExt], _: &mut ConsumeOrderlyContext| Ok::<_, String>(ConsumeOrderlyResult::Success);
        assert_eq!(
            run_guarded_orderly(&o, &batch(1), &mut octx),
            ConsumeOrderlyResult::Success
        );
        let p = |_: &[MessageExt], _: &mut ConsumeOrderlyContext| -> ConsumeOrderlyResult { panic!("x") };
        let r = run_guarded_orderly(&p, &batch(1), &mut octx);
        assert_eq!(r, ConsumeOrderlyResult::SuspendCurrentQueueAMoment);
    }

    #[tokio::test]
    async fn async_closures_errors_and_panics() {
        let ctx = ConsumeContext::new(mq());
        let ok = |m: Vec<MessageExt>, c: ConsumeContext| async move {
            tokio::task::yield_now().await;
            c.set_ack_index(m.len() - 2);
            ConsumeResult::Success
        };
        assert_eq!(
            run_guarded_async(&ok, batch(5), ctx.clone()).await,
            ConsumeResult::Success
        );
        assert_eq!(ctx.ack_index(), Some(3));
        let err = |_: Vec<MessageExt>, _: ConsumeContext| async { Err::<ConsumeResult, _>("boom") };
        assert_eq!(
            run_guarded_async(&err, batch(1), ctx.clone()).await,
            ConsumeResult::ReconsumeLater
        );
        let panics_in_poll = |m: Vec<MessageExt>, _: ConsumeContext| async move {
            tokio::task::yield_now().await;
            assert!(m.is_empty(), "panics in poll");
            ConsumeResult::Success
        };
        let r = run_guarded_async(&panics_in_poll, batch(1), ctx.clone()).await;
        assert_eq!(r, ConsumeResult::ReconsumeLater);
        let dynamic: Arc<dyn AsyncMessageListener> = Arc::new(ok);
        let owned = async move { run_guarded_async(dynamic.as_ref(), batch(3), ctx).await };
        assert_eq!(tokio::spawn(owned).await.unwrap(), ConsumeResult::Success);

        let octx = ConsumeOrderlyContext::new(mq());
        let o = |_: Vec<MessageExt>, c: ConsumeOrderlyContext| async move {
            c.set_suspend_current_queue_time(Duration::from_millis(20));
            ConsumeOrderlyResult::SuspendCurrentQueueAMoment
        };
        let r = run_guarded_orderly_async(&o, batch(1), octx.clone()).await;
        assert_eq!(r, ConsumeOrderlyResult::SuspendCurrentQueueAMoment);
        assert_eq!(octx.suspend_current_queue_time(), Some(Duration::from_millis(20)));
    }

    /// A listener whose `consume` itself panics before returning a future.
    struct PanicsEarly;

    impl AsyncMessageListener for PanicsEarly {
        fn consume(&self, _: Vec<MessageExt>, _: ConsumeContext) -> ListenerFuture<'_, ConsumeResult> {
            panic!("before the future")
        }
    }

    #[tokio::test]
    async fn async_panic_before_future() {
        let r = run_guarded_async(&PanicsEarly, batch(1), ConsumeContext::new(mq())).await;
        assert_eq!(r, ConsumeResult::ReconsumeLater);
    }
}
