//! The send kernel: turning a message into a SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request, choosing a
//! queue, retrying within the deadline, and reading the broker's answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_protocol::header::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_protocol::message::{self, compress, properties as prop, sysflag, Message, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::time::Instant;
use tracing::{debug, debug_span, field, Instrument};

use super::producer::ProducerInner;
use super::result::{SendResult, SendStatus};
use crate::error::{Error, ErrorKind, Result};
use crate::namespace;
use crate::route::TopicRoute;
use crate::telemetry::producer::SendMetrics;

/// A message made ready for the wire once, reused by every attempt.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Topic as sent (namespace applied).
    pub(crate) topic: String,
    pub(crate) body: Bytes,
    pub(crate) sys_flag: i32,
    pub(crate) flag: i32,
    pub(crate) properties: String,
    pub(crate) batch: bool,
    /// A reply message (request-reply): sent with SEND_REPLY_MESSAGE_V2.
    pub(crate) reply: bool,
    /// What `SendResult::msg_id` reports (UNIQ_KEY, or the batch's ids joined by `,`).
    pub(crate) msg_id: String,
    pub(crate) reconsume_times: Option<i32>,
    pub(crate) max_reconsume_times: Option<i32>,
}

impl ProducerInner {
    /// Validate, assign the unique key, compress, and encode properties.
    pub(crate) fn prepare(&self, mut msg: Message) -> Result<Prepared> {
        super::validate::message(&msg, self.options.max_message_size)?;
        let topic = namespace::wrap(self.options.namespace.as_deref(), &msg.topic);
        if msg.unique_key().is_none() {
            msg.set_unique_key(self.ids.next_id());
        }
        let msg_id = msg.unique_key().unwrap_or_default().to_owned();
        let mut sys_flag = 0;
        if msg.is_transaction_prepared() {
            sys_flag |= sysflag::TRANSACTION_PREPARED_TYPE;
        }
        let mut body = msg.body.clone();
        if body.len() >= self.options.compress_over {
            let c = self.options.compression;
            match compress(c, self.options.compression_level, &body) {
                Ok(z) if z.len() < body.len() => {
                    body = Bytes::from(z);
                    sys_flag |= sysflag::COMPRESSED | c.sys_flag_bits();
                }
                Ok(_) => {}
                Err(e) => debug!(error = %e, "compression failed; sending uncompressed"),
            }
        }
        let (mut reconsume_times, mut max_reconsume_times) = (None, None);
        if topic.starts_with("%RETRY%") {
            reconsume_times = msg
                .clear_property(prop::RECONSUME_TIME)
                .and_then(|v| v.parse().ok());
            max_reconsume_times = msg
                .clear_property(prop::MAX_RECONSUME_TIMES)
                .and_then(|v| v.parse().ok());
        }
        if let Some(ns) = self.options.namespace.as_deref() {
            msg.set_instance_id(ns);
        }
        let properties = message::encode_properties(&msg.properties)?;
        Ok(Prepared {
            topic,
            body,
            sys_flag,
            flag: msg.flag,
            properties,
            batch: false,
            reply: false,
            msg_id,
            reconsume_times,
            max_reconsume_times,
        })
    }

    /// Like [`prepare`](Self::prepare) for a reply message: reply topics are never namespaced.
    pub(crate) fn prepare_reply(&self, msg: Message) -> Result<Prepared> {
        let topic = msg.topic.clone();
        let mut p = self.prepare(msg)?;
        p.topic = topic;
        Ok(p)
    }

    /// Validate and encode a batch: one topic, no delay, not a retry topic, total within the size limit.
    pub(crate) fn prepare_batch(&self, mut msgs: Vec<Message>) -> Result<Prepared> {
        let first = msgs.first().ok_or_else(|| Error::invalid("batch is empty"))?;
        let topic = first.topic.clone();
        let wait = first.wait_store_msg_ok();
        for m in &msgs {
            if m.topic != topic {
                return Err(Error::invalid("all messages of a batch must have the same topic"));
            }
            if m.delay_time_level().is_some_and(|l| l > 0) || m.deliver_time_ms().is_some() {
                return Err(Error::invalid("delayed messages cannot be sent in a batch"));
            }
            if m.wait_store_msg_ok() != wait {
                return Err(Error::invalid(
                    "all messages of a batch must have the same WAIT flag",
                ));
            }
            super::validate::message(m, self.options.max_message_size)?;
        }
        if topic.starts_with("%RETRY%") {
            return Err(Error::invalid("retry topics cannot be sent to in a batch"));
        }
        let wire_topic = namespace::wrap(self.options.namespace.as_deref(), &topic);
        let mut ids = Vec::with_capacity(msgs.len());
        for m in &mut msgs {
            if m.unique_key().is_none() {
                m.set_unique_key(self.ids.next_id());
            }
            ids.push(m.unique_key().unwrap_or_default().to_owned());
            m.topic = wire_topic.clone();
        }
        let body = message::encode_batch(&msgs)?;
        if body.len() > self.options.max_message_size {
            return Err(Error::invalid(format!(
                "batch is {} bytes, over the maximum of {}",
                body.len(),
                self.options.max_message_size
            )));
        }
        let mut wrapper = Message::new(wire_topic.clone(), Bytes::new());
        wrapper.set_wait_store_msg_ok(wait);
        wrapper.set_unique_key(self.ids.next_id());
        Ok(Prepared {
            topic: wire_topic,
            body,
            sys_flag: 0,
            flag: 0,
            properties: message::encode_properties(&wrapper.properties)?,
            batch: true,
            reply: false,
            msg_id: ids.join(","),
            reconsume_times: None,
            max_reconsume_times: None,
        })
    }

