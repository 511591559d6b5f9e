//! Pulling one queue: build the long-poll request (to the broker the last answer suggested), and turn
//! the answer into what the queue task must do. Shared by the concurrent and orderly queue tasks.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::header::{
    ConsumerSendMsgBackRequestHeader, PullMessageRequestHeader, PullMessageResponseHeader, SubscriptionData,
};
use rmq_protocol::message::{
    properties as prop, sysflag, DecodeOptions, MessageExt, MessageIter, MessageQueue,
};
use rmq_protocol::ProtocolError;
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::consumer::ConsumerInner;
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::stats::{QueueGauge, TopicCounters};
use crate::error::Result;
use crate::namespace;
use crate::telemetry::consumer::SendBack;

/// How long the broker may hold a pull (long polling).
const SUSPEND: Duration = Duration::from_secs(15);
/// RPC timeout of a pull: longer than the hold.
const PULL_TIMEOUT: Duration = Duration::from_secs(30);
/// Back-off after a failed pull.
pub(crate) const PULL_ERROR_DELAY: Duration = Duration::from_secs(1);
/// The broker id of a master.
const MASTER_ID: i64 = 0;

/// A pull in flight.
pub(crate) type PullFuture = Pin<Box<dyn Future<Output = Pulled> + Send>>;

/// What a pull returned, and how long it took.
pub(crate) struct Pulled {
    result: Result<RemotingCommand>,
    took: Duration,
}

/// What the queue task should do after a pull.
pub(crate) enum PullOutcome {
    /// Messages to consume (already re-filtered by tag, retry topics restored); the next offset moved.
    Found(Vec<MessageExt>),
    /// Nothing new (or nothing matching); the next offset moved. Pull again at once.
    Empty,
    /// The broker corrected our offset (`to` is where to go on).
    OffsetMoved { from: i64, to: i64 },
    /// Pull again after this pause.
    Backoff(Duration),
}

/// The pulling state of one queue.
pub(crate) struct Puller {
    inner: Arc<ConsumerInner>,
    pub(crate) mq: MessageQueue,
    subscription: Option<SubscriptionData>,
    /// The next offset to pull.
    pub(crate) next_offset: i64,
    /// The broker id the last answer suggested (0 = master).
    pull_from: i64,
    /// The largest decompressed body of the last pull that found messages (sizes the next pull:
    /// [`Thresholds::pull_size`](crate::consumer::process_queue::Thresholds::pull_size)).
    largest_body: Option<u64>,
    pub(crate) gauge: Arc<QueueGauge>,
    pub(crate) counters: Arc<TopicCounters>,
}

impl Puller {
    pub(crate) fn new(inner: Arc<ConsumerInner>, mq: MessageQueue, offset: i64) -> Self {
        let subscription = inner
            .subscriptions
            .lock()
            .ok()
            .and_then(|s| s.get(&mq.topic).cloned());
        let gauge = inner.stats.add_queue(&mq);
        gauge.next_pull_offset.store(offset, Relaxed);
        let counters = inner.stats.topic(&mq.topic);
        Puller {
            inner,
            mq,
            subscription,
            next_offset: offset,
            pull_from: MASTER_ID,
            largest_body: None,
            gauge,
            counters,
        }
    }

    /// The largest decompressed body of the last pull that found messages; `None` before the first.
    pub(crate) fn largest_body(&self) -> Option<u64> {
        self.largest_body
    }

