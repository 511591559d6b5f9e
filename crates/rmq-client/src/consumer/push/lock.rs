//! Broker queue locks of the orderly consumer: LOCK_BATCH_MQ / UNLOCK_BATCH_MQ to a queue's master,
//! and the local view of one lock ([`QueueLock`]), valid for 30 s after its last renewal on the
//! monotonic clock.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use rmq_protocol::header::{
    LockBatchMqRequestHeader, LockBatchRequestBody, LockBatchResponseBody, UnlockBatchMqRequestHeader,
    UnlockBatchRequestBody,
};
use rmq_protocol::message::MessageQueue;
use rmq_protocol::{RemotingCommand, RequestCode};

use super::consumer::ConsumerInner;
use crate::consumer::process_queue::REBALANCE_LOCK_MAX_LIVE_TIME;
use crate::error::Result;

/// This client's view of the broker lock of one queue.
#[derive(Debug, Default)]
pub(crate) struct QueueLock {
    locked: AtomicBool,
    renewed: Mutex<Option<Instant>>,
    /// Broadcasting: no broker lock is needed; always valid.
    permanent: bool,
}

impl QueueLock {
    /// A lock that is always valid (broadcasting consumers take no broker locks).
    pub(crate) fn permanent() -> Self {
        QueueLock {
            permanent: true,
            ..Default::default()
        }
    }

    /// The broker confirmed the lock at `at`.
    pub(crate) fn renewed(&self, at: Instant) {
        if let Ok(mut r) = self.renewed.lock() {
            *r = Some(at);
        }
        self.locked.store(true, Relaxed);
    }

    /// The broker refused the lock (another client holds it).
    pub(crate) fn lost(&self) {
        self.locked.store(false, Relaxed);
    }

    /// Whether the queue may be consumed now: locked and renewed within the last 30 s.
    pub(crate) fn is_valid(&self, now: Instant) -> bool {
        self.permanent
            || self.locked.load(Relaxed)
                && self
                    .renewed
                    .lock()
                    .ok()
                    .and_then(|r| *r)
                    .is_some_and(|t| now.saturating_duration_since(t) <= REBALANCE_LOCK_MAX_LIVE_TIME)
    }
}

/// Group queues by broker name (one lock request per broker).
pub(crate) fn by_broker<'a>(
    queues: impl IntoIterator<Item = &'a MessageQueue>,
) -> BTreeMap<String, Vec<MessageQueue>> {
    let mut out: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
    for mq in queues {
        out.entry(mq.broker_name.clone()).or_default().push(mq.clone());
    }
    out
}

/// Lock `queues` (all of `broker_name`) for this client; returns the ones the broker granted.
pub(crate) async fn lock_batch(
    inner: &ConsumerInner,
    broker_name: &str,
    queues: Vec<MessageQueue>,
) -> Result<HashSet<MessageQueue>> {
    let topic = queues.first().map(|q| q.topic.clone());
    let core = &inner.core;
    let addr = core.routes.master_addr(broker_name, topic.as_deref()).await?;
    let body = LockBatchRequestBody {
        client_id: core.client_id.clone(),
        consumer_group: inner.group().to_owned(),
        mq_set: queues,
        only_this_broker: true,
    };
    let h = LockBatchMqRequestHeader {
        bname: Some(broker_name.to_owned()),
    };
    let cmd = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ, &h).with_body(body.to_json());
    let resp = core
        .remoting
        .invoke_ok(&addr, cmd, core.config.request_timeout)
        .await?;
    Ok(LockBatchResponseBody::from_json(&resp.body)?
        .lock_ok_mq_set
        .into_iter()
        .collect())
}

/// Release `queues` (all of `broker_name`), waiting for the broker's answer.
pub(crate) async fn unlock_batch(
    inner: &ConsumerInner,
    broker_name: &str,
    queues: Vec<MessageQueue>,
) -> Result<()> {
    let topic = queues.first().map(|q| q.topic.clone());
    let core = &inner.core;
    let addr = core.routes.master_addr(broker_name, topic.as_deref()).await?;
    let body = UnlockBatchRequestBody {
        client_id: core.client_id.clone(),
        consumer_group: inner.group().to_owned(),
        mq_set: queues,
        only_this_broker: true,
    };
    let h = UnlockBatchMqRequestHeader {
        bname: Some(broker_name.to_owned()),
    };
    let cmd = RemotingCommand::request(RequestCode::UNLOCK_BATCH_MQ, &h).with_body(body.to_json());
    core.remoting
        .invoke_ok(&addr, cmd, core.config.request_timeout)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lock_is_valid_for_30_s_after_renewal_and_not_after_loss() {
        let l = QueueLock::default();
        let t0 = Instant::now();
        assert!(!l.is_valid(t0), "never locked");
        l.renewed(t0);
        assert!(l.is_valid(t0 + Duration::from_secs(30)));
        assert!(!l.is_valid(t0 + Duration::from_secs(31)));
        l.renewed(t0 + Duration::from_secs(20));
        assert!(l.is_valid(t0 + Duration::from_secs(45)));
        l.lost();
        assert!(!l.is_valid(t0 + Duration::from_secs(21)));
    }

    #[test]
    fn queues_grouped_by_broker() {
        let qs = [
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("T", "a", 1),
            MessageQueue::new("T", "b", 1),
        ];
        let g = by_broker(&qs);
        assert_eq!(g.len(), 2);
        assert_eq!(g["b"].len(), 2);
        assert_eq!(g["a"], vec![MessageQueue::new("T", "a", 1)]);
    }
}
