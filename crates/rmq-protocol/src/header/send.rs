//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) headers and the send response.

ext_header! {
    /// `SendMessageRequestHeaderV2`: the short-key send header the Java client uses by default
    /// (SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE). Keys `a`..`n`, written in that order (Java fast codes).
    pub struct SendMessageRequestHeaderV2 {
        /// `a`: producer group.
        pub producer_group: String = "a",
        /// `b`: topic (namespace-prefixed when a namespace is used).
        pub topic: String = "b",
        /// `c`: auto-create template topic, `TBW102`.
        pub default_topic: String = "c",
        /// `d`: queue count for auto-created topics (Java: 4).
        pub default_topic_queue_nums: i32 = "d",
        /// `e`: target queue id (the broker picks one when negative).
        pub queue_id: i32 = "e",
        /// `f`: message sysFlag (compression, transaction bits).
        pub sys_flag: i32 = "f",
        /// `g`: born timestamp, ms.
        pub born_timestamp: i64 = "g",
        /// `h`: user message flag.
        pub flag: i32 = "h",
        /// `i`: encoded properties string.
        pub properties: Option<String> = "i",
        /// `j`: reconsume times (retry topics).
        pub reconsume_times: Option<i32> = "j",
        /// `k`: unit mode (Java sends `false`).
        pub unit_mode: Option<bool> = "k",
        /// `l`: max reconsume times (retry topics only).
        pub max_reconsume_times: Option<i32> = "l",
        /// `m`: `true` for SEND_BATCH_MESSAGE.
        pub batch: Option<bool> = "m",
        /// `n`: target broker name.
        pub broker_name: Option<String> = "n",
    }
}

ext_header! {
    /// `SendMessageRequestHeader`: the long-key send header of SEND_MESSAGE (10), used by Java only when
    /// `sendSmartMsg=false`. The broker name travels as the 5.x `bname` key.
    pub struct SendMessageRequestHeader {
        /// Producer group.
        pub producer_group: String = "producerGroup",
        /// Topic.
        pub topic: String = "topic",
        /// Auto-create template topic, `TBW102`.
        pub default_topic: String = "defaultTopic",
        /// Queue count for auto-created topics.
        pub default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// Target queue id.
        pub queue_id: i32 = "queueId",
        /// Message sysFlag bits (compression, transaction type; see `message::sysflag`).
        pub sys_flag: i32 = "sysFlag",
        /// When the producer created the message, ms since the epoch.
        pub born_timestamp: i64 = "bornTimestamp",
        /// The application's integer flag of the message (not interpreted by the broker).
        pub flag: i32 = "flag",
        /// The message properties in their wire form (`name 0x01 value 0x02` per pair).
        pub properties: Option<String> = "properties",
        /// How many times the message was consumed before (set when a consumer sends it back through
        /// a retry topic).
        pub reconsume_times: Option<i32> = "reconsumeTimes",
        /// Whether topic and group are unit-mode names (Java's unit/cell deployments); normally false.
        pub unit_mode: Option<bool> = "unitMode",
        /// Whether the body is a batch of encoded messages (SEND_BATCH_MESSAGE).
        pub batch: Option<bool> = "batch",
        /// Redeliveries allowed before the broker moves a sent-back message to the dead-letter topic.
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// 5.x `bname`: target broker name.
        pub bname: Option<String> = "bname",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v: SendMessageRequestHeaderV2) -> Self {
        SendMessageRequestHeader {
            producer_group: v.producer_group,
            topic: v.topic,
            default_topic: v.default_topic,
            default_topic_queue_nums: v.default_topic_queue_nums,
            queue_id: v.queue_id,
            sys_flag: v.sys_flag,
            born_timestamp: v.born_timestamp,
            flag: v.flag,
            properties: v.properties,
            reconsume_times: v.reconsume_times,
            unit_mode: v.unit_mode,
            batch: v.batch,
            max_reconsume_times: v.max_reconsume_times,
            bname: v.broker_name,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            producer_group: v.producer_group,
            topic: v.topic,
            default_topic: v.default_topic,
            default_topic_queue_nums: v.default_topic_queue_nums,
            queue_id: v.queue_id,
            sys_flag: v.sys_flag,
            born_timestamp: v.born_timestamp,
            flag: v.flag,
            properties: v.properties,
            reconsume_times: v.reconsume_times,
            unit_mode: v.unit_mode,
            max_reconsume_times: v.max_reconsume_times,
            batch: v.batch,
            broker_name: v.bname,
        }
    }
}

