//! Property tests for typed headers and the object-keyed JSON bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use bytes::BytesMut;
use proptest::prelude::*;
use rmq_protocol::header::*;
use rmq_protocol::message::{java_string_hash, MessageQueue};
use rmq_protocol::{frame, CommandHeader, ExtFields, RemotingCommand, RequestCode, SerializeType};

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop::option::of(s).boxed()
}

/// Non-empty: the ROCKETMQ header turns an empty value into null, as Java does.
const TEXT: &str = "[^\u{0}]{1,24}";

prop_compose! {
    fn send_v2()(
        producer_group in TEXT, topic in TEXT, default_topic in TEXT,
        default_topic_queue_nums in any::<i32>(), queue_id in any::<i32>(), sys_flag in any::<i32>(),
        born_timestamp in any::<i64>(), flag in any::<i32>(), properties in opt(TEXT),
        reconsume_times in opt(any::<i32>()), unit_mode in opt(any::<bool>()),
        max_reconsume_times in opt(any::<i32>()), batch in opt(any::<bool>()), broker_name in opt(TEXT),
    ) -> SendMessageRequestHeaderV2 {
        SendMessageRequestHeaderV2 {
            producer_group, topic, default_topic, default_topic_queue_nums, queue_id, sys_flag,
            born_timestamp, flag, properties, reconsume_times, unit_mode, max_reconsume_times, batch,
            broker_name,
        }
    }
}

prop_compose! {
    fn pull()(
        consumer_group in TEXT, topic in TEXT, queue_id in any::<i32>(), queue_offset in any::<i64>(),
        max_msg_nums in any::<i32>(), sys_flag in any::<i32>(), commit_offset in any::<i64>(),
        suspend_timeout_millis in any::<i64>(), subscription in opt(TEXT), sub_version in any::<i64>(),
        expression_type in opt(TEXT), max_msg_bytes in opt(any::<i32>()), bname in opt(TEXT),
    ) -> PullMessageRequestHeader {
        PullMessageRequestHeader {
            consumer_group, topic, lite_topic: None, queue_id, queue_offset, max_msg_nums, sys_flag,
            commit_offset, suspend_timeout_millis, subscription, sub_version, expression_type,
            max_msg_bytes, request_source: None, proxy_froward_client_id: None, bname,
        }
    }
}

fn through_frame<H: CommandHeader>(code: RequestCode, h: &H, ty: SerializeType) -> H {
    let cmd = RemotingCommand::request(code, h).with_serialize_type(ty);
    let mut buf = BytesMut::new();
    frame::encode(&cmd, &mut buf).unwrap();
    let back = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    back.decode_header().unwrap()
}

fn mq() -> impl Strategy<Value = MessageQueue> {
    ("[^\u{0}]{0,12}", "[a-z\"{}:,\\\\-]{0,8}", any::<i32>()).prop_map(|(t, b, q)| MessageQueue::new(t, b, q))
}