    /// Start a long-poll from `next_offset` for at most `max_msg_nums` messages, reporting `commit`
    /// (the in-memory committed offset) to a master.
    pub(crate) fn pull(&self, max_msg_nums: u32) -> PullFuture {
        self.gauge.pull_sent();
        let started = Instant::now();
        let inner = self.inner.clone();
        let mq = self.mq.clone();
        let sub = self.subscription.clone();
        let offset = self.next_offset;
        let commit = self.inner.offsets.read_memory(&self.mq).unwrap_or(0);
        let pull_from = self.pull_from;
        let lite = self.inner.listener.is_pull();
        Box::pin(async move {
            let result = async {
                let found = inner
                    .core
                    .routes
                    .snapshot()
                    .subscribe_addr(&mq.broker_name, pull_from)
                    .map(|(a, slave)| (a.to_owned(), slave));
                let (addr, slave) = match found {
                    Some(f) => f,
                    None => (
                        inner
                            .core
                            .routes
                            .master_addr(&mq.broker_name, Some(&mq.topic))
                            .await?,
                        false,
                    ),
                };
                let mut sys_flag = sysflag::pull::SUSPEND;
                // A slave does not take commits (Java clears the flag when pulling from one). A lite
                // pull consumer commits explicitly and sends its subscription with every pull.
                if commit > 0 && !slave && !lite {
                    sys_flag |= sysflag::pull::COMMIT_OFFSET;
                }
                if lite {
                    sys_flag |= sysflag::pull::SUBSCRIPTION | sysflag::pull::LITE_PULL;
                }
                let h = PullMessageRequestHeader {
                    consumer_group: inner.group().to_owned(),
                    topic: mq.topic.clone(),
                    queue_id: mq.queue_id,
                    queue_offset: offset,
                    max_msg_nums: i32::try_from(max_msg_nums).unwrap_or(i32::MAX),
                    sys_flag,
                    commit_offset: commit,
                    suspend_timeout_millis: SUSPEND.as_millis() as i64,
                    subscription: if lite {
                        Some(
                            sub.as_ref()
                                .map_or_else(|| "*".to_owned(), |s| s.sub_string.clone()),
                        )
                    } else {
                        None
                    },
                    sub_version: sub.as_ref().map_or(0, |s| s.sub_version),
                    expression_type: sub.as_ref().map(|s| s.expression_type.as_str().to_owned()),
                    bname: Some(mq.broker_name.clone()),
                    ..Default::default()
                };
                let cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE, &h);
                inner.core.remoting.invoke(&addr, cmd, PULL_TIMEOUT).await
            }
            .await;
            Pulled {
                result,
                took: started.elapsed(),
            }
        })
    }

    /// Interpret a pull's answer; updates the next offset, the suggested broker and the gauges.
    pub(crate) fn on_pulled(&mut self, pulled: Pulled) -> PullOutcome {
        let took = pulled.took;
        let resp = match pulled.result {
            Ok(r) => r,
            Err(e) => {
                debug!(queue = %self.mq, error = %e, "pull failed");
                self.counters.pull_failed();
                return PullOutcome::Backoff(PULL_ERROR_DELAY);
            }
        };
        let code = resp.response_code();
        let header = match resp.decode_header::<PullMessageResponseHeader>() {
            Ok(h) => Some(h),
            Err(_)
                if code == ResponseCode::SUCCESS
                    || code.0 <= ResponseCode::PULL_OFFSET_MOVED.0 && code.0 >= 19 =>
            {
                warn!(queue = %self.mq, ?code, "pull response without its header");
                self.counters.pull_failed();
                return PullOutcome::Backoff(PULL_ERROR_DELAY);
            }
            Err(_) => None,
        };
        if let Some(h) = &header {
            self.pull_from = h.suggest_which_broker_id;
            self.gauge.broker_max_offset.store(h.max_offset, Relaxed);
        }
        let outcome = match (code, header) {
            (ResponseCode::SUCCESS, Some(h)) => {
                let (msgs, undecodable) = decode_until_error(resp.body.clone());
                if let Some(largest) = msgs.iter().map(|m| m.body.len() as u64).max() {
                    self.largest_body = Some(largest);
                }
                let failed = undecodable.is_some();
                match undecodable {
                    None => self.next_offset = h.next_begin_offset,
                    Some(e) => {
                        // Java's client keeps the messages before a malformed one and moves on to
                        // `nextBeginOffset`, silently losing the rest. We go on right after the last
                        // message that decoded, so the bad one is pulled again (after a pause) and no
                        // offset past it is ever committed.
                        let after_good = msgs.last().map(|m| m.queue_offset.saturating_add(1));
                        if let Some(o) =
                            after_good.filter(|&o| o > self.next_offset && o <= h.next_begin_offset)
                        {
                            self.next_offset = o;
                        }
                        warn!(queue = %self.mq, offset = self.next_offset, decoded = msgs.len(), error = %e,
                            "undecodable message in a pull body; pulling again from it");
                    }
                }
                let msgs = self.filter(msgs);
                self.counters.pulled(msgs.len(), took);
                match (msgs.is_empty(), failed) {
                    (false, _) => PullOutcome::Found(msgs),
                    (true, false) => PullOutcome::Empty,
                    (true, true) => PullOutcome::Backoff(PULL_ERROR_DELAY),
                }
            }
            (ResponseCode::PULL_NOT_FOUND | ResponseCode::PULL_RETRY_IMMEDIATELY, Some(h)) => {
                self.next_offset = h.next_begin_offset;
                self.counters.pulled(0, took);
                PullOutcome::Empty
            }
            (ResponseCode::PULL_OFFSET_MOVED, Some(h)) => {
                let from = self.next_offset;
                self.next_offset = h.next_begin_offset;
                PullOutcome::OffsetMoved {
                    from,
                    to: h.next_begin_offset,
                }
            }
            (ResponseCode::FLOW_CONTROL, _) => {
                self.counters.pull_failed();
                PullOutcome::Backoff(Duration::from_millis(20))
            }
            (ResponseCode::SUBSCRIPTION_NOT_EXIST | ResponseCode::SUBSCRIPTION_NOT_LATEST, _) => {
                self.counters.pull_failed();
                self.inner.core.trigger_heartbeat();
                PullOutcome::Backoff(PULL_ERROR_DELAY)
            }
            (code, _) => {
                debug!(queue = %self.mq, ?code, remark = ?resp.remark, "pull refused");
                self.counters.pull_failed();
                PullOutcome::Backoff(PULL_ERROR_DELAY)
            }
        };
        self.gauge.next_pull_offset.store(self.next_offset, Relaxed);
        outcome
    }

    /// Keep messages whose tag matches the subscription (the broker filters by tag hash only); restore
    /// the original topic of retried messages.
    fn filter(&self, msgs: Vec<MessageExt>) -> Vec<MessageExt> {
        let ns = self.inner.config.namespace.as_deref();
        msgs.into_iter()
            .filter(|m| self.subscription.as_ref().is_none_or(|s| s.matches_tag(m.tags())))
            .map(|mut m| {
                restore_topic(&mut m, ns);
                m
            })
            .collect()
    }
}

