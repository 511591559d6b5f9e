//! CONSUMER_SEND_MSG_BACK (36) and LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (41/42) with their JSON bodies.

use serde::{Deserialize, Serialize};

use crate::message::MessageQueue;

ext_header! {
    /// CONSUMER_SEND_MSG_BACK (36): hand a failed message back for retry (or to the DLQ).
    pub struct ConsumerSendMsgBackRequestHeader {
        /// The message's commit-log (physical) offset.
        pub offset: i64 = "offset",
        /// Consumer group.
        pub group: String = "group",
        /// 0 = broker chooses (3 + reconsumeTimes), -1 = straight to DLQ, n > 0 = that level.
        pub delay_level: i32 = "delayLevel",
        /// The message id (UNIQ_KEY when present, else offsetMsgId).
        pub origin_msg_id: Option<String> = "originMsgId",
        /// The message's topic as delivered.
        pub origin_topic: Option<String> = "originTopic",
        /// Unit mode (Java primitive: always sent, `false`).
        pub unit_mode: bool = "unitMode",
        /// The consumer's max reconsume times.
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// LOCK_BATCH_MQ (41) header: no own fields (body: [`LockBatchRequestBody`]).
    pub struct LockBatchMqRequestHeader {
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// UNLOCK_BATCH_MQ (42) header: no own fields (body: [`UnlockBatchRequestBody`]).
    pub struct UnlockBatchMqRequestHeader {
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

/// LOCK_BATCH_MQ (41) request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockBatchRequestBody {
    /// `clientId`.
    #[serde(rename = "clientId", default)]
    pub client_id: String,
    /// `consumerGroup`.
    #[serde(rename = "consumerGroup", default)]
    pub consumer_group: String,
    /// `mqSet`: the queues to lock.
    #[serde(rename = "mqSet", default)]
    pub mq_set: Vec<MessageQueue>,
    /// `onlyThisBroker` (Java: false).
    #[serde(rename = "onlyThisBroker", default)]
    pub only_this_broker: bool,
}

/// LOCK_BATCH_MQ (41) response body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockBatchResponseBody {
    /// `lockOKMQSet`: the subset now locked by this client.
    #[serde(rename = "lockOKMQSet", default)]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

/// UNLOCK_BATCH_MQ (42) request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockBatchRequestBody {
    /// `clientId`.
    #[serde(rename = "clientId", default)]
    pub client_id: String,
    /// `consumerGroup`.
    #[serde(rename = "consumerGroup", default)]
    pub consumer_group: String,
    /// `mqSet`: the queues to unlock.
    #[serde(rename = "mqSet", default)]
    pub mq_set: Vec<MessageQueue>,
    /// `onlyThisBroker`.
    #[serde(rename = "onlyThisBroker", default)]
    pub only_this_broker: bool,
}

json_body!(
    LockBatchRequestBody,
    LockBatchResponseBody,
    UnlockBatchRequestBody
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::testutil::{assert_missing, round_trip};

    #[test]
    fn send_back_header() {
        let ext = round_trip(ConsumerSendMsgBackRequestHeader {
            offset: 123_456,
            group: "G".into(),
            delay_level: 0,
            origin_msg_id: Some("7F000001".into()),
            origin_topic: Some("T".into()),
            unit_mode: false,
            max_reconsume_times: Some(16),
            bname: Some("broker-a".into()),
        });
        assert_eq!(ext.get("unitMode"), Some("false"));
        for k in ["offset", "group", "delayLevel"] {
            assert_missing::<ConsumerSendMsgBackRequestHeader>(&ext, k);
        }
        assert!(round_trip(LockBatchMqRequestHeader::default()).is_empty());
        round_trip(UnlockBatchMqRequestHeader {
            bname: Some("b".into()),
        });
    }

    #[test]
    fn lock_bodies() {
        let body = LockBatchRequestBody {
            client_id: "c".into(),
            consumer_group: "G".into(),
            mq_set: vec![MessageQueue::new("T", "b", 0)],
            only_this_broker: false,
        };
        let json: serde_json::Value = serde_json::from_slice(&body.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"clientId":"c","consumerGroup":"G","onlyThisBroker":false,
                "mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}]})
        );
        assert_eq!(LockBatchRequestBody::from_json(&body.to_json()).unwrap(), body);
        let resp = LockBatchResponseBody::from_json(
            br#"{"lockOKMQSet":[{"brokerName":"b","queueId":0,"topic":"T"}]}"#,
        )
        .unwrap();
        assert_eq!(resp.lock_ok_mq_set, body.mq_set);
        let unlock = UnlockBatchRequestBody {
            client_id: "c".into(),
            consumer_group: "G".into(),
            mq_set: body.mq_set.clone(),
            only_this_broker: true,
        };
        assert_eq!(
            UnlockBatchRequestBody::from_json(&unlock.to_json()).unwrap(),
            unlock
        );
        assert!(LockBatchResponseBody::from_json(b"{\"lockOKMQSet\":[{}]}").is_err());
    }
}
