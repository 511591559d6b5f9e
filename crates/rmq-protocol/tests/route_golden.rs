//! Route JSON produced by the real Java library (fixtures generated with rocketmq 5.5.0, and responses
//! captured from a real 5.5.0 name server) parsed by our route types.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use rmq_protocol::frame;
use rmq_protocol::route::{BrokerData, ClusterInfo, QueueData, TopicRouteData};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("missing fixture {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("no {key}"))).unwrap()
}

fn broker_json(b: &BrokerData) -> Value {
    let addrs: serde_json::Map<String, Value> = b
        .broker_addrs
        .iter()
        .map(|(id, a)| (id.to_string(), json!(a)))
        .collect();
    json!({
        "cluster": b.cluster,
        "broker_name": b.broker_name,
        "broker_addrs": addrs,
        "zone_name": b.zone_name,
        "enable_acting_master": b.enable_acting_master,
    })
}

fn queue_json(q: &QueueData) -> Value {
    json!({
        "broker_name": q.broker_name,
        "read_queue_nums": q.read_queue_nums,
        "write_queue_nums": q.write_queue_nums,
        "perm": q.perm,
        "topic_sys_flag": q.topic_sys_flag,
    })
}

fn route_json(r: &TopicRouteData) -> Value {
    json!({
        "order_topic_conf": r.order_topic_conf,
        "queue_datas": r.queue_datas.iter().map(queue_json).collect::<Vec<_>>(),
        "broker_datas": r.broker_datas.iter().map(broker_json).collect::<Vec<_>>(),
        "filter_server_table": r.filter_server_table,
    })
}

#[test]
fn topic_route_default_and_standard_forms() {
    let mut parsed = Vec::new();
    for name in ["route_default", "route_standard"] {
        let f = fixture(name);
        let bytes = hex_field(&f, "hex");
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).is_ok(),
            f["strict_json_valid"].as_bool().unwrap(),
            "{name}: fixture's strictness claim"
        );
        let route = TopicRouteData::from_json(&bytes).unwrap();
        assert_eq!(route_json(&route), f["expected"], "{name}");
        parsed.push(route);
    }
    assert_eq!(parsed[0], parsed[1]);
    let r = &parsed[0];
    assert_eq!(r.master_addr("broker-a"), Some("192.168.0.20:10911"));
    assert_eq!(r.publish_queues("TopicTest").len(), 12);
    assert_eq!(r.subscribe_queues("TopicTest").len(), 12);
}

#[test]
fn cluster_info_default_form() {
    let f = fixture("cluster_info");
    let info = ClusterInfo::from_json(&hex_field(&f, "hex")).unwrap();
    let table: serde_json::Map<String, Value> = info
        .broker_addr_table
        .iter()
        .map(|(k, b)| (k.clone(), broker_json(b)))
        .collect();
    let got = json!({
        "broker_addr_table": table,
        "cluster_addr_table": info.cluster_addr_table,
    });
    assert_eq!(got, f["expected"]);
    assert_eq!(
        info.master_addrs("DefaultCluster"),
        ["192.168.0.21:10911", "192.168.0.20:10911"]
    );
}

fn captured_body(name: &str) -> Vec<u8> {
    let f = fixture(name);
    let mut buf = BytesMut::from(&hex_field(&f, "hex")[..]);
    let cmd = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    assert_eq!(cmd.code, 0, "{name}: SUCCESS");
    assert_eq!(
        hex::encode(&cmd.body),
        f["expected"]["body_hex"].as_str().unwrap()
    );
    cmd.body.to_vec()
}

#[test]
fn captured_name_server_routes_for_old_and_new_request_versions() {
    let old = captured_body("broker_route_v317");
    let new = captured_body("broker_route_v513");
    assert!(
        serde_json::from_slice::<Value>(&old).is_err(),
        "v317 answer has bare keys"
    );
    assert!(
        serde_json::from_slice::<Value>(&new).is_ok(),
        "v513 answer is standard"
    );
    let a = TopicRouteData::from_json(&old).unwrap();
    let b = TopicRouteData::from_json(&new).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.master_addr("broker-fx"), Some("127.0.0.1:30911"));
    let qs = a.publish_queues("FixtureCaptureTopic");
    assert_eq!(qs.len(), 4);
    assert!(qs.iter().all(|q| q.broker_name == "broker-fx"));
}

#[test]
fn captured_cluster_info() {
    let info = ClusterInfo::from_json(&captured_body("broker_cluster_info")).unwrap();
    assert_eq!(info.cluster_addr_table["FixtureCluster"], ["broker-fx"]);
    assert_eq!(info.master_addrs("FixtureCluster"), ["127.0.0.1:30911"]);
    let b = &info.broker_addr_table["broker-fx"];
    assert_eq!(
        (b.cluster.as_str(), b.enable_acting_master),
        ("FixtureCluster", false)
    );
}