/// The messages of a pull body up to the first one that does not decode, and that one's error.
fn decode_until_error(body: bytes::Bytes) -> (Vec<MessageExt>, Option<ProtocolError>) {
    let mut msgs = Vec::new();
    for item in MessageIter::new(body, DecodeOptions::default()) {
        match item {
            Ok(m) => msgs.push(m),
            Err(e) => return (msgs, Some(e)),
        }
    }
    (msgs, None)
}

/// Give a pulled message the topic the application knows: the original one of a retried message,
/// without the namespace.
pub(crate) fn restore_topic(m: &mut MessageExt, ns: Option<&str>) {
    if let Some(t) = m.property(prop::RETRY_TOPIC).map(str::to_owned) {
        m.message.topic = t;
    }
    if ns.is_some() {
        m.message.topic = namespace::unwrap(ns, &m.message.topic);
    }
}

/// Publish a queue's cache state for stats snapshots.
pub(crate) fn publish_cache(gauge: &QueueGauge, pq: &ProcessQueue, next_offset: i64) {
    gauge.cached(pq.cached_count() as u64, pq.cached_bytes());
    gauge
        .cached_min_offset
        .store(pq.min_offset().unwrap_or(-1), Relaxed);
    let max = if pq.is_empty() {
        -1
    } else {
        pq.queue_offset_max().unwrap_or(-1)
    };
    gauge.cached_max_offset.store(max, Relaxed);
    gauge.next_pull_offset.store(next_offset, Relaxed);
}

/// Sleep until `t`, or forever when `None` (for optional `select!` branches).
pub(crate) async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// CONSUMER_SEND_MSG_BACK: the broker stores the message in the group's retry topic, or in its DLQ
/// once `max_reconsume_times` is reached or when `delay_level` is negative.
pub(crate) async fn send_back(
    inner: &ConsumerInner,
    mq: &MessageQueue,
    m: &MessageExt,
    delay_level: i32,
    max_reconsume_times: i32,
) -> Result<()> {
    let res = send_back_once(inner, mq, m, delay_level, max_reconsume_times).await;
    // The broker's rule (Java `consumerSendMsgBack`): the DLQ once the stored reconsume times reach the
    // maximum, or when asked with a negative delay level.
    let how = match &res {
        Err(_) => SendBack::Failed,
        Ok(()) if delay_level < 0 || m.reconsume_times >= max_reconsume_times => SendBack::Dlq,
        Ok(()) => SendBack::Retry,
    };
    inner.stats.topic(&mq.topic).sent_back(how);
    res
}

async fn send_back_once(
    inner: &ConsumerInner,
    mq: &MessageQueue,
    m: &MessageExt,
    delay_level: i32,
    max_reconsume_times: i32,
) -> Result<()> {
    let core = &inner.core;
    let addr = core.routes.master_addr(&mq.broker_name, Some(&mq.topic)).await?;
    let h = ConsumerSendMsgBackRequestHeader {
        offset: m.commit_log_offset,
        group: inner.group().to_owned(),
        delay_level,
        origin_msg_id: Some(m.msg_id().into_owned()),
        origin_topic: Some(namespace::wrap(inner.config.namespace.as_deref(), &m.topic)),
        unit_mode: false,
        max_reconsume_times: Some(max_reconsume_times),
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK, &h);
    core.remoting
        .invoke_ok(&addr, cmd, Duration::from_secs(5))
        .await
        .map(drop)
}