    /// The topic's route for publishing. A topic the name server does not know is sent through the
    /// template topic's route (the broker creates it on the first send, if it allows auto-creation).
    pub(crate) async fn publish_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        match self.core.routes.route(topic).await {
            Ok(r) if !r.publish_queues.is_empty() => Ok(r),
            Ok(_) => Err(Error::new(ErrorKind::TopicNotExist {
                topic: topic.to_owned(),
            })
            .with_context("no writable queue with a master")),
            Err(e) if matches!(e.kind(), ErrorKind::TopicNotExist { .. }) => {
                let template = self
                    .core
                    .routes
                    .route(&self.options.create_topic_key)
                    .await
                    .map_err(|_| e.clone())?;
                let mut data = template.data.clone();
                for q in &mut data.queue_datas {
                    let n = self
                        .options
                        .default_topic_queue_nums
                        .min(q.read_queue_nums)
                        .max(1);
                    q.read_queue_nums = n;
                    q.write_queue_nums = n;
                }
                let route = TopicRoute::new(topic, data);
                if route.publish_queues.is_empty() {
                    return Err(e);
                }
                Ok(Arc::new(route))
            }
            Err(e) => Err(e),
        }
    }

    /// The next queue, round robin, skipping `avoid` and (with fault tolerance) recently failed brokers.
    pub(crate) fn select_queue(&self, route: &TopicRoute, avoid: Option<&str>) -> MessageQueue {
        let qs = &route.publish_queues;
        let n = qs.len();
        let start = self.next_queue.fetch_add(1, Ordering::Relaxed);
        let pick = |ok: &dyn Fn(&MessageQueue) -> bool| {
            (0..n).map(|i| &qs[(start + i) % n]).find(|q| ok(q)).cloned()
        };
        let not_avoided = |q: &MessageQueue| avoid != Some(q.broker_name.as_str());
        if self.options.latency_fault_tolerance {
            if let Some(q) = pick(&|q| not_avoided(q) && self.faults.is_available(&q.broker_name)) {
                return q;
            }
        }
        pick(&not_avoided).unwrap_or_else(|| qs[start % n].clone())
    }

    /// Run `send` (given the topic's metric handles) in a `send` span, and count its outcome.
    pub(crate) async fn observe<F, Fut>(&self, p: &Prepared, send: F) -> Result<SendResult>
    where
        F: FnOnce(Arc<SendMetrics>) -> Fut,
        Fut: std::future::Future<Output = Result<SendResult>>,
    {
        let span = debug_span!("send", topic = %p.topic, msg_id = %p.msg_id, queue = field::Empty, offset = field::Empty);
        let metrics = self.telemetry.topic(&p.topic);
        let started = Instant::now();
        let res = send(metrics.clone()).instrument(span.clone()).await;
        self.telemetry.ended(&metrics, &res, started.elapsed());
        match &res {
            Ok(r) => {
                span.record("queue", field::display(&r.queue));
                span.record("offset", r.queue_offset);
                span.in_scope(|| debug!(status = ?r.status, "sent"));
            }
            Err(e) => span.in_scope(|| debug!(error = %e, "send failed")),
        }
        res
    }

    /// Send with retries on other brokers, within `send_timeout` in total.
    pub(crate) async fn send_with_retries(&self, prepared: &Prepared, retries: u32) -> Result<SendResult> {
        self.observe(prepared, |m| self.send_with_retries_inner(prepared, retries, m))
            .await
    }

    async fn send_with_retries_inner(
        &self,
        prepared: &Prepared,
        retries: u32,
        metrics: Arc<SendMetrics>,
    ) -> Result<SendResult> {
        let started = Instant::now();
        let deadline = started + self.options.send_timeout;
        let mut last_broker: Option<String> = None;
        let mut last_err: Option<Error> = None;
        // The first attempt that may have stored the message: a later attempt's definitive error
        // (e.g. cannot connect) must not hide it.
        let mut indeterminate: Option<Error> = None;
        let mut last_result: Option<SendResult> = None;
        for attempt in 0..=retries {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            if attempt > 0 {
                metrics.retried();
            }
            let route = match tokio::time::timeout(remaining, self.publish_route(&prepared.topic)).await {
                Ok(r) => r?,
                Err(_) => break,
            };
            let mq = self.select_queue(&route, last_broker.as_deref());
            let begin = Instant::now();
            let remaining = deadline.saturating_duration_since(begin);
            let outcome = self.send_once(prepared, &route, &mq, remaining).await;
            let latency = begin.elapsed();
            match outcome {
                Ok(res) => {
                    self.faults.update(&mq.broker_name, latency, false);
                    if res.status != SendStatus::SendOk
                        && self.options.retry_another_broker_when_not_store_ok
                        && attempt < retries
                    {
                        last_broker = Some(mq.broker_name.clone());
                        last_result = Some(res);
                        continue;
                    }
                    return Ok(res);
                }
                Err(e) => {
                    self.faults.update(&mq.broker_name, latency, true);
                    debug!(attempt, broker = %mq.broker_name, error = %e, "send attempt failed");
                    if !e.is_retryable() {
                        return Err(e);
                    }
                    last_broker = Some(mq.broker_name.clone());
                    if indeterminate.is_none() && e.is_indeterminate() {
                        indeterminate = Some(e.clone());
                    }
                    last_err = Some(e);
                }
            }
        }
        if let Some(r) = last_result {
            return Ok(r);
        }
        match last_err {
            // The budget ran out: report it as the timeout it is (the message may still be stored).
            Some(e) if e.is_timeout() => Err(e),
            Some(e) if Instant::now() >= deadline => Err(Error::new(ErrorKind::Timeout {
                addr: None,
                after: self.options.send_timeout,
            })
            .with_context(format!("send deadline passed; last error: {e}"))),
            // An earlier attempt may have stored the message: report that, not the last error.
            Some(e) => match indeterminate {
                Some(earlier) if !e.is_indeterminate() => {
                    Err(earlier.with_context(format!("a later attempt failed too: {e}")))
                }
                _ => Err(e),
            },
            None => Err(Error::new(ErrorKind::Timeout {
                addr: None,
                after: self.options.send_timeout,
            })),
        }
    }

    fn request(&self, p: &Prepared, mq: &MessageQueue) -> RemotingCommand {
        let header = SendMessageRequestHeaderV2 {
            producer_group: self.group.clone(),
            topic: p.topic.clone(),
            default_topic: self.options.create_topic_key.clone(),
            default_topic_queue_nums: self.options.default_topic_queue_nums,
            queue_id: mq.queue_id,
            sys_flag: p.sys_flag,
            born_timestamp: now_ms(),
            flag: p.flag,
            properties: Some(p.properties.clone()),
            reconsume_times: Some(p.reconsume_times.unwrap_or(0)),
            unit_mode: Some(false),
            max_reconsume_times: p.max_reconsume_times,
            batch: Some(p.batch),
            broker_name: Some(mq.broker_name.clone()),
        };
        let code = if p.batch {
            RequestCode::SEND_BATCH_MESSAGE
        } else if p.reply {
            RequestCode::SEND_REPLY_MESSAGE_V2
        } else {
            RequestCode::SEND_MESSAGE_V2
        };
        RemotingCommand::request(code, &header).with_body(p.body.clone())
    }

    async fn broker_addr(&self, route: &TopicRoute, broker: &str) -> Result<String> {
        match route.master_addr(broker) {
            Some(a) => Ok(a.to_owned()),
            None => self.core.routes.master_addr(broker, Some(&route.topic)).await,
        }
    }

    /// One attempt to one queue.
    pub(crate) async fn send_once(
        &self,
        p: &Prepared,
        route: &TopicRoute,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<SendResult> {
        let addr = self.broker_addr(route, &mq.broker_name).await?;
        let resp = self
            .core
            .remoting
            .invoke(&addr, self.request(p, mq), timeout)
            .await?;
        self.read_response(p, mq, resp)
    }

    /// One oneway attempt to one queue.
    pub(crate) async fn send_oneway_once(
        &self,
        p: &Prepared,
        route: &TopicRoute,
        mq: &MessageQueue,
    ) -> Result<()> {
        let addr = self.broker_addr(route, &mq.broker_name).await?;
        self.core
            .remoting
            .invoke_oneway(&addr, self.request(p, mq), self.options.send_timeout)
            .await
    }

    fn read_response(&self, p: &Prepared, mq: &MessageQueue, resp: RemotingCommand) -> Result<SendResult> {
        let status = match resp.response_code() {
            ResponseCode::SUCCESS => SendStatus::SendOk,
            ResponseCode::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
            ResponseCode::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
            ResponseCode::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
            code => return Err(Error::broker(code, resp.remark)),
        };
        let h: SendMessageResponseHeader = resp.decode_header()?;
        let topic = namespace::unwrap(self.options.namespace.as_deref(), &p.topic);
        Ok(SendResult {
            status,
            msg_id: p.msg_id.clone(),
            offset_msg_id: h.msg_id,
            queue: MessageQueue::new(topic, mq.broker_name.clone(), h.queue_id),
            queue_offset: h.queue_offset,
            transaction_id: h.transaction_id,
            region_id: h.msg_region,
        })
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