ext_header! {
    /// `SendMessageResponseHeader`, plus the two extra ext keys the broker adds (`MSG_REGION`, `TRACE_ON`).
    pub struct SendMessageResponseHeader {
        /// The stored message's **offsetMsgId** (batch: comma-joined, one per message).
        pub msg_id: String = "msgId",
        /// Queue actually written.
        pub queue_id: i32 = "queueId",
        /// Consume-queue offset (batch: of the first message).
        pub queue_offset: i64 = "queueOffset",
        /// Transaction id (the message's UNIQ_KEY).
        pub transaction_id: Option<String> = "transactionId",
        /// 5.x: set only for inner-batch topics.
        pub batch_uniq_id: Option<String> = "batchUniqId",
        /// 5.x: handle for RECALL_MESSAGE.
        pub recall_handle: Option<String> = "recallHandle",
        /// Broker region id (`DefaultRegion` by default).
        pub msg_region: Option<String> = "MSG_REGION",
        /// Broker trace switch, `"true"`/`"false"`.
        pub trace_on: Option<String> = "TRACE_ON",
    }
}

impl SendMessageResponseHeader {
    /// Whether tracing is on, as Java's client decides it: anything but the exact string `"false"`
    /// (including absence) is on.
    pub fn is_trace_on(&self) -> bool {
        self.trace_on.as_deref() != Some("false")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::ext::{CommandHeader, ExtFields};

    fn v2() -> SendMessageRequestHeaderV2 {
        SendMessageRequestHeaderV2 {
            producer_group: "PG".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 1,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            flag: 0,
            properties: Some("UNIQ_KEY\u{1}X\u{2}".into()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: Some(16),
            batch: Some(false),
            broker_name: Some("broker-a".into()),
        }
    }

    #[test]
    fn v2_key_order_is_a_to_n() {
        let ext = v2().to_ext();
        let keys: String = ext.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, "abcdefghijklmn");
        assert_eq!(ext.get("g"), Some("1700000000000"));
        assert_eq!(ext.get("k"), Some("false"));
        assert_eq!(SendMessageRequestHeaderV2::read_from(&ext).unwrap(), v2());
    }

    #[test]
    fn v2_optional_fields_omitted() {
        let h = SendMessageRequestHeaderV2 {
            properties: None,
            reconsume_times: None,
            unit_mode: None,
            max_reconsume_times: None,
            batch: None,
            broker_name: None,
            ..v2()
        };
        let ext = h.to_ext();
        let keys: String = ext.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, "abcdefgh");
        assert_eq!(SendMessageRequestHeaderV2::read_from(&ext).unwrap(), h);
    }

    #[test]
    fn v2_missing_and_invalid() {
        let mut ext = v2().to_ext();
        ext.remove("g");
        assert_eq!(
            SendMessageRequestHeaderV2::read_from(&ext),
            Err(ProtocolError::MissingField {
                header: "SendMessageRequestHeaderV2",
                field: "g"
            })
        );
        ext.insert("g", "soon");
        assert!(matches!(
            SendMessageRequestHeaderV2::read_from(&ext),
            Err(ProtocolError::InvalidField { field: "g", .. })
        ));
    }

    #[test]
    fn v1_long_names_and_conversion() {
        let v1: SendMessageRequestHeader = v2().into();
        let ext = v1.to_ext();
        assert_eq!(ext.get("producerGroup"), Some("PG"));
        assert_eq!(ext.get("defaultTopicQueueNums"), Some("4"));
        assert_eq!(ext.get("bname"), Some("broker-a"));
        assert_eq!(ext.get("maxReconsumeTimes"), Some("16"));
        assert_eq!(ext.len(), 14);
        let back = SendMessageRequestHeader::read_from(&ext).unwrap();
        assert_eq!(SendMessageRequestHeaderV2::from(back), v2());
        let mut ext = ext;
        ext.remove("topic");
        assert!(matches!(
            SendMessageRequestHeader::read_from(&ext),
            Err(ProtocolError::MissingField { field: "topic", .. })
        ));
    }

    #[test]
    fn response_with_broker_extras() {
        let ext: ExtFields = [
            ("msgId", "0A00000500002A9F0000000000000064"),
            ("queueId", "2"),
            ("queueOffset", "77"),
            ("transactionId", "7F00000100002A9F"),
            ("MSG_REGION", "DefaultRegion"),
            ("TRACE_ON", "true"),
        ]
        .into_iter()
        .collect();
        let h = SendMessageResponseHeader::read_from(&ext).unwrap();
        assert_eq!(h.queue_id, 2);
        assert_eq!(h.queue_offset, 77);
        assert_eq!(h.msg_region.as_deref(), Some("DefaultRegion"));
        assert!(h.is_trace_on());
        assert_eq!(h.to_ext(), ext);
        let off = SendMessageResponseHeader {
            trace_on: Some("false".into()),
            ..h
        };
        assert!(!off.is_trace_on());
        let mut ext = ext;
        ext.remove("queueOffset");
        assert!(matches!(
            SendMessageResponseHeader::read_from(&ext),
            Err(ProtocolError::MissingField {
                field: "queueOffset",
                ..
            })
        ));
    }
}
