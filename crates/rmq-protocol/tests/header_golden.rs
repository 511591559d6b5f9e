//! Typed headers and JSON bodies against output of the real Java library (rocketmq 5.5.0 fixtures) and
//! frames captured from a real 5.5.0 broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Debug;

use bytes::BytesMut;
use rmq_protocol::header::{
    parse_fastjson, ConsumerRunningInfo, ExpressionType, GetRouteInfoRequestHeader, HeartbeatData,
    HeartbeatRequestHeader, NotifyConsumerIdsChangedRequestHeader, PullMessageRequestHeader,
    PullMessageResponseHeader, ResetOffsetBody, SendMessageRequestHeader, SendMessageRequestHeaderV2,
    SendMessageResponseHeader, SubscriptionData, UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::message::{java_string_hash, MessageQueue};
use rmq_protocol::{frame, CommandHeader, RemotingCommand, SerializeType};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("missing fixture {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("no {key}"))).unwrap()
}

fn command(name: &str, key: &str) -> RemotingCommand {
    let mut buf = BytesMut::from(&hex_field(&fixture(name), key)[..]);
    frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap()
}

fn ext_map(cmd: &RemotingCommand) -> BTreeMap<String, String> {
    cmd.ext_fields
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Decode `H` from the frame's ext fields, re-encode it, and require exactly Java's key/value set. For
/// fast-codes headers in ROCKETMQ frames, the key order must match too.
fn check_header<H: CommandHeader + Debug>(name: &str, key: &str, fast_codes: bool) -> H {
    let cmd = command(name, key);
    let h: H = cmd.decode_header().unwrap_or_else(|e| panic!("{name}: {e}"));
    let ours = h.to_ext();
    let ours_map: BTreeMap<String, String> = ours.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    assert_eq!(
        ours_map,
        ext_map(&cmd),
        "{name}: re-encoded ext differs from Java's"
    );
    if fast_codes && cmd.serialize_type == SerializeType::RocketMq {
        let java_order: Vec<&str> = cmd.ext_fields.iter().map(|(k, _)| k).collect();
        let our_order: Vec<&str> = ours.iter().map(|(k, _)| k).collect();
        assert_eq!(our_order, java_order, "{name}: fast-codes order");
    }
    h
}

#[test]
fn send_v2_request_both_serializations() {
    for name in ["frame_send_message_v2_json", "frame_send_message_v2_rocketmq"] {
        let h: SendMessageRequestHeaderV2 = check_header(name, "hex", true);
        assert_eq!(h.producer_group, "please_rename_unique_group_name");
        assert_eq!((h.queue_id, h.born_timestamp), (3, 1_700_000_000_123));
        assert_eq!((h.batch, h.max_reconsume_times), (Some(false), None));
        assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
        // v1 conversion carries everything, brokerName as bname
        let v1 = SendMessageRequestHeader::from(h.clone());
        assert_eq!(v1.bname.as_deref(), Some("broker-a"));
        assert_eq!(SendMessageRequestHeaderV2::from(v1), h);
    }
    for name in [
        "frame_send_batch_message_json",
        "frame_send_batch_message_rocketmq",
    ] {
        let h: SendMessageRequestHeaderV2 = check_header(name, "hex", true);
        assert_eq!(h.batch, Some(true));
    }
}

#[test]
fn pull_request_and_responses() {
    for name in ["frame_pull_message_json", "frame_pull_message_rocketmq"] {
        let h: PullMessageRequestHeader = check_header(name, "hex", true);
        assert_eq!((h.sys_flag, h.queue_offset, h.commit_offset), (7, 1234, 1200));
        assert_eq!(h.subscription.as_deref(), Some("TagA || TagB"));
        assert_eq!(h.bname.as_deref(), Some("broker-a"));
    }
    for name in [
        "frame_pull_message_response_json",
        "frame_pull_message_response_rocketmq",
    ] {
        let h: PullMessageResponseHeader = check_header(name, "hex", true);
        assert_eq!((h.next_begin_offset, h.max_offset), (103, 103));
    }
    // captured from a real broker: request as sent, response with 5.x topicSysFlag/groupSysFlag
    let req: PullMessageRequestHeader = check_header("broker_pull_response", "request_hex", true);
    assert_eq!(req.max_msg_bytes, Some(i32::MAX));
    let resp: PullMessageResponseHeader = check_header("broker_pull_response", "hex", true);
    assert_eq!(
        (resp.next_begin_offset, resp.topic_sys_flag, resp.group_sys_flag),
        (4, Some(0), Some(0))
    );
}

#[test]
fn send_responses() {
    for name in [
        "frame_send_message_response_json",
        "frame_send_message_response_rocketmq",
        "broker_send_response_json_request",
        "broker_send_response_rocketmq_request",
        "broker_send_response_compressed",
    ] {
        let h: SendMessageResponseHeader = check_header(name, "hex", false);
        assert_eq!(h.msg_region.as_deref(), Some("DefaultRegion"), "{name}");
        assert!(h.is_trace_on());
        assert_eq!(h.msg_id.len(), 32);
    }
    let _: SendMessageRequestHeaderV2 =
        check_header("broker_send_response_json_request", "request_hex", true);
}

#[test]
fn offset_route_heartbeat_notify() {
    for name in [
        "frame_oneway_update_offset_json",
        "frame_oneway_update_offset_rocketmq",
    ] {
        let h: UpdateConsumerOffsetRequestHeader = check_header(name, "hex", false);
        assert_eq!((h.queue_id, h.commit_offset), (2, 4321));
    }
    for name in [
        "frame_get_route_rust_language_json",
        "frame_get_route_rust_language_rocketmq",
    ] {
        let h: GetRouteInfoRequestHeader = check_header(name, "hex", false);
        assert_eq!(h.accept_standard_json_only, Some(true));
    }
    for name in ["frame_heartbeat_json", "frame_heartbeat_rocketmq"] {
        let _: HeartbeatRequestHeader = check_header(name, "hex", false);
        let body = command(name, "hex").body;
        let hb = HeartbeatData::from_json(&body).unwrap();
        assert_eq!(
            hb.to_json(),
            body,
            "{name}: heartbeat body re-encodes byte for byte"
        );
    }
    let f = fixture("broker_heartbeat_response");
    let mut buf = BytesMut::from(&hex_field(&f["interleaved_server_requests"][0], "hex")[..]);
    let notify = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    let h: NotifyConsumerIdsChangedRequestHeader = notify.decode_header().unwrap();
    assert_eq!(h.consumer_group, "please_rename_unique_group_name_4");
    assert_eq!(h.to_ext(), notify.ext_fields);
}

fn subscription_expected(s: &SubscriptionData) -> Value {
    json!({
        "topic": s.topic,
        "sub_string": s.sub_string,
        "tags_set": s.tags_set,
        "code_set": s.code_set,
        "sub_version": s.sub_version,
        "expression_type": s.expression_type.as_str(),
    })
}

#[test]
fn heartbeat_body_matches_java_byte_for_byte() {
    let f = fixture("heartbeat_body");
    let java = hex_field(&f, "hex");
    let hb = HeartbeatData::from_json(&java).unwrap();
    let e = &f["expected"];
    assert_eq!(hb.client_id, e["client_id"].as_str().unwrap());
    let producers: Vec<&str> = hb
        .producer_data_set
        .iter()
        .map(|p| p.group_name.as_str())
        .collect();
    assert_eq!(json!(producers), e["producer_groups"]);
    assert_eq!(hb.consumer_data_set.len(), 1);
    let c = &hb.consumer_data_set[0];
    let ce = &e["consumers"][0];
    assert_eq!(c.group_name, ce["group_name"].as_str().unwrap());
    assert_eq!(json!(c.consume_type), ce["consume_type"]);
    assert_eq!(json!(c.message_model), ce["message_model"]);
    assert_eq!(json!(c.consume_from_where), ce["consume_from_where"]);
    let subs: Vec<Value> = c
        .subscription_data_set
        .iter()
        .map(subscription_expected)
        .collect();
    assert_eq!(json!(subs), ce["subscriptions"]);

    // build the same heartbeat from scratch with our API
    let mut built = hb.clone();
    for s in &mut built.consumer_data_set[0].subscription_data_set {
        let mut fresh =
            SubscriptionData::from_expression(s.topic.clone(), &s.sub_string, s.expression_type).unwrap();
        fresh.sub_version = 1_700_000_000_000;
        *s = fresh;
    }
    assert_eq!(built, hb);
    assert_eq!(built.to_json(), java);
}

#[test]
fn subscription_data_matches_java_byte_for_byte() {
    for name in [
        "subscription_all",
        "subscription_empty_parts",
        "subscription_sql92",
        "subscription_tags_3",
    ] {
        let f = fixture(name);
        let e = &f["expected"];
        let ty: ExpressionType = serde_json::from_value(e["expression_type"].clone()).unwrap();
        let mut s = SubscriptionData::from_expression(
            e["topic"].as_str().unwrap(),
            e["sub_string"].as_str().unwrap(),
            ty,
        )
        .unwrap();
        s.sub_version = e["sub_version"].as_i64().unwrap();
        assert_eq!(subscription_expected(&s), {
            let mut want = e.clone();
            want.as_object_mut()
                .unwrap()
                .retain(|k, _| k != "class_filter_mode" && k != "java_roundtrip_equal");
            want
        });
        let java = hex_field(&f, "hex");
        assert_eq!(
            String::from_utf8(s.to_json()).unwrap(),
            String::from_utf8(java.clone()).unwrap(),
            "{name}"
        );
        assert_eq!(SubscriptionData::from_json(&java).unwrap(), s);
    }
}

#[test]
fn tag_hash_codes_match_java() {
    let f = fixture("tag_hash_codes");
    for t in f["expected"]["tags"].as_array().unwrap() {
        let tag = t["tag"].as_str().unwrap();
        let want = t["hash_code"].as_i64().unwrap() as i32;
        assert_eq!(java_string_hash(tag), want, "{tag:?}");
        // the same code lands in codeSet when the tag is subscribed on its own
        let plain = !tag.is_empty() && tag != "*" && !tag.contains("||") && tag.trim() == tag;
        if plain {
            let s = SubscriptionData::from_expression("T", tag, ExpressionType::Tag).unwrap();
            assert_eq!(s.code_set, [want], "{tag:?}");
        }
    }
}

#[test]
fn reset_offset_body_object_keys() {
    let f = fixture("reset_offset_body");
    let body = ResetOffsetBody::from_json(&hex_field(&f, "hex")).unwrap();
    let entries = f["expected"]["offset_table"].as_array().unwrap();
    assert_eq!(body.offset_table.len(), entries.len());
    for e in entries {
        let mq = MessageQueue::new(
            e["topic"].as_str().unwrap(),
            e["broker_name"].as_str().unwrap(),
            e["queue_id"].as_i64().unwrap() as i32,
        );
        assert_eq!(body.offset_table[&mq], e["value"].as_i64().unwrap());
    }
    // our fastjson-form output is semantically Java's
    let ours = parse_fastjson(&body.to_json()).unwrap();
    assert_eq!(ours, parse_fastjson(&hex_field(&f, "hex")).unwrap());
}

#[test]
fn consumer_running_info_object_keys() {
    let f = fixture("consumer_running_info");
    let java = hex_field(&f, "hex");
    let info = ConsumerRunningInfo::from_json(&java).unwrap();
    let e = &f["expected"];
    assert_eq!(json!(info.properties), e["properties"]);
    let keys: Vec<Value> = info
        .mq_table
        .iter()
        .map(|(mq, pq)| {
            json!({"topic": mq.topic, "broker_name": mq.broker_name, "queue_id": mq.queue_id, "value": pq.commit_offset})
        })
        .collect();
    assert_eq!(json!(keys), e["mq_table_keys_in_java_order"]);
    let topics: Vec<&String> = info.status_table.keys().collect();
    assert_eq!(json!(topics), e["status_table_topics"]);
    assert!(info.mq_table.values().nth(1).unwrap().locked);
    assert_eq!(info.status_table["TopicTest"].consume_ok_tps, 9.75);
    // what we would send back is semantically identical to Java's output
    assert_eq!(
        parse_fastjson(&info.to_json()).unwrap(),
        parse_fastjson(&java).unwrap()
    );
}
