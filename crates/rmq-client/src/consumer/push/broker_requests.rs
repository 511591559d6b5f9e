//! Requests a broker sends to a push consumer: GET_CONSUMER_RUNNING_INFO (what `mqadmin consumerStatus`
//! shows), CONSUME_MESSAGE_DIRECTLY (`mqadmin queryMsgById -g group -d clientId`) and
//! RESET_CONSUMER_CLIENT_OFFSET (`mqadmin resetOffsetByTime`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use rmq_protocol::header::{
    CMResult, ConsumeMessageDirectlyResult, ConsumeMessageDirectlyResultRequestHeader, ConsumerRunningInfo,
    GetConsumerRunningInfoRequestHeader, ResetOffsetBody, ResetOffsetRequestHeader,
};
use rmq_protocol::message::{decode_messages, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode, CLIENT_VERSION};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::consumer::ConsumerInner;
use super::listeners::Listener;
use super::rebalance::Command;
use crate::consumer::listener::{ConsumeContext, ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumeResult};
use crate::transport::InboundRequest;

/// Route the three codes to one handler task owned by the consumer's client.
pub(crate) fn register(inner: &Arc<ConsumerInner>) {
    let (tx, mut rx) = mpsc::channel::<InboundRequest>(64);
    for code in [
        RequestCode::GET_CONSUMER_RUNNING_INFO,
        RequestCode::CONSUME_MESSAGE_DIRECTLY,
        RequestCode::RESET_CONSUMER_CLIENT_OFFSET,
    ] {
        inner.core.handlers.register(code, tx.clone());
    }
    let weak: Weak<ConsumerInner> = Arc::downgrade(inner);
    let cancel = inner.cancel.clone();
    inner.core.tracker.spawn(async move {
        loop {
            let req = tokio::select! {
                _ = cancel.cancelled() => break,
                r = rx.recv() => match r { Some(r) => r, None => break },
            };
            let Some(inner) = weak.upgrade() else { break };
            // Direct consumption runs the user's listener: do not hold up the other requests.
            if req.command.code == RequestCode::CONSUME_MESSAGE_DIRECTLY.0 {
                tokio::spawn(async move { answer(&inner, req).await });
            } else {
                answer(&inner, req).await;
            }
        }
    });
}

async fn answer(inner: &Arc<ConsumerInner>, req: InboundRequest) {
    let cmd = &req.command;
    let (code, remark, body) = match RequestCode(cmd.code) {
        RequestCode::GET_CONSUMER_RUNNING_INFO => running_info(inner, cmd),
        RequestCode::CONSUME_MESSAGE_DIRECTLY => consume_directly(inner, cmd).await,
        RequestCode::RESET_CONSUMER_CLIENT_OFFSET => reset_offset(inner, cmd).await,
        _ => (
            ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
            Some("not a consumer request".into()),
            None,
        ),
    };
    if cmd.is_oneway() {
        return;
    }
    let mut resp =
        RemotingCommand::new_response(code, cmd.opaque, remark).with_serialize_type(cmd.serialize_type);
    if let Some(b) = body {
        resp = resp.with_body(b);
    }
    if let Err(e) = req.connection.respond(resp).await {
        debug!(error = %e, "could not answer a broker request");
    }
}

type Answer = (ResponseCode, Option<String>, Option<Vec<u8>>);

fn refused(why: impl Into<String>) -> Answer {
    (ResponseCode::SYSTEM_ERROR, Some(why.into()), None)
}

