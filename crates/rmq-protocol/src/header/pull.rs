//! PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361) request and response headers.

ext_header! {
    /// `PullMessageRequestHeader`. Fields are written in Java's fast-codes order.
    pub struct PullMessageRequestHeader {
        /// Consumer group.
        pub consumer_group: String = "consumerGroup",
        /// Topic (including `%RETRY%group`).
        pub topic: String = "topic",
        /// 5.x lite topic (newer brokers only).
        pub lite_topic: Option<String> = "liteTopic",
        /// Queue id.
        pub queue_id: i32 = "queueId",
        /// Next offset to fetch.
        pub queue_offset: i64 = "queueOffset",
        /// Batch size (Java push consumer: 32).
        pub max_msg_nums: i32 = "maxMsgNums",
        /// Pull sysFlag bits (COMMIT_OFFSET 1, SUSPEND 2, SUBSCRIPTION 4, CLASS_FILTER 8, LITE_PULL 16).
        pub sys_flag: i32 = "sysFlag",
        /// Committed offset piggy-backed on the pull (0 if none).
        pub commit_offset: i64 = "commitOffset",
        /// Long-poll hold time, ms.
        pub suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        /// Subscription expression (only with the SUBSCRIPTION bit).
        pub subscription: Option<String> = "subscription",
        /// Subscription version; must not exceed the one sent by heartbeat.
        pub sub_version: i64 = "subVersion",
        /// `TAG` or `SQL92`.
        pub expression_type: Option<String> = "expressionType",
        /// 5.x: byte limit of the batch.
        pub max_msg_bytes: Option<i32> = "maxMsgBytes",
        /// 5.x: proxy use.
        pub request_source: Option<i32> = "requestSource",
        /// 5.x: proxy use (spelling as in Java).
        pub proxy_froward_client_id: Option<String> = "proxyFrowardClientId",
        /// 5.x `bname`: broker name of the queue.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// `PullMessageResponseHeader`. The remark carries the store status name (diagnostic only).
    pub struct PullMessageResponseHeader {
        /// Broker id to use for the next pull of this queue (0 = master).
        pub suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        /// Offset to request next (also the corrected offset on OFFSET_MOVED).
        pub next_begin_offset: i64 = "nextBeginOffset",
        /// Queue min offset.
        pub min_offset: i64 = "minOffset",
        /// Queue max offset (next offset to be written).
        pub max_offset: i64 = "maxOffset",
        /// 5.x static-topic logical offset delta.
        pub offset_delta: Option<i64> = "offsetDelta",
        /// 5.x topic sysFlag.
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        /// 5.x group sysFlag.
        pub group_sys_flag: Option<i32> = "groupSysFlag",
        /// 5.x forbidden type.
        pub forbidden_type: Option<i32> = "forbiddenType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::ext::{CommandHeader, ExtFields};

    #[test]
    fn request_round_trip_in_fast_codes_order() {
        let h = PullMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            lite_topic: None,
            queue_id: 0,
            queue_offset: 100,
            max_msg_nums: 32,
            sys_flag: 0b111,
            commit_offset: 99,
            suspend_timeout_millis: 15_000,
            subscription: Some("TagA || TagB".into()),
            sub_version: 1_700_000_000_000,
            expression_type: Some("TAG".into()),
            max_msg_bytes: Some(262_144),
            request_source: None,
            proxy_froward_client_id: None,
            bname: Some("broker-a".into()),
        };
        let ext = h.to_ext();
        let keys: Vec<&str> = ext.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "consumerGroup",
                "topic",
                "queueId",
                "queueOffset",
                "maxMsgNums",
                "sysFlag",
                "commitOffset",
                "suspendTimeoutMillis",
                "subscription",
                "subVersion",
                "expressionType",
                "maxMsgBytes",
                "bname"
            ]
        );
        assert_eq!(PullMessageRequestHeader::read_from(&ext).unwrap(), h);
        for required in ["consumerGroup", "queueOffset", "subVersion", "commitOffset"] {
            let mut e = ext.clone();
            e.remove(required);
            assert!(matches!(
                PullMessageRequestHeader::read_from(&e),
                Err(ProtocolError::MissingField { header: "PullMessageRequestHeader", field }) if field == required
            ));
        }
    }

    #[test]
    fn response_round_trip() {
        let ext: ExtFields = [
            ("suggestWhichBrokerId", "0"),
            ("nextBeginOffset", "132"),
            ("minOffset", "0"),
            ("maxOffset", "200"),
            ("offsetDelta", "-5"),
        ]
        .into_iter()
        .collect();
        let h = PullMessageResponseHeader::read_from(&ext).unwrap();
        assert_eq!(h.next_begin_offset, 132);
        assert_eq!(h.offset_delta, Some(-5));
        assert_eq!(h.to_ext(), ext);
        let mut e = ext;
        e.remove("maxOffset");
        assert!(matches!(
            PullMessageResponseHeader::read_from(&e),
            Err(ProtocolError::MissingField {
                field: "maxOffset",
                ..
            })
        ));
    }
}
