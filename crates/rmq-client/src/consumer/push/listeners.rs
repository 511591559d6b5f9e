//! The listener a push consumer calls, and how it is called: sync listeners on the blocking pool,
//! async ones as tasks; a panic counts as failure (see [`run_guarded`]).

use std::sync::Arc;

use rmq_protocol::message::MessageExt;

use super::prefetch::PrefetchShared;
use crate::consumer::listener::{
    run_guarded, run_guarded_async, run_guarded_orderly, run_guarded_orderly_async, AsyncMessageListener,
    AsyncOrderlyMessageListener, ConsumeContext, ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumeResult,
    MessageListener, OrderlyMessageListener,
};

/// Who consumes a consumer's messages: a concurrent or orderly listener, or `poll` (lite pull).
#[derive(Clone)]
pub(crate) enum Listener {
    Concurrent(ConcurrentListener),
    Orderly(OrderlyListener),
    Pull(Arc<PrefetchShared>),
}

impl Listener {
    pub(crate) fn is_orderly(&self) -> bool {
        matches!(self, Listener::Orderly(_))
    }

    pub(crate) fn is_pull(&self) -> bool {
        matches!(self, Listener::Pull(_))
    }
}

/// A concurrent listener.
#[derive(Clone)]
pub(crate) enum ConcurrentListener {
    /// Run on the blocking pool.
    Sync(Arc<dyn MessageListener>),
    /// Run as a task.
    Async(Arc<dyn AsyncMessageListener>),
}

/// An orderly listener.
#[derive(Clone)]
pub(crate) enum OrderlyListener {
    /// Run on the blocking pool.
    Sync(Arc<dyn OrderlyMessageListener>),
    /// Run as a task.
    Async(Arc<dyn AsyncOrderlyMessageListener>),
}

impl ConcurrentListener {
    /// Call the listener on `msgs` and hand them back; a panic counts as `ReconsumeLater`.
    pub(crate) async fn call(
        &self,
        msgs: Vec<MessageExt>,
        ctx: &ConsumeContext,
    ) -> (ConsumeResult, Vec<MessageExt>) {
        match self {
            ConcurrentListener::Sync(l) => {
                let (l, mut c) = (l.clone(), ctx.clone());
                // The closure cannot panic (run_guarded catches it); a join error means the runtime
                // is shutting down, and the messages stay uncommitted for redelivery.
                tokio::task::spawn_blocking(move || {
                    let r = run_guarded(&*l, &msgs, &mut c);
                    (r, msgs)
                })
                .await
                .unwrap_or((ConsumeResult::ReconsumeLater, Vec::new()))
            }
            ConcurrentListener::Async(l) => {
                let r = run_guarded_async(&**l, msgs.clone(), ctx.clone()).await;
                (r, msgs)
            }
        }
    }
}

impl OrderlyListener {
    /// Call the listener on `msgs` and hand them back; a panic counts as a suspend.
    pub(crate) async fn call(
        &self,
        msgs: Vec<MessageExt>,
        ctx: &ConsumeOrderlyContext,
    ) -> (ConsumeOrderlyResult, Vec<MessageExt>) {
        match self {
            OrderlyListener::Sync(l) => {
                let (l, mut c) = (l.clone(), ctx.clone());
                tokio::task::spawn_blocking(move || {
                    let r = run_guarded_orderly(&*l, &msgs, &mut c);
                    (r, msgs)
                })
                .await
                .unwrap_or((ConsumeOrderlyResult::SuspendCurrentQueueAMoment, Vec::new()))
            }
            OrderlyListener::Async(l) => {
                let r = run_guarded_orderly_async(&**l, msgs.clone(), ctx.clone()).await;
                (r, msgs)
            }
        }
    }
}
