//! One task per assigned queue: it owns the queue's `ProcessQueue`, long-polls the broker, hands
//! batches to the listener pool and turns their completions into committed offsets.
//!
//! Flow control is an `if` in this loop: no pull is issued while the cache is over its thresholds (the
//! per-queue limits and this queue's share of the topic and consumer-wide limits, re-read as the
//! rebalancer's queue counts change) or has no byte room for another message of the last pull's size,
//! and a pull asks for no more messages than that room holds (`Thresholds::pull_size`: compressed
//! bodies travel small and are counted decompressed). A completion (which frees room) wakes the loop
//! at once.
//!
//! Messages whose listener call runs longer than `consume_timeout` are sent back to the broker (Java
//! `cleanExpiredMsg`) so the committed offset can move past them. Pulls go to the broker the last
//! answer suggested (a slave when the master is busy), without committing offsets there.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::message::{MessageExt, MessageQueue};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

use super::consumer::ConsumerInner;
use super::listeners::ConcurrentListener;
use super::puller::{publish_cache, send_back, sleep_until_opt, PullFuture, PullOutcome, Pulled, Puller};
use super::rebalance::QueueCounts;
use crate::consumer::listener::{run_guarded, ConsumeContext, ConsumeResult};
use crate::consumer::process_queue::{ProcessQueue, Thresholds, FLOW_CONTROL_DELAY};
use crate::consumer::stats::TopicCounters;
use crate::telemetry::consumer::consume_span;

/// Delay before a message whose send-back failed is consumed again locally.
const LOCAL_RETRY_DELAY: Duration = Duration::from_secs(5);
/// A pool call that starts this long after its dispatch re-stamps its messages' start time.
const LATE_START: Duration = Duration::from_millis(100);
/// Most expired messages sent back per scan (Java sends at most 16 per round).
const EXPIRED_PER_SCAN: usize = 16;
/// Delay level of a message sent back because its consumption timed out (Java uses 3).
const EXPIRED_DELAY_LEVEL: i32 = 3;