/// GET_CONSUMER_RUNNING_INFO: settings, subscriptions, every held queue and per-topic rates.
fn running_info(inner: &ConsumerInner, cmd: &RemotingCommand) -> Answer {
    let h = match cmd.decode_header::<GetConsumerRunningInfoRequestHeader>() {
        Ok(h) => h,
        Err(e) => return refused(format!("bad GetConsumerRunningInfoRequestHeader: {e}")),
    };
    if h.consumer_group != inner.group() {
        return refused(format!(
            "The Consumer Group <{}> not exist in this consumer",
            h.consumer_group
        ));
    }
    let stats = inner.stats();
    let (mq_table, status_table) = inner.stats.running_info(&stats);
    let cfg = &inner.config;
    let mut info = ConsumerRunningInfo {
        subscription_set: inner.subscriptions.lock().map(|s| s.to_vec()).unwrap_or_default(),
        mq_table,
        status_table,
        ..Default::default()
    };
    let props = [
        (
            ConsumerRunningInfo::PROP_NAMESERVER_ADDR,
            cfg.client.namesrv_addr.clone(),
        ),
        (
            ConsumerRunningInfo::PROP_THREADPOOL_CORE_SIZE,
            cfg.consume_thread_min.to_string(),
        ),
        (
            ConsumerRunningInfo::PROP_CONSUMEORDERLY,
            inner.listener.is_orderly().to_string(),
        ),
        (
            ConsumerRunningInfo::PROP_CONSUME_TYPE,
            "CONSUME_PASSIVELY".to_owned(),
        ),
        (
            ConsumerRunningInfo::PROP_CLIENT_VERSION,
            format!("rocketmq-rs {} ({CLIENT_VERSION})", env!("CARGO_PKG_VERSION")),
        ),
        (
            ConsumerRunningInfo::PROP_CONSUMER_START_TIMESTAMP,
            inner.started_at_ms.to_string(),
        ),
        ("consumerGroup", cfg.consumer_group.clone()),
        ("messageModel", java_name(&cfg.message_model)),
        ("consumeFromWhere", java_name(&cfg.consume_from_where)),
        ("consumeThreadMin", cfg.consume_thread_min.to_string()),
        ("consumeThreadMax", cfg.consume_thread_max.to_string()),
        ("pullBatchSize", cfg.pull_batch_size.to_string()),
        (
            "consumeMessageBatchMaxSize",
            cfg.consume_message_batch_max_size.to_string(),
        ),
        ("pullInterval", cfg.pull_interval.as_millis().to_string()),
        ("consumeTimeout", (cfg.consume_timeout.as_secs() / 60).to_string()),
        ("maxReconsumeTimes", cfg.max_reconsume_times.to_string()),
        ("pullThresholdForQueue", cfg.pull_threshold_of_queue.to_string()),
        (
            "pullThresholdSizeForQueue",
            (cfg.pull_threshold_size_of_queue / (1024 * 1024)).to_string(),
        ),
        ("pullThresholdForTopic", cfg.pull_threshold_for_topic.to_string()),
        (
            "pullThresholdSizeForTopic",
            (cfg.pull_threshold_size_for_topic / (1024 * 1024)).to_string(),
        ),
        (
            "consumeConcurrentlyMaxSpan",
            cfg.consume_concurrently_max_span.to_string(),
        ),
        (
            "persistConsumerOffsetInterval",
            cfg.persist_interval.as_millis().to_string(),
        ),
        (
            "clientIP",
            inner
                .core
                .client_id
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        ("instanceName", cfg.client.instance_name.clone()),
    ];
    for (k, v) in props {
        info.properties.insert(k.to_owned(), v);
    }
    if h.jstack_enable {
        info.jstack = Some(format!(
            "rocketmq-rs consumer {} ({} queues held, {} cached messages): tokio tasks have no thread dump",
            inner.core.client_id,
            stats.queues.len(),
            stats.cached_messages
        ));
    }
    (ResponseCode::SUCCESS, None, Some(info.to_json()))
}

/// The Java enum name a value serializes to.
fn java_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// CONSUME_MESSAGE_DIRECTLY: run the listener on the message in the body, outside of any queue and
/// without committing or sending back anything (Java `consumeMessageDirectly`).
async fn consume_directly(inner: &ConsumerInner, cmd: &RemotingCommand) -> Answer {
    let h = match cmd.decode_header::<ConsumeMessageDirectlyResultRequestHeader>() {
        Ok(h) => h,
        Err(e) => return refused(format!("bad ConsumeMessageDirectlyResultRequestHeader: {e}")),
    };
    if h.consumer_group != inner.group() {
        return refused(format!(
            "The Consumer Group <{}> not exist in this consumer",
            h.consumer_group
        ));
    }
    let mut msgs = match decode_messages(&cmd.body) {
        Ok(m) if !m.is_empty() => m,
        Ok(_) => return refused("no message in the body"),
        Err(e) => return refused(format!("undecodable message: {e}")),
    };
    msgs.truncate(1);
    let mut msg = msgs.remove(0);
    super::puller::restore_topic(&mut msg, inner.config.namespace.as_deref());
    let broker = h.broker_name.clone().unwrap_or_default();
    let mq = MessageQueue::new(msg.topic.clone(), broker, msg.queue_id);
    let started = Instant::now();
    let consume_result = match &inner.listener {
        Listener::Concurrent(l) => match l.call(vec![msg], &ConsumeContext::new(mq)).await.0 {
            ConsumeResult::Success => CMResult::Success,
            ConsumeResult::ReconsumeLater => CMResult::Later,
        },
        Listener::Orderly(l) => match l.call(vec![msg], &ConsumeOrderlyContext::new(mq)).await.0 {
            ConsumeOrderlyResult::Success => CMResult::Success,
            ConsumeOrderlyResult::SuspendCurrentQueueAMoment => CMResult::Later,
        },
        Listener::Pull(_) => return refused("a pull consumer has no listener to consume with"),
    };
    info!(msg_id = ?h.msg_id, ?consume_result, "message consumed on the broker's request");
    let r = ConsumeMessageDirectlyResult {
        order: inner.listener.is_orderly(),
        auto_commit: true,
        consume_result: Some(consume_result),
        remark: None,
        spent_time_mills: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    (ResponseCode::SUCCESS, None, Some(r.to_json()))
}

/// RESET_CONSUMER_CLIENT_OFFSET: hand the new offsets of our group's queues to the rebalancer.
async fn reset_offset(inner: &ConsumerInner, cmd: &RemotingCommand) -> Answer {
    let h = match cmd.decode_header::<ResetOffsetRequestHeader>() {
        Ok(h) => h,
        Err(e) => return refused(format!("bad ResetOffsetRequestHeader: {e}")),
    };
    if h.group != inner.group() {
        return refused(format!(
            "The Consumer Group <{}> not exist in this consumer",
            h.group
        ));
    }
    let body = match ResetOffsetBody::from_json(&cmd.body) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "undecodable reset-offset body");
            return refused(format!("undecodable ResetOffsetBody: {e}"));
        }
    };
    let table: HashMap<MessageQueue, i64> = body
        .offset_table
        .into_iter()
        .filter(|(mq, offset)| mq.topic == h.topic && *offset >= 0)
        .collect();
    if table.is_empty() {
        return (ResponseCode::SUCCESS, None, None);
    }
    match inner.rebalance_commands.send(Command::ResetOffsets(table)).await {
        Ok(()) => (ResponseCode::SUCCESS, None, None),
        Err(_) => refused("consumer is shutting down"),
    }
}
