//! Route and cluster JSON in both name-server forms, the bare-key pre-pass, and robustness properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use proptest::prelude::*;
use rmq_protocol::header::{parse_fastjson, ConsumerRunningInfo, ResetOffsetBody};
use rmq_protocol::message::MessageQueue;
use rmq_protocol::route::{quote_bare_integer_keys, ClusterInfo, TopicList, TopicRouteData};
use serde_json::Value;

/// Hand-written after reference §6.1/§6.2: a 4.x name server's route (bare keys, orderTopicConf absent).
const ROUTE_FASTJSON: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},{"brokerAddrs":{0:"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster","zoneName":"zone-1","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-b","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},{"brokerName":"broker-a","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":2}]}"#;

/// Reference §6.5 illustration, filled in.
const CLUSTER_FASTJSON: &str = r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},"broker-b":{"brokerAddrs":{0:"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}}"#;

#[test]
fn route_bare_and_standard_keys_agree() {
    let bare = TopicRouteData::from_json(ROUTE_FASTJSON.as_bytes()).unwrap();
    let standard_text = ROUTE_FASTJSON.replace("{0:", "{\"0\":").replace(",1:", ",\"1\":");
    assert!(serde_json::from_str::<Value>(&standard_text).is_ok());
    let standard = TopicRouteData::from_json(standard_text.as_bytes()).unwrap();
    assert_eq!(bare, standard);
    assert_eq!(bare.broker_datas[0].broker_addrs[&1], "10.0.0.2:10911");
    assert_eq!(bare.broker_datas[1].zone_name.as_deref(), Some("zone-1"));
    // our own output is standard JSON and parses back to the same route
    let out = bare.to_json();
    assert!(serde_json::from_slice::<Value>(&out).is_ok());
    assert_eq!(TopicRouteData::from_json(&out).unwrap(), bare);

    let publish: Vec<_> = bare
        .publish_queues("T")
        .into_iter()
        .map(|q| (q.broker_name, q.queue_id))
        .collect();
    // sorted by broker name, writeQueueNums each
    assert_eq!(
        publish,
        [
            ("broker-a".to_string(), 0),
            ("broker-a".to_string(), 1),
            ("broker-b".to_string(), 0),
            ("broker-b".to_string(), 1),
            ("broker-b".to_string(), 2),
            ("broker-b".to_string(), 3)
        ]
    );
    assert_eq!(bare.subscribe_queues("T").len(), 12);
    assert_eq!(
        bare.subscribe_queues("T")[0],
        MessageQueue::new("T", "broker-a", 0)
    );
}

#[test]
fn cluster_info_bare_keys() {
    let c = ClusterInfo::from_json(CLUSTER_FASTJSON.as_bytes()).unwrap();
    assert_eq!(
        c.master_addrs("DefaultCluster"),
        ["10.0.0.1:10911", "10.0.0.3:10911"]
    );
    assert_eq!(c.broker_addr_table["broker-a"].broker_addrs.len(), 2);
    assert_eq!(ClusterInfo::from_json(&c.to_json()).unwrap(), c);
}

#[test]
fn negative_and_large_bare_keys() {
    let r = TopicRouteData::from_json(
        br#"{"brokerDatas":[{"brokerAddrs":{-1:"x:1", 9223372036854775807 :"y:2"},"brokerName":"b"}]}"#,
    )
    .unwrap();
    let addrs = &r.broker_datas[0].broker_addrs;
    assert_eq!(addrs[&-1], "x:1");
    assert_eq!(addrs[&i64::MAX], "y:2");
    assert_eq!(r.broker_datas[0].master_addr(), None);
}

#[test]
fn string_contents_are_never_rewritten() {
    let tricky = br#"{"topicList":["{0:\"x\"}","a,1:b","\\",",2:"],"brokerAddr":"{3:4}"}"#;
    assert!(matches!(quote_bare_integer_keys(tricky), Cow::Borrowed(_)));
    let t = TopicList::from_json(tricky).unwrap();
    assert_eq!(t.topic_list, ["{0:\"x\"}", "a,1:b", "\\", ",2:"]);
    assert_eq!(t.broker_addr.as_deref(), Some("{3:4}"));
}

#[test]
fn garbage_is_an_error() {
    for bad in [
        &b""[..],
        b"null",
        b"[]",
        b"{",
        b"{0:}",
        b"{\"queueDatas\":[{]}",
        b"\xff",
    ] {
        assert!(
            TopicRouteData::from_json(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(ClusterInfo::from_json(b"{\"clusterAddrTable\":{\"c\":\"x\"}}").is_err());
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::String),
        "[{}:,\"\\\\0-9-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[0-9a-z{}:\"-]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The pre-pass is the identity (and borrows) on any standard JSON serde_json produces.
    #[test]
    fn pre_pass_is_identity_on_standard_json(v in json_value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_vec_pretty(&v).unwrap() } else { serde_json::to_vec(&v).unwrap() };
        let out = quote_bare_integer_keys(&text);
        prop_assert!(matches!(out, Cow::Borrowed(_)));
        prop_assert_eq!(&*out, &text[..]);
    }

    /// Writing integer-keyed maps fastjson-style (bare keys) parses to the same map.
    #[test]
    fn bare_integer_keys_parse_like_quoted(addrs in prop::collection::btree_map(any::<i64>(), "[ -~]{0,20}", 0..6)) {
        let mut bare = String::from("{\"brokerDatas\":[{\"brokerAddrs\":{");
        for (i, (id, addr)) in addrs.iter().enumerate() {
            if i > 0 { bare.push(','); }
            bare.push_str(&format!("{id}:{}", serde_json::to_string(addr).unwrap()));
        }
        bare.push_str("},\"brokerName\":\"b\"}]}");
        let r = TopicRouteData::from_json(bare.as_bytes()).unwrap();
        prop_assert_eq!(&r.broker_datas[0].broker_addrs, &addrs);
        let fixed = quote_bare_integer_keys(bare.as_bytes());
        prop_assert!(serde_json::from_slice::<Value>(&fixed).is_ok());
    }

    /// No parser here panics on arbitrary bytes.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = quote_bare_integer_keys(&bytes);
        let _ = TopicRouteData::from_json(&bytes);
        let _ = ClusterInfo::from_json(&bytes);
        let _ = TopicList::from_json(&bytes);
        let _ = parse_fastjson(&bytes);
        let _ = ResetOffsetBody::from_json(&bytes);
        let _ = ConsumerRunningInfo::from_json(&bytes);
    }

    /// Nor on JSON-ish noise, which gets much further into the parsers than random bytes.
    #[test]
    fn json_like_noise_never_panics(s in "[\\[\\]{}:,\"\\\\0-9a-z\\- .eEu]{0,200}") {
        let b = s.as_bytes();
        let _ = quote_bare_integer_keys(b);
        let _ = TopicRouteData::from_json(b);
        let _ = ClusterInfo::from_json(b);
        let _ = parse_fastjson(b);
        let _ = ResetOffsetBody::from_json(b);
        let _ = ConsumerRunningInfo::from_json(b);
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let deep = format!("{}{}", "{0:".repeat(100_000), "}".repeat(100_000));
    assert!(TopicRouteData::from_json(deep.as_bytes()).is_err());
    assert!(parse_fastjson(deep.as_bytes()).is_err());
    let deep_arr = "[".repeat(1_000_000);
    assert!(ResetOffsetBody::from_json(deep_arr.as_bytes()).is_err());
}
