//! Admin requests: UPDATE_AND_CREATE_TOPIC (17), DELETE_TOPIC_IN_BROKER (215), GET_TOPIC_CONFIG (351),
//! QUERY_MESSAGE (12), VIEW_MESSAGE_BY_ID (33).

ext_header! {
    /// UPDATE_AND_CREATE_TOPIC (17) request, sent to every master of the cluster.
    pub struct CreateTopicRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// Template topic, `TBW102`.
        pub default_topic: String = "defaultTopic",
        /// Readable queue count.
        pub read_queue_nums: i32 = "readQueueNums",
        /// Writable queue count.
        pub write_queue_nums: i32 = "writeQueueNums",
        /// Permission bits (6 = read + write), see [`crate::route::perm`].
        pub perm: i32 = "perm",
        /// `SINGLE_TAG` or `MULTI_TAG`.
        pub topic_filter_type: String = "topicFilterType",
        /// Topic sysFlag.
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        /// Ordered topic (Java sends `false`).
        pub order: bool = "order",
        /// 5.x: comma-separated `+key=value` / `-key` attribute changes, e.g. `+message.type=NORMAL`.
        pub attributes: Option<String> = "attributes",
        /// 5.x: force the update.
        pub force: Option<bool> = "force",
    }
}

ext_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request.
    pub struct DeleteTopicRequestHeader {
        /// Topic.
        pub topic: String = "topic",
    }
}

ext_header! {
    /// GET_TOPIC_CONFIG (351, 5.x) request. Java sends `lo=true`.
    pub struct GetTopicConfigRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// 5.x `lo` (logical queue).
        pub lo: Option<bool> = "lo",
    }
}

ext_header! {
    /// QUERY_MESSAGE (12) request, sent to every broker of the topic.
    pub struct QueryMessageRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// Message key (or unique key).
        pub key: String = "key",
        /// Maximum number of messages.
        pub max_num: i32 = "maxNum",
        /// Begin of the store-time window, ms.
        pub begin_timestamp: i64 = "beginTimestamp",
        /// End of the store-time window, ms.
        pub end_timestamp: i64 = "endTimestamp",
        /// Newer brokers: index type.
        pub index_type: Option<String> = "indexType",
        /// Newer brokers: paging key.
        pub last_key: Option<String> = "lastKey",
        /// Extra ext key `_UNIQUE_KEY_QUERY`: whether `key` is a UNIQ_KEY.
        pub unique_key_query: Option<bool> = "_UNIQUE_KEY_QUERY",
    }
}

ext_header! {
    /// QUERY_MESSAGE (12) response header; the body is the concatenated stored messages.
    pub struct QueryMessageResponseHeader {
        /// Index last update time, ms.
        pub index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        /// Index last update commit-log offset.
        pub index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

ext_header! {
    /// VIEW_MESSAGE_BY_ID (33) request, sent to the store host decoded from the offsetMsgId.
    pub struct ViewMessageRequestHeader {
        /// 5.x: topic.
        pub topic: Option<String> = "topic",
        /// Commit-log offset.
        pub offset: i64 = "offset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::testutil::{assert_missing, round_trip};

    #[test]
    fn create_topic() {
        let ext = round_trip(CreateTopicRequestHeader {
            topic: "T".into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: false,
            attributes: Some("+message.type=NORMAL".into()),
            force: None,
        });
        assert_eq!(ext.get("order"), Some("false"));
        assert_eq!(ext.get("perm"), Some("6"));
        for k in [
            "topic",
            "defaultTopic",
            "readQueueNums",
            "writeQueueNums",
            "perm",
            "topicFilterType",
        ] {
            assert_missing::<CreateTopicRequestHeader>(&ext, k);
        }
        let ext = round_trip(DeleteTopicRequestHeader { topic: "T".into() });
        assert_missing::<DeleteTopicRequestHeader>(&ext, "topic");
        let ext = round_trip(GetTopicConfigRequestHeader {
            topic: "T".into(),
            lo: Some(true),
        });
        assert_eq!(ext.get("lo"), Some("true"));
    }

    #[test]
    fn query_and_view() {
        let ext = round_trip(QueryMessageRequestHeader {
            topic: "T".into(),
            key: "K".into(),
            max_num: 32,
            begin_timestamp: 0,
            end_timestamp: i64::MAX,
            index_type: None,
            last_key: None,
            unique_key_query: Some(false),
        });
        assert_eq!(ext.get("_UNIQUE_KEY_QUERY"), Some("false"));
        assert_missing::<QueryMessageRequestHeader>(&ext, "endTimestamp");
        let ext = round_trip(QueryMessageResponseHeader {
            index_last_update_timestamp: 1,
            index_last_update_phyoffset: 2,
        });
        assert_missing::<QueryMessageResponseHeader>(&ext, "indexLastUpdatePhyoffset");
        let ext = round_trip(ViewMessageRequestHeader {
            topic: None,
            offset: 99,
        });
        assert_missing::<ViewMessageRequestHeader>(&ext, "offset");
    }
}
