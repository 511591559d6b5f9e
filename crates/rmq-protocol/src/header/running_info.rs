//! Diagnostic bodies a consumer returns to the broker: GET_CONSUMER_RUNNING_INFO (307)'s
//! `ConsumerRunningInfo` and CONSUME_MESSAGE_DIRECTLY (309)'s `ConsumeMessageDirectlyResult`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::{self, Node};
use super::SubscriptionData;
use crate::error::{ProtocolError, Result};
use crate::message::java_string_cmp;
use crate::message::MessageQueue;

/// Snapshot of one process queue (`ProcessQueueInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessQueueInfo {
    /// `cachedMsgCount`.
    #[serde(rename = "cachedMsgCount")]
    pub cached_msg_count: i32,
    /// `cachedMsgMaxOffset`.
    #[serde(rename = "cachedMsgMaxOffset")]
    pub cached_msg_max_offset: i64,
    /// `cachedMsgMinOffset`.
    #[serde(rename = "cachedMsgMinOffset")]
    pub cached_msg_min_offset: i64,
    /// `cachedMsgSizeInMiB`.
    #[serde(rename = "cachedMsgSizeInMiB")]
    pub cached_msg_size_in_mib: i32,
    /// `commitOffset`.
    #[serde(rename = "commitOffset")]
    pub commit_offset: i64,
    /// `droped` (sic).
    #[serde(rename = "droped")]
    pub dropped: bool,
    /// `lastConsumeTimestamp`, ms.
    #[serde(rename = "lastConsumeTimestamp")]
    pub last_consume_timestamp: i64,
    /// `lastLockTimestamp`, ms.
    #[serde(rename = "lastLockTimestamp")]
    pub last_lock_timestamp: i64,
    /// `lastPullTimestamp`, ms.
    #[serde(rename = "lastPullTimestamp")]
    pub last_pull_timestamp: i64,
    /// `locked` (orderly).
    #[serde(rename = "locked")]
    pub locked: bool,
    /// `transactionMsgCount`.
    #[serde(rename = "transactionMsgCount")]
    pub transaction_msg_count: i32,
    /// `transactionMsgMaxOffset`.
    #[serde(rename = "transactionMsgMaxOffset")]
    pub transaction_msg_max_offset: i64,
    /// `transactionMsgMinOffset`.
    #[serde(rename = "transactionMsgMinOffset")]
    pub transaction_msg_min_offset: i64,
    /// `tryUnlockTimes`.
    #[serde(rename = "tryUnlockTimes")]
    pub try_unlock_times: i64,
}

/// Snapshot of one pop process queue (`PopProcessQueueInfo`, 5.x).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PopProcessQueueInfo {
    /// `droped` (sic).
    #[serde(rename = "droped")]
    pub dropped: bool,
    /// `lastPopTimestamp`, ms.
    #[serde(rename = "lastPopTimestamp")]
    pub last_pop_timestamp: i64,
    /// `waitAckCount`.
    #[serde(rename = "waitAckCount")]
    pub wait_ack_count: i32,
}

/// Per-topic consumption statistics (`ConsumeStatus`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumeStatus {
    /// `consumeFailedMsgs`: failures in the last hour.
    #[serde(rename = "consumeFailedMsgs")]
    pub consume_failed_msgs: i64,
    /// `consumeFailedTPS`.
    #[serde(rename = "consumeFailedTPS")]
    pub consume_failed_tps: f64,
    /// `consumeOKTPS`.
    #[serde(rename = "consumeOKTPS")]
    pub consume_ok_tps: f64,
    /// `consumeRT`, ms.
    #[serde(rename = "consumeRT")]
    pub consume_rt: f64,
    /// `pullRT`, ms.
    #[serde(rename = "pullRT")]
    pub pull_rt: f64,
    /// `pullTPS`.
    #[serde(rename = "pullTPS")]
    pub pull_tps: f64,
}

