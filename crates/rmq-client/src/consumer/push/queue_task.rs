//! One task per assigned queue: it owns the queue's `ProcessQueue`, long-polls the broker, hands
//! batches to the listener pool and turns their completions into committed offsets.
//!
//! Flow control is an `if` in this loop: no pull is issued while the cache is over its thresholds (the
//! per-queue limits and this queue's share of the topic and consumer-wide limits, re-read as the
//! rebalancer's queue counts change), and a completion (which frees room) wakes the loop at once.
//!
//! Messages whose listener call runs longer than `consume_timeout` are sent back to the broker (Java
//! `cleanExpiredMsg`) so the committed offset can move past them. Pulls go to the broker the last
//! answer suggested (a slave when the master is busy), without committing offsets there.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::header::{
    ConsumerSendMsgBackRequestHeader, PullMessageRequestHeader, PullMessageResponseHeader, SubscriptionData,
};
use rmq_protocol::message::{decode_messages, properties as prop, sysflag, MessageExt, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::consumer::ConsumerInner;
use super::rebalance::QueueCounts;
use crate::consumer::listener::ConsumeContext;
use crate::consumer::process_queue::{ProcessQueue, Thresholds};
use crate::consumer::stats::{now_ms, QueueGauge, TopicCounters};
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
/// Most expired messages sent back per scan (Java sends at most 16 per round).
const EXPIRED_PER_SCAN: usize = 16;
/// Delay level of a message sent back because its consumption timed out (Java uses 3).
const EXPIRED_DELAY_LEVEL: i32 = 3;
/// The broker id of a master.
const MASTER_ID: i64 = 0;

/// What consume tasks report to their queue task.
enum Event {
    /// A listener call began later than its dispatch (it waited for a consume permit or a retry
    /// delay): its messages' consumption started now, for the timeout scan.
    Started(Vec<i64>, std::time::Instant),
    /// A listener call or a send-back of expired messages finished.
    Done(Consumed),
}

/// A finished listener call, or a finished send-back of expired messages.
struct Consumed {
    /// Offsets now done (consumed, or handed to the broker's retry topic).
    done: Vec<i64>,
    /// Failed messages the broker did not take back: consumed again here later.
    retry_locally: Vec<MessageExt>,
    /// Whether this ends a listener call (else: a timeout send-back).
    listener_call: bool,
    /// Expired offsets whose send-back was attempted (done or not).
    expired: Vec<i64>,
}

type PullFuture = Pin<Box<dyn Future<Output = Pulled> + Send>>;

/// What a pull returned, with where and when it was sent.
struct Pulled {
    result: Result<RemotingCommand>,
    took: Duration,
}

pub(crate) struct QueueTask {
    inner: Arc<ConsumerInner>,
    mq: MessageQueue,
    next_offset: i64,
    pq: ProcessQueue,
    cancel: CancellationToken,
    subscription: Option<SubscriptionData>,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    in_flight: usize,
    counts: watch::Receiver<QueueCounts>,
    gauge: Arc<QueueGauge>,
    counters: Arc<TopicCounters>,
    /// The broker id the last pull answer suggested (0 = master).
    pull_from: i64,
    /// Expired offsets with a send-back in progress.
    expiring: HashSet<i64>,
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
        let counts = inner.queue_counts.subscribe();
        let gauge = inner.stats.add_queue(&mq);
        gauge.next_pull_offset.store(offset, Relaxed);
        let counters = inner.stats.topic(&mq.topic);
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
            counts,
            gauge,
            counters,
            pull_from: MASTER_ID,
            expiring: HashSet::new(),
        }
    }

    /// This queue's limits given how many queues this consumer holds now.
    fn thresholds(&self) -> Thresholds {
        let counts = self.counts.borrow();
        let topic = counts.per_topic.get(&self.mq.topic).copied().unwrap_or(1);
        Thresholds::for_queue(&self.inner.config, topic, counts.all, false)
    }

    pub(crate) async fn run(mut self) {
        let mut pull: Option<PullFuture> = None;
        let mut wake_at: Option<Instant> = Some(Instant::now());
        let mut flow_paused = false;
        let timeout = self.inner.config.consume_timeout;
        let scan_every = (timeout / 2).clamp(Duration::from_millis(500), Duration::from_secs(60));
        let mut scan = tokio::time::interval_at(Instant::now() + scan_every, scan_every);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if pull.is_none() && wake_at.is_some_and(|t| t <= Instant::now()) {
                if let Some(reason) = self.pq.is_over_thresholds(&self.thresholds()) {
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
                Some(event) = self.rx.recv() => {
                    self.on_event(event);
                    if flow_paused {
                        wake_at = Some(Instant::now());
                    }
                }
                res = async { match pull.as_mut() { Some(p) => p.await, None => std::future::pending().await } }, if pull.is_some() => {
                    pull = None;
                    wake_at = Some(self.on_pulled(res));
                }
                _ = sleep_until_opt(wake_at), if pull.is_none() && wake_at.is_some() => {}
                _ = scan.tick() => self.send_back_expired(timeout),
            }
        }
        drop(pull);
        self.drain().await;
        self.gauge.dropped.store(true, Relaxed);
    }

    /// Publish the cache's state for stats snapshots.
    fn publish(&self) {
        let g = &self.gauge;
        g.cached_count.store(self.pq.cached_count() as u64, Relaxed);
        g.cached_bytes.store(self.pq.cached_bytes(), Relaxed);
        g.cached_min_offset
            .store(self.pq.min_offset().unwrap_or(-1), Relaxed);
        let max = if self.pq.is_empty() {
            -1
        } else {
            self.pq.queue_offset_max().unwrap_or(-1)
        };
        g.cached_max_offset.store(max, Relaxed);
        g.next_pull_offset.store(self.next_offset, Relaxed);
    }

    /// Send back the messages whose listener call has run longer than `timeout` (Java
    /// `cleanExpiredMsg`); once the broker has them they are done here and the offset can move on.
    fn send_back_expired(&mut self, timeout: Duration) {
        let expired: Vec<MessageExt> = self
            .pq
            .expired_messages(timeout, std::time::Instant::now(), EXPIRED_PER_SCAN)
            .into_iter()
            .filter(|m| !self.expiring.contains(&m.queue_offset))
            .collect();
        if expired.is_empty() {
            return;
        }
        warn!(queue = %self.mq, count = expired.len(), ?timeout, "consumption timed out; sending the messages back for redelivery");
        self.expiring.extend(expired.iter().map(|m| m.queue_offset));
        let (inner, mq, tx) = (self.inner.clone(), self.mq.clone(), self.tx.clone());
        tokio::spawn(async move {
            let mut done = Vec::new();
            let attempted = expired.iter().map(|m| m.queue_offset).collect();
            for m in &expired {
                match send_back(&inner, &mq, m, EXPIRED_DELAY_LEVEL).await {
                    Ok(()) => done.push(m.queue_offset),
                    Err(e) => {
                        debug!(msg_id = %m.msg_id(), error = %e, "send-back of an expired message failed; retried at the next scan")
                    }
                }
            }
            let _ = tx.send(Event::Done(Consumed {
                done,
                retry_locally: Vec::new(),
                listener_call: false,
                expired: attempted,
            }));
        });
    }

    /// After cancellation: let in-flight listener calls finish up to `await_termination`; whatever is not
    /// done by then stays uncommitted (it is redelivered to the queue's next owner).
    async fn drain(&mut self) {
        let deadline = Instant::now() + self.inner.config.await_termination;
        while self.in_flight > 0 || !self.expiring.is_empty() {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(event)) => self.on_event(event),
                _ => break,
            }
        }
        self.pq.dropped = true;
        if self.in_flight > 0 {
            debug!(queue = %self.mq, in_flight = self.in_flight, "stopped with listener calls still running");
        }
    }

    fn pull_future(&self) -> PullFuture {
        let started = Instant::now();
        let fut = self.pull_request();
        Box::pin(async move {
            let result = fut.await;
            Pulled {
                result,
                took: started.elapsed(),
            }
        })
    }

    fn pull_request(&self) -> Pin<Box<dyn Future<Output = Result<RemotingCommand>> + Send>> {
        let inner = self.inner.clone();
        let mq = self.mq.clone();
        let sub = self.subscription.clone();
        let offset = self.next_offset;
        let commit = self.inner.offsets.read_memory(&self.mq).unwrap_or(0);
        let pull_from = self.pull_from;
        Box::pin(async move {
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
            // A slave does not take commits (Java clears the flag when pulling from one).
            if commit > 0 && !slave {
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
    fn on_pulled(&mut self, pulled: Pulled) -> Instant {
        let now = Instant::now();
        let took = pulled.took;
        let resp = match pulled.result {
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
        if let Some(h) = &header {
            self.pull_from = h.suggest_which_broker_id;
            self.gauge.broker_max_offset.store(h.max_offset, Relaxed);
            self.gauge.last_pull_ms.store(now_ms(), Relaxed);
        }
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
                self.counters.pulled(msgs.len(), took);
                if msgs.is_empty() {
                    self.commit_if_idle();
                } else {
                    self.dispatch(msgs);
                }
                self.publish();
                now + self.inner.config.pull_interval
            }
            (ResponseCode::PULL_NOT_FOUND | ResponseCode::PULL_RETRY_IMMEDIATELY, Some(h)) => {
                self.next_offset = h.next_begin_offset;
                self.counters.pulled(0, took);
                self.commit_if_idle();
                self.publish();
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
        let counters = self.counters.clone();
        tokio::spawn(async move {
            if !after.is_zero() {
                tokio::time::sleep(after).await;
            }
            let done = consume(&inner, &mq, &counters, msgs, &tx, !after.is_zero()).await;
            let _ = tx.send(Event::Done(done));
        });
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Started(offsets, at) => self.pq.mark_consume_started(&offsets, at),
            Event::Done(c) => self.on_consumed(c),
        }
    }

    fn on_consumed(&mut self, c: Consumed) {
        if c.listener_call {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.gauge.last_consume_ms.store(now_ms(), Relaxed);
        }
        for offset in &c.expired {
            self.expiring.remove(offset);
        }
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
        self.publish();
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Run the listener on `msgs` (bounded by the consume permits) and send failures back to the broker.
async fn consume(
    inner: &Arc<ConsumerInner>,
    mq: &MessageQueue,
    counters: &TopicCounters,
    msgs: Vec<MessageExt>,
    events: &mpsc::UnboundedSender<Event>,
    delayed: bool,
) -> Consumed {
    // The dispatch stamped these messages as started; correct that when the call starts later.
    let _permit = match inner.consume_permits.clone().try_acquire_owned() {
        Ok(p) if !delayed => Some(p),
        _ => {
            let p = inner.consume_permits.clone().acquire_owned().await.ok();
            let offsets = msgs.iter().map(|m| m.queue_offset).collect();
            let _ = events.send(Event::Started(offsets, std::time::Instant::now()));
            p
        }
    };
    let ctx = ConsumeContext::new(mq.clone());
    let started = Instant::now();
    let (result, msgs) = inner.listener.call(msgs, &ctx).await;
    let acked = ctx.acknowledged(result, msgs.len());
    counters.consumed(acked, msgs.len() - acked, started.elapsed());
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
    Consumed {
        done,
        retry_locally,
        listener_call: true,
        expired: Vec::new(),
    }
}

/// CONSUMER_SEND_MSG_BACK: the broker stores the message in the group's retry topic (or its DLQ once
/// `max_reconsume_times` is reached).
pub(crate) async fn send_back(
    inner: &ConsumerInner,
    mq: &MessageQueue,
    m: &MessageExt,
    delay_level: i32,
) -> Result<()> {
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
