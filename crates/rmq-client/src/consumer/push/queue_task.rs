//! One task per assigned queue: it owns the queue's `ProcessQueue`, long-polls the broker, hands
//! batches to the listener pool and turns their completions into committed offsets.
//!
//! Flow control is an `if` in this loop: no pull is issued while the cache is over its thresholds, and
//! a completion (which frees room) wakes the loop at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::header::{
    ConsumerSendMsgBackRequestHeader, PullMessageRequestHeader, PullMessageResponseHeader, SubscriptionData,
};
use rmq_protocol::message::{decode_messages, properties as prop, sysflag, MessageExt, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::consumer::{ConsumerInner, Listener};
use crate::consumer::listener::{run_guarded, run_guarded_async, ConsumeContext, ConsumeResult};
use crate::consumer::process_queue::{ProcessQueue, Thresholds};
use crate::error::Result;

/// How long the broker may hold a pull (long polling).
const SUSPEND: Duration = Duration::from_secs(15);
/// RPC timeout of a pull: longer than the hold.
const PULL_TIMEOUT: Duration = Duration::from_secs(30);
/// Back-off after a failed pull.
const PULL_ERROR_DELAY: Duration = Duration::from_secs(1);
/// Re-check interval while flow-controlled (a completion wakes the loop sooner).
const FLOW_CONTROL_DELAY: Duration = Duration::from_millis(50);
/// Delay before a message whose send-back failed is consumed again locally.
const LOCAL_RETRY_DELAY: Duration = Duration::from_secs(5);

/// A finished listener call.
struct Consumed {
    /// Offsets now done (consumed, or handed to the broker's retry topic).
    done: Vec<i64>,
    /// Failed messages the broker did not take back: consumed again here later.
    retry_locally: Vec<MessageExt>,
}

type PullFuture = Pin<Box<dyn Future<Output = Result<RemotingCommand>> + Send>>;

pub(crate) struct QueueTask {
    inner: Arc<ConsumerInner>,
    mq: MessageQueue,
    next_offset: i64,
    pq: ProcessQueue,
    cancel: CancellationToken,
    subscription: Option<SubscriptionData>,
    tx: mpsc::UnboundedSender<Consumed>,
    rx: mpsc::UnboundedReceiver<Consumed>,
    in_flight: usize,
}

impl QueueTask {
    pub(crate) fn new(
        inner: Arc<ConsumerInner>,
        mq: MessageQueue,
        offset: i64,
        cancel: CancellationToken,
    ) -> Self {
        let subscription = inner
            .subscriptions
            .lock()
            .ok()
            .and_then(|s| s.get(&mq.topic).cloned());
        let (tx, rx) = mpsc::unbounded_channel();
        QueueTask {
            inner,
            mq,
            next_offset: offset,
            pq: ProcessQueue::new(),
            cancel,
            subscription,
            tx,
            rx,
            in_flight: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        let thresholds = Thresholds::for_queue(&self.inner.config, 1, 1, false);
        let mut pull: Option<PullFuture> = None;
        let mut wake_at: Option<Instant> = Some(Instant::now());
        let mut flow_paused = false;
        loop {
            if pull.is_none() && wake_at.is_some_and(|t| t <= Instant::now()) {
                if let Some(reason) = self.pq.is_over_thresholds(&thresholds) {
                    if !flow_paused {
                        debug!(queue = %self.mq, %reason, "flow control: pull paused");
                    }
                    flow_paused = true;
                    wake_at = Some(Instant::now() + FLOW_CONTROL_DELAY);
                } else {
                    flow_paused = false;
                    pull = Some(self.pull_future());
                    wake_at = None;
                }
            }
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                Some(done) = self.rx.recv() => {
                    self.on_consumed(done);
                    if flow_paused {
                        wake_at = Some(Instant::now());
                    }
                }
                res = async { match pull.as_mut() { Some(p) => p.await, None => std::future::pending().await } }, if pull.is_some() => {
                    pull = None;
                    wake_at = Some(self.on_pulled(res));
                }
                _ = sleep_until_opt(wake_at), if pull.is_none() && wake_at.is_some() => {}
            }
        }
        drop(pull);
        self.drain().await;
    }

    /// After cancellation: let in-flight listener calls finish up to `await_termination`; whatever is not
    /// done by then stays uncommitted (it is redelivered to the queue's next owner).
    async fn drain(&mut self) {
        let deadline = Instant::now() + self.inner.config.await_termination;
        while self.in_flight > 0 {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(done)) => self.on_consumed(done),
                _ => break,
            }
        }
        self.pq.dropped = true;
        if self.in_flight > 0 {
            debug!(queue = %self.mq, in_flight = self.in_flight, "stopped with listener calls still running");
        }
    }

    fn pull_future(&self) -> PullFuture {
        let inner = self.inner.clone();
        let mq = self.mq.clone();
        let sub = self.subscription.clone();
        let offset = self.next_offset;
        let commit = self.inner.offsets.read_memory(&self.mq).unwrap_or(0);
        Box::pin(async move {
            let addr = inner
                .core
                .routes
                .master_addr(&mq.broker_name, Some(&mq.topic))
                .await?;
            let mut sys_flag = sysflag::pull::SUSPEND;
            if commit > 0 {
                sys_flag |= sysflag::pull::COMMIT_OFFSET;
            }
            let h = PullMessageRequestHeader {
                consumer_group: inner.group().to_owned(),
                topic: mq.topic.clone(),
                queue_id: mq.queue_id,
                queue_offset: offset,
                max_msg_nums: inner.config.pull_batch_size as i32,
                sys_flag,
                commit_offset: commit,
                suspend_timeout_millis: SUSPEND.as_millis() as i64,
                sub_version: sub.as_ref().map_or(0, |s| s.sub_version),
                expression_type: sub.as_ref().map(|s| s.expression_type.as_str().to_owned()),
                bname: Some(mq.broker_name.clone()),
                ..Default::default()
            };
            let cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE, &h);
            inner.core.remoting.invoke(&addr, cmd, PULL_TIMEOUT).await
        })
    }

    /// Handle a pull's outcome; returns when to pull next.
    fn on_pulled(&mut self, res: Result<RemotingCommand>) -> Instant {
        let now = Instant::now();
        let resp = match res {
            Ok(r) => r,
            Err(e) => {
                debug!(queue = %self.mq, error = %e, "pull failed");
                return now + PULL_ERROR_DELAY;
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
                return now + PULL_ERROR_DELAY;
            }
            Err(_) => None,
        };
        match (code, header) {
            (ResponseCode::SUCCESS, Some(h)) => {
                self.next_offset = h.next_begin_offset;
                let msgs = match decode_messages(&resp.body) {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(queue = %self.mq, error = %e, "undecodable pull body; skipping to the next offset");
                        Vec::new()
                    }
                };
                let msgs = self.filter(msgs);
                if msgs.is_empty() {
                    self.commit_if_idle();
                } else {
                    self.dispatch(msgs);
                }
                now + self.inner.config.pull_interval
            }
            (ResponseCode::PULL_NOT_FOUND | ResponseCode::PULL_RETRY_IMMEDIATELY, Some(h)) => {
                self.next_offset = h.next_begin_offset;
                self.commit_if_idle();
                now
            }
            (ResponseCode::PULL_OFFSET_MOVED, Some(h)) => {
                // Correct once, persist, and go on from the broker's offset (no pull loop on a bad offset).
                warn!(queue = %self.mq, from = self.next_offset, to = h.next_begin_offset, "offset moved");
                self.next_offset = h.next_begin_offset;
                if self.pq.is_empty() {
                    self.inner.offsets.update(&self.mq, h.next_begin_offset, false);
                    let (inner, mq) = (self.inner.clone(), self.mq.clone());
                    tokio::spawn(async move {
                        let _ = inner.offsets.persist(&mq).await;
                    });
                }
                now
            }
            (ResponseCode::FLOW_CONTROL, _) => now + Duration::from_millis(20),
            (ResponseCode::SUBSCRIPTION_NOT_EXIST | ResponseCode::SUBSCRIPTION_NOT_LATEST, _) => {
                self.inner.core.trigger_heartbeat();
                now + PULL_ERROR_DELAY
            }
            (code, _) => {
                debug!(queue = %self.mq, ?code, remark = ?resp.remark, "pull refused");
                now + PULL_ERROR_DELAY
            }
        }
    }

    /// Keep messages whose tag matches the subscription (the broker filters by tag hash only); restore
    /// the original topic of retried messages.
    fn filter(&self, msgs: Vec<MessageExt>) -> Vec<MessageExt> {
        msgs.into_iter()
            .filter(|m| self.subscription.as_ref().is_none_or(|s| s.matches_tag(m.tags())))
            .map(|mut m| {
                if let Some(t) = m.property(prop::RETRY_TOPIC).map(str::to_owned) {
                    m.message.topic = t;
                }
                m
            })
            .collect()
    }

    /// Nothing cached: the next offset is where the group is.
    fn commit_if_idle(&mut self) {
        if self.pq.is_empty() {
            self.inner.offsets.update(&self.mq, self.next_offset, true);
        }
    }

    fn dispatch(&mut self, msgs: Vec<MessageExt>) {
        self.pq.put_messages(msgs.clone());
        let offsets: Vec<i64> = msgs.iter().map(|m| m.queue_offset).collect();
        self.pq.mark_consume_started(&offsets, std::time::Instant::now());
        let batch = self.inner.config.consume_message_batch_max_size.max(1);
        let mut msgs = msgs;
        while !msgs.is_empty() {
            let rest = msgs.split_off(batch.min(msgs.len()));
            self.spawn_consume(msgs, Duration::ZERO);
            msgs = rest;
        }
    }

    fn spawn_consume(&mut self, msgs: Vec<MessageExt>, after: Duration) {
        self.in_flight += 1;
        let (inner, mq, tx) = (self.inner.clone(), self.mq.clone(), self.tx.clone());
        tokio::spawn(async move {
            if !after.is_zero() {
                tokio::time::sleep(after).await;
            }
            let done = consume(&inner, &mq, msgs).await;
            let _ = tx.send(done);
        });
    }

    fn on_consumed(&mut self, c: Consumed) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if !c.done.is_empty() {
            if let Some(offset) = self.pq.remove_messages(&c.done) {
                if !self.pq.dropped {
                    self.inner.offsets.update(&self.mq, offset, true);
                }
            }
        }
        if !c.retry_locally.is_empty() && !self.pq.dropped {
            let msgs = c
                .retry_locally
                .into_iter()
                .map(|mut m| {
                    m.reconsume_times += 1;
                    m
                })
                .collect();
            self.spawn_consume(msgs, LOCAL_RETRY_DELAY);
        }
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Run the listener on `msgs` (bounded by the consume permits) and send failures back to the broker.
async fn consume(inner: &Arc<ConsumerInner>, mq: &MessageQueue, msgs: Vec<MessageExt>) -> Consumed {
    let _permit = inner.consume_permits.clone().acquire_owned().await;
    let ctx = ConsumeContext::new(mq.clone());
    let result = match &inner.listener {
        Listener::Sync(l) => {
            let (l, m, mut c) = (l.clone(), msgs.clone(), ctx.clone());
            tokio::task::spawn_blocking(move || run_guarded(&*l, &m, &mut c))
                .await
                .unwrap_or(ConsumeResult::ReconsumeLater)
        }
        Listener::Async(l) => run_guarded_async(&**l, msgs.clone(), ctx.clone()).await,
    };
    let acked = ctx.acknowledged(result, msgs.len());
    let mut done: Vec<i64> = msgs[..acked].iter().map(|m| m.queue_offset).collect();
    let mut retry_locally = Vec::new();
    for m in &msgs[acked..] {
        match send_back(inner, mq, m, ctx.delay_level_when_next_consume()).await {
            Ok(()) => done.push(m.queue_offset),
            Err(e) => {
                warn!(msg_id = %m.msg_id(), error = %e, "send-back failed; the message will be consumed again here");
                retry_locally.push(m.clone());
            }
        }
    }
    Consumed { done, retry_locally }
}

/// CONSUMER_SEND_MSG_BACK: the broker stores the message in the group's retry topic (or its DLQ once
/// `max_reconsume_times` is reached).
async fn send_back(inner: &ConsumerInner, mq: &MessageQueue, m: &MessageExt, delay_level: i32) -> Result<()> {
    let core = &inner.core;
    let addr = core.routes.master_addr(&mq.broker_name, Some(&mq.topic)).await?;
    let h = ConsumerSendMsgBackRequestHeader {
        offset: m.commit_log_offset,
        group: inner.group().to_owned(),
        delay_level,
        origin_msg_id: Some(m.msg_id().into_owned()),
        origin_topic: Some(m.topic.clone()),
        unit_mode: false,
        max_reconsume_times: Some(inner.config.effective_max_reconsume_times()),
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK, &h);
    core.remoting
        .invoke_ok(&addr, cmd, Duration::from_secs(5))
        .await
        .map(drop)
}