/// GET_CONSUMER_RUNNING_INFO (307) reply body.
///
/// Java writes the queue tables with `MessageQueue` objects as map keys, which is not JSON; use
/// [`ConsumerRunningInfo::to_json`] / [`ConsumerRunningInfo::from_json`], not serde.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerRunningInfo {
    /// `properties`: consumer settings plus the `PROP_*` keys.
    pub properties: BTreeMap<String, String>,
    /// `subscriptionSet`.
    pub subscription_set: Vec<SubscriptionData>,
    /// `mqTable`: queue → process-queue snapshot.
    pub mq_table: BTreeMap<MessageQueue, ProcessQueueInfo>,
    /// `mqPopTable` (5.x).
    pub mq_pop_table: BTreeMap<MessageQueue, PopProcessQueueInfo>,
    /// `statusTable`: topic → statistics.
    pub status_table: BTreeMap<String, ConsumeStatus>,
    /// `userConsumerInfo`.
    pub user_consumer_info: BTreeMap<String, String>,
    /// `jstack`: thread dump, only when requested.
    pub jstack: Option<String>,
}

impl ConsumerRunningInfo {
    /// Property key: name-server addresses joined with `;`.
    pub const PROP_NAMESERVER_ADDR: &'static str = "PROP_NAMESERVER_ADDR";
    /// Property key: consume thread pool core size.
    pub const PROP_THREADPOOL_CORE_SIZE: &'static str = "PROP_THREADPOOL_CORE_SIZE";
    /// Property key: `"true"` for orderly consumers.
    pub const PROP_CONSUMEORDERLY: &'static str = "PROP_CONSUMEORDERLY";
    /// Property key: `CONSUME_PASSIVELY` / `CONSUME_ACTIVELY`.
    pub const PROP_CONSUME_TYPE: &'static str = "PROP_CONSUME_TYPE";
    /// Property key: client version name, e.g. `V5_3_3`.
    pub const PROP_CLIENT_VERSION: &'static str = "PROP_CLIENT_VERSION";
    /// Property key: consumer start time, ms.
    pub const PROP_CONSUMER_START_TIMESTAMP: &'static str = "PROP_CONSUMER_START_TIMESTAMP";

    /// Serialize as Java does (fastjson: keys sorted, queue tables with object keys, `subscriptionSet`
    /// ordered by `topic@subString` like Java's `TreeSet`).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = String::from("{");
        if let Some(j) = &self.jstack {
            out.push_str("\"jstack\":");
            lenient::push_json(&mut out, j);
            out.push(',');
        }
        out.push_str("\"mqPopTable\":");
        lenient::push_mq_map(&mut out, &self.mq_pop_table);
        out.push_str(",\"mqTable\":");
        lenient::push_mq_map(&mut out, &self.mq_table);
        out.push_str(",\"properties\":");
        lenient::push_json(&mut out, &self.properties);
        out.push_str(",\"statusTable\":");
        lenient::push_json(&mut out, &self.status_table);
        out.push_str(",\"subscriptionSet\":");
        let mut subs: Vec<&SubscriptionData> = self.subscription_set.iter().collect();
        let key = |s: &SubscriptionData| format!("{}@{}", s.topic, s.sub_string);
        subs.sort_by(|a, b| java_string_cmp(&key(a), &key(b)));
        lenient::push_json(&mut out, &subs);
        out.push_str(",\"userConsumerInfo\":");
        lenient::push_json(&mut out, &self.user_consumer_info);
        out.push('}');
        out.into_bytes()
    }

    /// Parse Java's output (object-keyed tables; string-keyed and array forms are accepted too).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let root = lenient::parse(bytes)?;
        if !matches!(root, Node::Obj(_)) {
            return Err(ProtocolError::Json("body is not a JSON object".into()));
        }
        fn field<T: serde::de::DeserializeOwned + Default>(root: &Node, key: &str) -> Result<T> {
            match root.get(key) {
                None | Some(Node::Null) => Ok(T::default()),
                Some(n) => n.deserialize(),
            }
        }
        fn table<T: serde::de::DeserializeOwned>(
            root: &Node,
            key: &str,
        ) -> Result<BTreeMap<MessageQueue, T>> {
            match root.get(key) {
                None => Ok(BTreeMap::new()),
                Some(n) => lenient::mq_entries(n, "value")?
                    .into_iter()
                    .map(|(mq, v)| Ok((mq, v.deserialize()?)))
                    .collect(),
            }
        }
        Ok(ConsumerRunningInfo {
            properties: field(&root, "properties")?,
            subscription_set: field(&root, "subscriptionSet")?,
            mq_table: table(&root, "mqTable")?,
            mq_pop_table: table(&root, "mqPopTable")?,
            status_table: field(&root, "statusTable")?,
            user_consumer_info: field(&root, "userConsumerInfo")?,
            jstack: field(&root, "jstack")?,
        })
    }
}

