//! The body of the `response_decode` fuzz target, shared with the stable corpus test
//! (`crates/rmq-protocol/tests/fuzz_corpus.rs`).
//!
//! The input is one frame (without its length prefix) as a broker or name server might send it. It is
//! parsed, then everything a client reads from such a frame is decoded: every typed header it takes
//! from a response or a server-initiated request (ext fields → struct; what decodes must encode and
//! decode to the same value), the pull body (stored messages, as the pull path does: up to the first
//! undecodable one), and the JSON bodies (consumer list, lock results, reset offsets, running info,
//! routes). Nothing may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use bytes::Bytes;
use rmq_protocol::header::{
    CheckTransactionStateRequestHeader, ConsumeMessageDirectlyResult,
    ConsumeMessageDirectlyResultRequestHeader, ConsumerListBody, ConsumerRunningInfo,
    GetConsumerRunningInfoRequestHeader, GetConsumerStatusBody, GetConsumerStatusRequestHeader,
    GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetResponseHeader, GetMinOffsetResponseHeader,
    HeartbeatData, LockBatchResponseBody, NotifyConsumerIdsChangedRequestHeader, PullMessageResponseHeader,
    QueryConsumerOffsetResponseHeader, QueryMessageResponseHeader, ResetOffsetBody, ResetOffsetRequestHeader,
    SearchOffsetResponseHeader, SendMessageResponseHeader,
};
use rmq_protocol::message::{DecodeOptions, MessageIter};
use rmq_protocol::route::{ClusterInfo, TopicRouteData};
use rmq_protocol::{frame, CommandHeader, RemotingCommand};

/// Decode `H` from the command's ext fields; what decodes must survive a round trip.
fn header<H: CommandHeader + PartialEq + std::fmt::Debug>(cmd: &RemotingCommand) {
    if let Ok(h) = cmd.decode_header::<H>() {
        let again = H::read_from(&h.to_ext()).expect("an encoded header must decode");
        assert_eq!(again, h);
    }
}

/// Run one fuzz input.
pub fn run(data: &[u8]) {
    let Ok(cmd) = frame::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    header::<SendMessageResponseHeader>(&cmd);
    header::<PullMessageResponseHeader>(&cmd);
    header::<QueryConsumerOffsetResponseHeader>(&cmd);
    header::<GetMaxOffsetResponseHeader>(&cmd);
    header::<GetMinOffsetResponseHeader>(&cmd);
    header::<SearchOffsetResponseHeader>(&cmd);
    header::<GetEarliestMsgStoretimeResponseHeader>(&cmd);
    header::<QueryMessageResponseHeader>(&cmd);
    header::<NotifyConsumerIdsChangedRequestHeader>(&cmd);
    header::<ResetOffsetRequestHeader>(&cmd);
    header::<GetConsumerRunningInfoRequestHeader>(&cmd);
    header::<ConsumeMessageDirectlyResultRequestHeader>(&cmd);
    header::<GetConsumerStatusRequestHeader>(&cmd);
    header::<CheckTransactionStateRequestHeader>(&cmd);

    // The pull path: messages up to the first one that does not decode (bodies capped at 1 MiB).
    let opts = DecodeOptions {
        max_body: 1 << 20,
        ..DecodeOptions::default()
    };
    for m in MessageIter::new(cmd.body.clone(), opts) {
        match m {
            Ok(m) => {
                let _ = m.msg_id();
                let _ = m.tags();
            }
            Err(_) => break,
        }
    }
    let body = &cmd.body[..];
    let _ = ConsumerListBody::from_json(body);
    let _ = LockBatchResponseBody::from_json(body);
    let _ = ResetOffsetBody::from_json(body);
    let _ = GetConsumerStatusBody::from_json(body);
    let _ = ConsumerRunningInfo::from_json(body);
    let _ = ConsumeMessageDirectlyResult::from_json(body);
    let _ = HeartbeatData::from_json(body);
    let _ = TopicRouteData::from_json(body);
    let _ = ClusterInfo::from_json(body);
}