fn junk_ext() -> impl Strategy<Value = ExtFields> {
    let key = prop_oneof![
        Just("a"),
        Just("e"),
        Just("g"),
        Just("k"),
        Just("queueId"),
        Just("topic"),
        Just("offset"),
        Just("committed"),
        Just("consumerGroup"),
        Just("commitOffset"),
        Just("boundaryType"),
        Just("isForce"),
        Just("msgId"),
        Just("timestamp"),
        Just("queueOffset"),
        Just("clientID"),
    ];
    prop::collection::vec((key, "[ -~]{0,8}|-?[0-9]{1,25}"), 0..16)
        .prop_map(|kv| kv.into_iter().collect::<ExtFields>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn send_v2_round_trips_in_a_to_n_order(h in send_v2()) {
        let ext = h.to_ext();
        let keys: Vec<&str> = ext.iter().map(|(k, _)| k).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        prop_assert_eq!(&keys, &sorted);
        prop_assert_eq!(&keys[..8], &["a", "b", "c", "d", "e", "f", "g", "h"][..]);
        prop_assert_eq!(SendMessageRequestHeaderV2::read_from(&ext).unwrap(), h.clone());
        let v1 = SendMessageRequestHeader::from(h.clone());
        prop_assert_eq!(SendMessageRequestHeaderV2::from(SendMessageRequestHeader::read_from(&v1.to_ext()).unwrap()), h.clone());
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            prop_assert_eq!(through_frame(RequestCode::SEND_MESSAGE_V2, &h, ty), h.clone());
        }
    }

    #[test]
    fn pull_round_trips_through_both_serializations(h in pull()) {
        prop_assert_eq!(PullMessageRequestHeader::read_from(&h.to_ext()).unwrap(), h.clone());
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            prop_assert_eq!(through_frame(RequestCode::PULL_MESSAGE, &h, ty), h.clone());
        }
    }

    /// Decoding never panics, whatever the ext map holds.
    #[test]
    fn decoding_junk_never_panics(ext in junk_ext()) {
        let _ = SendMessageRequestHeaderV2::read_from(&ext);
        let _ = SendMessageRequestHeader::read_from(&ext);
        let _ = SendMessageResponseHeader::read_from(&ext);
        let _ = PullMessageRequestHeader::read_from(&ext);
        let _ = PullMessageResponseHeader::read_from(&ext);
        let _ = GetMaxOffsetRequestHeader::read_from(&ext);
        let _ = SearchOffsetRequestHeader::read_from(&ext);
        let _ = QueryConsumerOffsetResponseHeader::read_from(&ext);
        let _ = ConsumerSendMsgBackRequestHeader::read_from(&ext);
        let _ = EndTransactionRequestHeader::read_from(&ext);
        let _ = CheckTransactionStateRequestHeader::read_from(&ext);
        let _ = ResetOffsetRequestHeader::read_from(&ext);
        let _ = UnregisterClientRequestHeader::read_from(&ext);
        let _ = ViewMessageRequestHeader::read_from(&ext);
    }

    #[test]
    fn reset_offset_body_round_trips(table in prop::collection::hash_map(mq(), any::<i64>(), 0..8)) {
        let body = ResetOffsetBody { offset_table: table };
        let json = body.to_json();
        prop_assert_eq!(ResetOffsetBody::from_json(&json).unwrap(), body.clone());
        // also the array forms other writers use
        let cpp: Vec<serde_json::Value> = body.offset_table.iter().map(|(m, o)| serde_json::json!(
            {"brokerName": m.broker_name, "queueId": m.queue_id, "topic": m.topic, "offset": o})).collect();
        let cpp = serde_json::to_vec(&serde_json::json!({"offsetTable": cpp})).unwrap();
        prop_assert_eq!(ResetOffsetBody::from_json(&cpp).unwrap(), body.clone());
        let gson: Vec<serde_json::Value> = body.offset_table.iter().map(|(m, o)| serde_json::json!([m, o])).collect();
        let gson = serde_json::to_vec(&serde_json::json!({"offsetTable": gson})).unwrap();
        prop_assert_eq!(ResetOffsetBody::from_json(&gson).unwrap(), body);
    }

    #[test]
    fn consumer_running_info_round_trips(
        table in prop::collection::btree_map(mq(), (any::<i64>(), any::<bool>()), 0..6),
        props in prop::collection::btree_map("[ -~]{0,8}", "[^\u{0}]{0,8}", 0..4),
    ) {
        let info = ConsumerRunningInfo {
            properties: props,
            mq_table: table
                .into_iter()
                .map(|(m, (off, locked))| (m, ProcessQueueInfo { commit_offset: off, locked, ..Default::default() }))
                .collect(),
            ..Default::default()
        };
        prop_assert_eq!(ConsumerRunningInfo::from_json(&info.to_json()).unwrap(), info);
    }

    /// Tag expressions: tags trimmed, non-empty, unique; codes are exactly their Java hashes.
    #[test]
    fn tag_expression_invariants(tags in prop::collection::vec("[ a-zA-Z0-9|\u{e9}\u{1F680}]{0,6}", 0..8)) {
        let expr = tags.join("||");
        let Ok(s) = SubscriptionData::from_expression("T", &expr, ExpressionType::Tag) else {
            prop_assert!(expr.split("||").all(str::is_empty));
            return Ok(());
        };
        prop_assert_eq!(&s.sub_string, if expr.is_empty() || expr == "*" { "*" } else { expr.as_str() });
        let unique: HashSet<&String> = s.tags_set.iter().collect();
        prop_assert_eq!(unique.len(), s.tags_set.len());
        for t in &s.tags_set {
            prop_assert!(!t.is_empty() && t.trim_matches(|c: char| c <= ' ') == t);
            prop_assert!(s.matches_tag(Some(t)));
        }
        let want: HashSet<i32> = s.tags_set.iter().map(|t| java_string_hash(t)).collect();
        let got: HashSet<i32> = s.code_set.iter().copied().collect();
        prop_assert_eq!(got.len(), s.code_set.len());
        prop_assert_eq!(got, want);
        let back = SubscriptionData::from_json(&s.to_json()).unwrap();
        prop_assert_eq!(back, s);
    }
}

#[test]
fn status_body_and_consumer_list() {
    let status = GetConsumerStatusBody {
        message_queue_table: HashMap::from([(MessageQueue::new("t", "b", 0), 5)]),
        ..Default::default()
    };
    assert_eq!(
        GetConsumerStatusBody::from_json(&status.to_json()).unwrap(),
        status
    );
    let list = ConsumerListBody {
        consumer_id_list: vec!["a".into()],
    };
    assert_eq!(ConsumerListBody::from_json(&list.to_json()).unwrap(), list);
}