/// Result of consuming one message on request (`CMResult`), by Java enum name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CMResult {
    /// `CR_SUCCESS`.
    #[serde(rename = "CR_SUCCESS")]
    Success,
    /// `CR_LATER`.
    #[serde(rename = "CR_LATER")]
    Later,
    /// `CR_ROLLBACK`.
    #[serde(rename = "CR_ROLLBACK")]
    Rollback,
    /// `CR_COMMIT`.
    #[serde(rename = "CR_COMMIT")]
    Commit,
    /// `CR_THROW_EXCEPTION`.
    #[serde(rename = "CR_THROW_EXCEPTION")]
    ThrowException,
    /// `CR_RETURN_NULL`.
    #[serde(rename = "CR_RETURN_NULL")]
    ReturnNull,
}

/// CONSUME_MESSAGE_DIRECTLY (309) reply body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumeMessageDirectlyResult {
    /// `autoCommit`.
    #[serde(rename = "autoCommit", default)]
    pub auto_commit: bool,
    /// `consumeResult`.
    #[serde(rename = "consumeResult", default, skip_serializing_if = "Option::is_none")]
    pub consume_result: Option<CMResult>,
    /// `order`: whether the consumer is orderly.
    #[serde(rename = "order", default)]
    pub order: bool,
    /// `remark`: error text, if any.
    #[serde(rename = "remark", default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// `spentTimeMills` (sic): time spent consuming, ms.
    #[serde(rename = "spentTimeMills", default)]
    pub spent_time_mills: i64,
}

json_body!(ConsumeMessageDirectlyResult);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::ExpressionType;

    #[test]
    fn running_info_round_trip_in_fastjson_form() {
        let mut info = ConsumerRunningInfo::default();
        info.properties.insert(
            ConsumerRunningInfo::PROP_CONSUME_TYPE.into(),
            "CONSUME_PASSIVELY".into(),
        );
        let mut s1 = SubscriptionData::from_expression("T", "*", ExpressionType::Tag).unwrap();
        s1.sub_version = 1;
        let mut s0 = s1.clone();
        s0.topic = "%RETRY%G".into();
        info.subscription_set = vec![s1, s0];
        info.mq_table.insert(
            MessageQueue::new("T", "b", 1),
            ProcessQueueInfo {
                commit_offset: 5,
                locked: true,
                ..Default::default()
            },
        );
        info.status_table.insert(
            "T".into(),
            ConsumeStatus {
                pull_rt: 1.5,
                ..Default::default()
            },
        );
        let json = String::from_utf8(info.to_json()).unwrap();
        assert!(json.starts_with(
            r#"{"mqPopTable":{},"mqTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"cachedMsgCount":0,"#
        ));
        assert!(json.contains(r#""statusTable":{"T":{"consumeFailedMsgs":0,"consumeFailedTPS":0.0,"#));
        // TreeSet order: "%RETRY%G@*" < "T@*"
        let subs = &json[json.find("subscriptionSet").unwrap()..];
        assert!(subs.find("%RETRY%G").unwrap() < subs.find(r#""topic":"T"}"#).unwrap());
        let back = ConsumerRunningInfo::from_json(json.as_bytes()).unwrap();
        assert_eq!(back.mq_table, info.mq_table);
        assert_eq!(back.status_table, info.status_table);
        assert_eq!(back.properties, info.properties);
        assert_eq!(back.subscription_set.len(), 2);
        assert!(back.jstack.is_none());
        info.jstack = Some("trace".into());
        let json = info.to_json();
        assert!(json.starts_with(br#"{"jstack":"trace","mqPopTable""#));
        assert!(ConsumerRunningInfo::from_json(b"[]").is_err());
        assert!(ConsumerRunningInfo::from_json(br#"{"mqTable":{1:2}}"#).is_err());
    }

    #[test]
    fn direct_result_json() {
        let r = ConsumeMessageDirectlyResult {
            auto_commit: true,
            consume_result: Some(CMResult::Success),
            order: false,
            remark: None,
            spent_time_mills: 3,
        };
        let json = r.to_json();
        assert_eq!(
            json,
            br#"{"autoCommit":true,"consumeResult":"CR_SUCCESS","order":false,"spentTimeMills":3}"#
        );
        assert_eq!(ConsumeMessageDirectlyResult::from_json(&json).unwrap(), r);
        assert!(ConsumeMessageDirectlyResult::from_json(br#"{"consumeResult":"CR_NOPE"}"#).is_err());
    }
}
