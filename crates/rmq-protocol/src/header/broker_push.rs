//! Requests the broker sends to the client: NOTIFY_CONSUMER_IDS_CHANGED (40),
//! RESET_CONSUMER_CLIENT_OFFSET (220), GET_CONSUMER_STATUS_FROM_CLIENT (221),
//! GET_CONSUMER_RUNNING_INFO (307), CONSUME_MESSAGE_DIRECTLY (309). CHECK_TRANSACTION_STATE (39) is in
//! [`CheckTransactionStateRequestHeader`](super::CheckTransactionStateRequestHeader).

ext_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40, oneway): rebalance the group now.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        /// Consumer group.
        pub consumer_group: String = "consumerGroup",
    }
}

ext_header! {
    /// RESET_CONSUMER_CLIENT_OFFSET (220, oneway); the body is a
    /// [`ResetOffsetBody`](super::ResetOffsetBody).
    pub struct ResetOffsetRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// Consumer group.
        pub group: String = "group",
        /// Target timestamp, ms (Java primitive).
        pub timestamp: i64 = "timestamp",
        /// Force the reset (Java primitive).
        pub is_force: bool = "isForce",
        /// 5.x queue id (`-1` = all); absent from 4.x brokers.
        pub queue_id: Option<i32> = "queueId",
        /// 5.x explicit offset.
        pub offset: Option<i64> = "offset",
    }
}

ext_header! {
    /// GET_CONSUMER_RUNNING_INFO (307): reply with a
    /// [`ConsumerRunningInfo`](super::ConsumerRunningInfo).
    pub struct GetConsumerRunningInfoRequestHeader {
        /// Consumer group.
        pub consumer_group: String = "consumerGroup",
        /// Client id.
        pub client_id: String = "clientId",
        /// Include a thread dump (Java primitive).
        pub jstack_enable: bool = "jstackEnable",
    }
}

ext_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309): consume the stored message in the body and reply with a
    /// [`ConsumeMessageDirectlyResult`](super::ConsumeMessageDirectlyResult).
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        /// Consumer group.
        pub consumer_group: String = "consumerGroup",
        /// Client id.
        pub client_id: Option<String> = "clientId",
        /// Message id.
        pub msg_id: Option<String> = "msgId",
        /// Broker name.
        pub broker_name: Option<String> = "brokerName",
        /// Topic.
        pub topic: Option<String> = "topic",
        /// Topic sysFlag.
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        /// Group sysFlag.
        pub group_sys_flag: Option<i32> = "groupSysFlag",
    }
}

ext_header! {
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221, deprecated): reply with a
    /// [`GetConsumerStatusBody`](super::GetConsumerStatusBody).
    pub struct GetConsumerStatusRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// Consumer group.
        pub group: String = "group",
        /// Client address filter.
        pub client_addr: Option<String> = "clientAddr",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{CommandHeader, ExtFields};
    use crate::header::testutil::{assert_missing, round_trip};

    #[test]
    fn notify_and_reset() {
        let ext = round_trip(NotifyConsumerIdsChangedRequestHeader {
            consumer_group: "G".into(),
        });
        assert_missing::<NotifyConsumerIdsChangedRequestHeader>(&ext, "consumerGroup");
        let ext = round_trip(ResetOffsetRequestHeader {
            topic: "T".into(),
            group: "G".into(),
            timestamp: 1_700_000_000_000,
            is_force: true,
            queue_id: Some(-1),
            offset: None,
        });
        assert_eq!(ext.get("isForce"), Some("true"));
        assert_missing::<ResetOffsetRequestHeader>(&ext, "timestamp");
        // a 4.x broker sends no queueId
        let old: ExtFields = [
            ("topic", "T"),
            ("group", "G"),
            ("timestamp", "5"),
            ("isForce", "false"),
        ]
        .into_iter()
        .collect();
        let h = ResetOffsetRequestHeader::read_from(&old).unwrap();
        assert_eq!((h.queue_id, h.is_force, h.timestamp), (None, false, 5));
    }

    #[test]
    fn diagnostics() {
        let ext = round_trip(GetConsumerRunningInfoRequestHeader {
            consumer_group: "G".into(),
            client_id: "c".into(),
            jstack_enable: false,
        });
        assert_eq!(ext.get("jstackEnable"), Some("false"));
        assert_missing::<GetConsumerRunningInfoRequestHeader>(&ext, "clientId");
        let ext = round_trip(ConsumeMessageDirectlyResultRequestHeader {
            consumer_group: "G".into(),
            client_id: Some("c".into()),
            msg_id: Some("m".into()),
            broker_name: Some("b".into()),
            topic: Some("T".into()),
            topic_sys_flag: Some(0),
            group_sys_flag: Some(0),
        });
        assert_missing::<ConsumeMessageDirectlyResultRequestHeader>(&ext, "consumerGroup");
        let ext = round_trip(GetConsumerStatusRequestHeader {
            topic: "T".into(),
            group: "G".into(),
            client_addr: None,
        });
        assert_missing::<GetConsumerStatusRequestHeader>(&ext, "group");
    }
}
