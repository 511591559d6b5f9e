//! The ends of a queue and the offset of a time, asked of the queue's master (GET_MIN_OFFSET,
//! GET_MAX_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP).

use rmq_protocol::header::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
};
use rmq_protocol::message::MessageQueue;
use rmq_protocol::{RemotingCommand, RequestCode};

use crate::client::ClientCore;
use crate::error::Result;

async fn ask(core: &ClientCore, mq: &MessageQueue, cmd: RemotingCommand) -> Result<RemotingCommand> {
    let addr = core.routes.master_addr(&mq.broker_name, Some(&mq.topic)).await?;
    core.remoting
        .invoke_ok(&addr, cmd, core.config.request_timeout)
        .await
}

/// The first offset still stored.
pub(crate) async fn min_offset(core: &ClientCore, mq: &MessageQueue) -> Result<i64> {
    let h = GetMinOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        bname: Some(mq.broker_name.clone()),
    };
    let resp = ask(
        core,
        mq,
        RemotingCommand::request(RequestCode::GET_MIN_OFFSET, &h),
    )
    .await?;
    Ok(resp.decode_header::<GetMinOffsetResponseHeader>()?.offset)
}

/// The offset after the last stored message.
pub(crate) async fn max_offset(core: &ClientCore, mq: &MessageQueue) -> Result<i64> {
    let h = GetMaxOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        committed: true,
        bname: Some(mq.broker_name.clone()),
    };
    let resp = ask(
        core,
        mq,
        RemotingCommand::request(RequestCode::GET_MAX_OFFSET, &h),
    )
    .await?;
    Ok(resp.decode_header::<GetMaxOffsetResponseHeader>()?.offset)
}

/// The offset of the first message stored at or after `timestamp_ms`.
pub(crate) async fn offset_for_timestamp(
    core: &ClientCore,
    mq: &MessageQueue,
    timestamp_ms: i64,
) -> Result<i64> {
    let h = SearchOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        timestamp: timestamp_ms,
        boundary_type: None,
        bname: Some(mq.broker_name.clone()),
    };
    let resp = ask(
        core,
        mq,
        RemotingCommand::request(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP, &h),
    )
    .await?;
    Ok(resp.decode_header::<SearchOffsetResponseHeader>()?.offset)
}