/// What consume tasks report to their queue task.
enum Event {
    /// A listener call began later than its dispatch (it waited for a consume permit or a retry
    /// delay): its messages' consumption started now, for the timeout scan.
    Started(Vec<i64>, std::time::Instant),
    /// A listener call or a send-back of expired messages finished.
    Done(Consumed),
    /// A sync listener call on the consume threads returned; failures still need sending back.
    Listened {
        msgs: Vec<MessageExt>,
        result: ConsumeResult,
        ctx: ConsumeContext,
        took: Duration,
    },
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

pub(crate) struct QueueTask {
    inner: Arc<ConsumerInner>,
    listener: ConcurrentListener,
    mq: MessageQueue,
    puller: Puller,
    pq: ProcessQueue,
    cancel: CancellationToken,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    in_flight: usize,
    counts: watch::Receiver<QueueCounts>,
    /// Expired offsets with a send-back in progress.
    expiring: HashSet<i64>,
    /// Set when the task stops: calls still queued for the consume threads are skipped (their
    /// messages are not committed and go to the queue's next owner), as Java skips a dropped queue.
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl QueueTask {
    pub(crate) fn new(
        inner: Arc<ConsumerInner>,
        listener: ConcurrentListener,
        mq: MessageQueue,
        offset: i64,
        cancel: CancellationToken,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let counts = inner.queue_counts.subscribe();
        let puller = Puller::new(inner.clone(), mq.clone(), offset);
        QueueTask {
            inner,
            listener,
            mq,
            puller,
            pq: ProcessQueue::new(),
            cancel,
            tx,
            rx,
            in_flight: 0,
            counts,
            expiring: HashSet::new(),
            stopped: Arc::default(),
        }
    }

    /// This queue's limits given how many queues this consumer holds now.
    fn thresholds(&self) -> Thresholds {
        self.counts
            .borrow()
            .thresholds(&self.inner.config, &self.mq.topic, false)
    }

    /// Run until cancelled; returns whether every listener call finished (always, for this task).
    pub(crate) async fn run(mut self) -> bool {
        let mut pull: Option<PullFuture> = None;
        let mut wake_at: Option<Instant> = Some(Instant::now());
        let mut flow_paused = false;
        let timeout = self.inner.config.consume_timeout;
        let scan_every = (timeout / 2).clamp(Duration::from_millis(500), Duration::from_secs(60));
        let mut scan = tokio::time::interval_at(Instant::now() + scan_every, scan_every);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if pull.is_none() && wake_at.is_some_and(|t| t <= Instant::now()) {
                let waiting = self.inner.waiting_for_listener.load(Relaxed);
                let size = self
                    .pq
                    .pull_size(
                        &self.thresholds(),
                        self.puller.largest_body(),
                        self.inner.config.pull_batch_size,
                    )
                    .map_err(|r| r.to_string())
                    .and_then(|n| {
                        if waiting > self.inner.config.max_cache_size {
                            Err(format!(
                                "{waiting} messages wait for a listener slot (max_cache_size)"
                            ))
                        } else {
                            Ok(n)
                        }
                    });
                match size {
                    Err(reason) => {
                        if !flow_paused {
                            debug!(queue = %self.mq, %reason, "flow control: pull paused");
                        }
                        flow_paused = true;
                        wake_at = Some(Instant::now() + FLOW_CONTROL_DELAY);
                    }
                    Ok(n) => {
                        flow_paused = false;
                        pull = Some(self.puller.pull(n));
                        wake_at = None;
                    }
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
                _ = scan.tick(), if !self.inner.broadcasting() => self.send_back_expired(timeout),
            }
        }
        drop(pull);
        self.drain().await;
        self.puller.gauge.dropped.store(true, Relaxed);
        true
    }

    /// Handle a pull's outcome; returns when to pull next.
    fn on_pulled(&mut self, pulled: Pulled) -> Instant {
        let now = Instant::now();
        match self.puller.on_pulled(pulled) {
            PullOutcome::Found(msgs) => {
                self.dispatch(msgs);
                self.publish();
                now + self.inner.config.pull_interval
            }
            PullOutcome::Empty => {
                self.commit_if_idle();
                self.publish();
                now
            }
            PullOutcome::OffsetMoved { from, to } => {
                // Correct once, persist, and go on from the broker's offset (no pull loop on a bad offset).
                warn!(queue = %self.mq, from, to, "offset moved");
                if self.pq.is_empty() {
                    self.inner.offsets.update(&self.mq, to, false);
                    let (inner, mq) = (self.inner.clone(), self.mq.clone());
                    tokio::spawn(async move {
                        let _ = inner.offsets.persist(&mq).await;
                    });
                }
                now
            }
            PullOutcome::Backoff(pause) => now + pause,
        }
    }

    /// Publish the cache's state for stats snapshots.
    fn publish(&self) {
        publish_cache(&self.puller.gauge, &self.pq, self.puller.next_offset);
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
                let max = inner.config.effective_max_reconsume_times();
                match send_back(&inner, &mq, m, EXPIRED_DELAY_LEVEL, max).await {
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
        self.stopped.store(true, Relaxed);
        if self.in_flight > 0 {
            debug!(queue = %self.mq, in_flight = self.in_flight, "stopped with listener calls still running");
        }
    }

    /// Nothing cached: the next offset is where the group is.
    fn commit_if_idle(&mut self) {
        if self.pq.is_empty() {
            self.inner.offsets.update(&self.mq, self.puller.next_offset, true);
        }
    }

    fn dispatch(&mut self, msgs: Vec<MessageExt>) {
        self.pq.put_messages(msgs.clone());
        let offsets: Vec<i64> = msgs.iter().map(|m| m.queue_offset).collect();
        self.pq.mark_consume_started(&offsets, std::time::Instant::now());
        let batch = self.inner.config.consume_message_batch_max_size.max(1);
        let mut rest = msgs.into_iter();
        loop {
            let chunk: Vec<MessageExt> = rest.by_ref().take(batch).collect();
            if chunk.is_empty() {
                break;
            }
            self.spawn_consume(chunk, Duration::ZERO);
        }
    }

    /// Hand `msgs` to the sync listener's consume threads; the call's outcome comes back as an event.
    fn submit_to_pool(&self, msgs: Vec<MessageExt>) -> std::result::Result<(), Vec<MessageExt>> {
        let (ConcurrentListener::Sync(listener), Some(pool)) = (&self.listener, &self.inner.listener_pool)
        else {
            return Err(msgs);
        };
        let (listener, mq, tx) = (listener.clone(), self.mq.clone(), self.tx.clone());
        let waiting = self.inner.waiting_for_listener.clone();
        let stopped = self.stopped.clone();
        let dispatched = std::time::Instant::now();
        let span = consume_span(self.inner.group(), &self.mq, &msgs);
        pool.submit(move || {
            waiting.fetch_sub(msgs.len(), Relaxed);
            if stopped.load(Relaxed) {
                return;
            }
            let started = std::time::Instant::now();
            // The dispatch stamped these as started; correct that when the call starts noticeably later.
            if started.duration_since(dispatched) > LATE_START {
                let offsets = msgs.iter().map(|m| m.queue_offset).collect();
                let _ = tx.send(Event::Started(offsets, started));
            }
            let _span = span.enter();
            let mut ctx = ConsumeContext::new(mq);
            let result = run_guarded(&*listener, &msgs, &mut ctx);
            let took = started.elapsed();
            debug!(?result, ?took, "listener returned");
            let _ = tx.send(Event::Listened {
                msgs,
                result,
                ctx,
                took,
            });
        });
        Ok(())
    }

    /// A sync listener call returned: commit what succeeded; failures are sent back in a task.
    fn on_listened(
        &mut self,
        msgs: Vec<MessageExt>,
        result: ConsumeResult,
        ctx: ConsumeContext,
        took: Duration,
    ) {
        let acked = ctx.acknowledged(result, msgs.len());
        self.puller.counters.consumed(acked, msgs.len() - acked, took);
        if acked == msgs.len() {
            let done = msgs.iter().map(|m| m.queue_offset).collect();
            self.on_consumed(Consumed {
                done,
                retry_locally: Vec::new(),
                listener_call: true,
                expired: Vec::new(),
            });
            return;
        }
        let (inner, mq, tx) = (self.inner.clone(), self.mq.clone(), self.tx.clone());
        tokio::spawn(async move {
            let done = settle(&inner, &mq, &msgs, acked, &ctx).await;
            let _ = tx.send(Event::Done(done));
        });
    }

    fn spawn_consume(&mut self, msgs: Vec<MessageExt>, after: Duration) {
        self.in_flight += 1;
        self.inner.waiting_for_listener.fetch_add(msgs.len(), Relaxed);
        let msgs = if after.is_zero() {
            match self.submit_to_pool(msgs) {
                Ok(()) => return,
                Err(msgs) => msgs,
            }
        } else {
            msgs
        };
        let (inner, mq, tx) = (self.inner.clone(), self.mq.clone(), self.tx.clone());
        let counters = self.puller.counters.clone();
        let listener = self.listener.clone();
        tokio::spawn(async move {
            if !after.is_zero() {
                tokio::time::sleep(after).await;
            }
            let done = consume(&inner, &listener, &mq, &counters, msgs, &tx, !after.is_zero()).await;
            let _ = tx.send(Event::Done(done));
        });
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Started(offsets, at) => self.pq.mark_consume_started(&offsets, at),
            Event::Done(c) => self.on_consumed(c),
            Event::Listened {
                msgs,
                result,
                ctx,
                took,
            } => self.on_listened(msgs, result, ctx, took),
        }
    }

    fn on_consumed(&mut self, c: Consumed) {
        if c.listener_call {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.puller.gauge.consumed_now();
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
            self.puller.counters.retried_locally(c.retry_locally.len());
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

/// Run the listener on `msgs` (bounded by the consume permits) and send failures back to the broker.
async fn consume(
    inner: &Arc<ConsumerInner>,
    listener: &ConcurrentListener,
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
    inner.waiting_for_listener.fetch_sub(msgs.len(), Relaxed);
    let ctx = ConsumeContext::new(mq.clone());
    let started = Instant::now();
    let span = consume_span(inner.group(), mq, &msgs);
    let (result, msgs) = listener.call(msgs, &ctx).instrument(span.clone()).await;
    let took = started.elapsed();
    span.in_scope(|| debug!(?result, ?took, "listener returned"));
    let acked = ctx.acknowledged(result, msgs.len());
    counters.consumed(acked, msgs.len() - acked, took);
    settle(inner, mq, &msgs, acked, &ctx).await
}

/// After a listener call: the first `acked` messages are done; the others are sent back to the broker
/// (or, broadcasting, dropped at WARN), and kept for a local retry when the broker does not take them.
async fn settle(
    inner: &Arc<ConsumerInner>,
    mq: &MessageQueue,
    msgs: &[MessageExt],
    acked: usize,
    ctx: &ConsumeContext,
) -> Consumed {
    let mut done: Vec<i64> = msgs[..acked].iter().map(|m| m.queue_offset).collect();
    let mut retry_locally = Vec::new();
    if inner.broadcasting() {
        // Broadcasting redelivers nothing (as in Java): a failed message is dropped, loudly.
        for m in &msgs[acked..] {
            warn!(msg_id = %m.msg_id(), queue = %mq, "broadcast message failed; it is not redelivered");
        }
        done.extend(msgs[acked..].iter().map(|m| m.queue_offset));
        return Consumed {
            done,
            retry_locally: Vec::new(),
            listener_call: true,
            expired: Vec::new(),
        };
    }
    let max = inner.config.effective_max_reconsume_times();
    let attempts = inner.config.max_retry_times.max(1);
    for m in &msgs[acked..] {
        let mut last_err = None;
        for _ in 0..attempts {
            match send_back(inner, mq, m, ctx.delay_level_when_next_consume(), max).await {
                Ok(()) => {
                    last_err = None;
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        match last_err {
            None => done.push(m.queue_offset),
            Some(e) => {
                warn!(msg_id = %m.msg_id(), error = %e, attempts, "send-back failed; the message will be consumed again here");
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
