//! Request-reply (Java `DefaultMQProducer.request`): send a message and wait for the reply message a
//! responder sends back through the broker, which pushes it to this client (PUSH_REPLY_MESSAGE_TO_CLIENT).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use rmq_protocol::message::{decode_properties_str, Message, MessageExt};
use rmq_protocol::message::{decompress, properties as prop, sysflag, CompressionType, DEFAULT_MAX_BODY};
use rmq_protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::producer::{Producer, ProducerInner};
use super::result::SendResult;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::InboundRequest;

/// Requests waiting for their reply, by correlation id.
#[derive(Debug, Default)]
pub(crate) struct PendingReplies {
    waiting: Mutex<HashMap<String, oneshot::Sender<MessageExt>>>,
}

impl PendingReplies {
    fn insert(&self, id: String, tx: oneshot::Sender<MessageExt>) {
        if let Ok(mut m) = self.waiting.lock() {
            m.insert(id, tx);
        }
    }

    fn take(&self, id: &str) -> Option<oneshot::Sender<MessageExt>> {
        self.waiting.lock().ok().and_then(|mut m| m.remove(id))
    }
}

/// The reply topic of a cluster (`MixAll.getReplyTopic`).
pub fn reply_topic(cluster: &str) -> String {
    format!("{cluster}_REPLY_TOPIC")
}

impl Producer {
    /// Send `msg` as a request and wait up to `timeout` for its reply.
    ///
    /// The responder (any client consuming `msg`) answers with [`Producer::reply`]; the broker pushes the
    /// reply to this producer. A missing reply is [`ErrorKind::Timeout`].
    pub async fn request(&self, mut msg: Message, timeout: Duration) -> Result<MessageExt> {
        let deadline = tokio::time::Instant::now() + timeout;
        let inner = &self.inner;
        let correlation_id = inner.ids.next_id();
        msg.put_property(prop::CORRELATION_ID, correlation_id.clone());
        msg.put_property(prop::MESSAGE_REPLY_TO_CLIENT, inner.core.client_id.clone());
        msg.put_property(prop::MESSAGE_TTL, timeout.as_millis().to_string());
        let p = inner.prepare(msg)?;
        // The broker pushes the reply on a connection it knows this client by: make sure every broker of
        // the topic has had our heartbeat before the request can be answered.
        inner.publish_route(&p.topic).await?;
        inner.core.send_heartbeat_to_all().await?;
        let (tx, rx) = oneshot::channel();
        inner.replies.insert(correlation_id.clone(), tx);
        let _guard = RemoveOnDrop {
            replies: &inner.replies,
            id: &correlation_id,
        };
        inner.send_with_retries(&p, inner.options.retries).await?;
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(Error::new(ErrorKind::Shutdown)),
            Err(_) => Err(Error::new(ErrorKind::Timeout {
                addr: None,
                after: timeout,
            })
            .with_context(format!("no reply to request {correlation_id}"))),
        }
    }

    /// Answer `request` (a message sent with [`Producer::request`] or the Java client's `request`) with
    /// `body`. The reply goes to the requesting client through the broker.
    pub async fn reply(&self, request: &Message, body: impl Into<Bytes>) -> Result<SendResult> {
        let cluster = request.property(prop::CLUSTER).ok_or_else(|| {
            Error::invalid("request message has no CLUSTER property (was it consumed from a broker?)")
        })?;
        let mut reply = Message::new(reply_topic(cluster), body.into());
        reply.put_property(prop::MESSAGE_TYPE, "reply");
        for key in [
            prop::CORRELATION_ID,
            prop::MESSAGE_REPLY_TO_CLIENT,
            prop::MESSAGE_TTL,
        ] {
            if let Some(v) = request.property(key) {
                reply.put_property(key, v);
            }
        }
        let mut p = self.inner.prepare_reply(reply)?;
        p.reply = true;
        self.inner.send_with_retries(&p, self.inner.options.retries).await
    }
}

struct RemoveOnDrop<'a> {
    replies: &'a PendingReplies,
    id: &'a str,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        self.replies.take(self.id);
    }
}

/// Handles PUSH_REPLY_MESSAGE_TO_CLIENT for one producer.
pub(crate) async fn run_reply_handler(
    inner: Weak<ProducerInner>,
    mut rx: mpsc::Receiver<InboundRequest>,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        let req = tokio::select! {
            _ = cancel.cancelled() => break,
            r = rx.recv() => match r { Some(r) => r, None => break },
        };
        let Some(inner) = inner.upgrade() else { break };
        let (code, remark) = match reply_message(&req.command.ext_fields, &req.command.body) {
            Ok(msg) => {
                let id = msg.property(prop::CORRELATION_ID).unwrap_or_default().to_owned();
                match inner.replies.take(&id) {
                    Some(tx) => {
                        let _ = tx.send(msg);
                    }
                    None => debug!(correlation_id = %id, "reply for no pending request"),
                }
                (ResponseCode::SUCCESS, None)
            }
            Err(e) => {
                warn!(error = %e, "undecodable reply message");
                (
                    ResponseCode::SYSTEM_ERROR,
                    Some("process reply message fail".to_owned()),
                )
            }
        };
        if !req.command.is_oneway() {
            let resp = RemotingCommand::new_response(code, req.command.opaque, remark)
                .with_serialize_type(req.command.serialize_type);
            let _ = req.connection.respond(resp).await;
        }
    }
}

/// Build the reply message from a ReplyMessageRequestHeader and its body (ClientRemotingProcessor).
fn reply_message(ext: &ExtFields, body: &Bytes) -> Result<MessageExt> {
    const H: &str = "ReplyMessageRequestHeader";
    let topic = ext.required(H, "topic")?.to_owned();
    let sys_flag: i32 = ext.required_parse(H, "sysFlag")?;
    let mut body = body.clone();
    if sys_flag & sysflag::COMPRESSED != 0 {
        let c = CompressionType::from_sys_flag(sys_flag)?;
        body = Bytes::from(decompress(c, &body, DEFAULT_MAX_BODY)?);
    }
    let mut msg = MessageExt::from(Message::new(topic, body));
    msg.queue_id = ext.required_parse(H, "queueId")?;
    msg.flag = ext.required_parse(H, "flag")?;
    msg.born_timestamp = ext.required_parse(H, "bornTimestamp")?;
    msg.store_timestamp = ext.optional_parse("storeTimestamp")?.unwrap_or(0);
    msg.reconsume_times = ext.optional_parse("reconsumeTimes")?.unwrap_or(0);
    if let Some(h) = ext.get("bornHost").and_then(|h| h.parse().ok()) {
        msg.born_host = h;
    }
    if let Some(h) = ext.get("storeHost").and_then(|h| h.parse().ok()) {
        msg.store_host = h;
    }
    msg.sys_flag = sys_flag & !sysflag::COMPRESSED;
    if let Some(props) = ext.get("properties") {
        msg.message.properties = decode_properties_str(props);
    }
    let arrived = super::send::now_ms().to_string();
    msg.message.put_property(prop::REPLY_MESSAGE_ARRIVE_TIME, arrived);
    Ok(msg)
}

/// Register the reply handler of a starting producer.
pub(crate) fn install(inner: &Arc<ProducerInner>) {
    let (tx, rx) = mpsc::channel(1024);
    inner
        .core
        .handlers
        .register(RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT, tx);
    inner.core.tracker.spawn(run_reply_handler(
        Arc::downgrade(inner),
        rx,
        inner.core.cancel.clone(),
    ));
}
