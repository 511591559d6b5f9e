//! The foundation against the real Apache RocketMQ cluster (NameServer + broker-a + broker-b) that
//! rmq-testkit starts from Maven Central artifacts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::{ClientConfig, ErrorKind, RemotingClient};
use rmq_protocol::header::{
    PullMessageRequestHeader, PullMessageResponseHeader, SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
};
use rmq_protocol::message::{
    decode_messages, encode_properties, sysflag, Message, MessageQueue, UniqueIdGenerator,
};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use rmq_testkit::Cluster;

fn cluster() -> &'static Cluster {
    Cluster::shared()
}

fn admin() -> Admin {
    Admin::connect(ClientConfig::new(cluster().namesrv_addr())).unwrap()
}

async fn topic_with_queues(prefix: &str, queues: i32) -> String {
    let topic = rmq_testkit::unique_name(prefix);
    admin()
        .create_topic_in_cluster(cluster().cluster_name(), &TopicSpec::new(&topic, queues))
        .await
        .unwrap();
    topic
}

#[tokio::test]
async fn created_topic_routes_sixteen_queues_over_two_brokers() {
    let topic = topic_with_queues("route16", 8).await;
    let route = admin().topic_route(&topic).await.unwrap();
    assert_eq!(route.data.queue_datas.len(), 2);
    assert_eq!(route.publish_queues.len(), 16);
    assert_eq!(route.subscribe_queues.len(), 16);
    let mut brokers: Vec<&str> = route
        .data
        .broker_datas
        .iter()
        .map(|b| b.broker_name.as_str())
        .collect();
    brokers.sort();
    assert_eq!(brokers, ["broker-a", "broker-b"]);
    for b in &route.data.broker_datas {
        assert_eq!(
            b.master_addr(),
            Some(cluster().broker_addr(&b.broker_name).unwrap().as_str())
        );
    }
    // Java ordering of publish queues: by broker name, then queue id.
    assert_eq!(route.publish_queues[0], MessageQueue::new(&topic, "broker-a", 0));
    assert_eq!(route.publish_queues[8], MessageQueue::new(&topic, "broker-b", 0));
}

#[tokio::test]
async fn unknown_topic_is_its_own_error_kind() {
    let err = admin()
        .topic_route(&rmq_testkit::unique_name("nosuch"))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::TopicNotExist { .. }), "{err:?}");
    assert_eq!(err.response_code(), Some(ResponseCode::TOPIC_NOT_EXIST));
}

#[tokio::test]
async fn cluster_info_lists_both_brokers() {
    let info = admin().cluster_info().await.unwrap();
    let mut names = info.cluster_addr_table[cluster().cluster_name()].clone();
    names.sort();
    assert_eq!(names, ["broker-a", "broker-b"]);
}

/// A hand-built SEND_MESSAGE_V2 stores a message; PULL_MESSAGE returns it identical, with the requests'
/// headers serialized as JSON and as ROCKETMQ binary.
#[tokio::test]
async fn hand_built_send_then_pull_round_trips_in_both_serializations() {
    let topic = topic_with_queues("sendpull", 4).await;
    let admin = admin();
    let route = admin.topic_route(&topic).await.unwrap();
    let ids = UniqueIdGenerator::new("127.0.0.1".parse().unwrap());
    for (i, st) in [SerializeType::Json, SerializeType::RocketMq]
        .into_iter()
        .enumerate()
    {
        let remoting = RemotingClient::new(Default::default(), None, None, st);
        let mq = MessageQueue::new(&topic, "broker-b", i as i32);
        let addr = route.master_addr(&mq.broker_name).unwrap().to_owned();
        let mut msg = Message::new(&topic, format!("body {st:?} — ünïcödé ✓ 你好").into_bytes())
            .with_tags("TagA")
            .with_keys(["k1", "k2"]);
        msg.put_user_property("color", "红色 red").unwrap();
        msg.put_user_property("emoji", "🚀").unwrap();
        msg.set_unique_key(ids.next_id());
        let header = SendMessageRequestHeaderV2 {
            producer_group: "fdn_producer".into(),
            topic: topic.clone(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: mq.queue_id,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            flag: 7,
            properties: Some(encode_properties(&msg.properties).unwrap()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: None,
            batch: Some(false),
            broker_name: Some(mq.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2, &header).with_body(msg.body.clone());
        let resp = remoting.invoke(&addr, cmd, Duration::from_secs(5)).await.unwrap();
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{:?}", resp.remark);
        let sent: SendMessageResponseHeader = resp.decode_header().unwrap();
        assert_eq!(sent.queue_id, mq.queue_id);
        assert_eq!(sent.queue_offset, 0);

        let pull = PullMessageRequestHeader {
            consumer_group: rmq_testkit::unique_name("fdn_group"),
            topic: topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: 0,
            max_msg_nums: 32,
            sys_flag: sysflag::pull::SUBSCRIPTION,
            commit_offset: 0,
            suspend_timeout_millis: 0,
            subscription: Some("*".into()),
            sub_version: 0,
            expression_type: Some("TAG".into()),
            bname: Some(mq.broker_name.clone()),
            ..Default::default()
        };
        let resp = remoting
            .invoke(
                &addr,
                RemotingCommand::request(RequestCode::PULL_MESSAGE, &pull),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{:?}", resp.remark);
        let ph: PullMessageResponseHeader = resp.decode_header().unwrap();
        assert_eq!(ph.next_begin_offset, 1);
        assert_eq!(ph.max_offset, 1);
        let got = decode_messages(&resp.body).unwrap();
        assert_eq!(got.len(), 1);
        let m = &got[0];
        assert_eq!(m.body, msg.body);
        assert_eq!(m.topic, topic);
        assert_eq!(m.flag, 7);
        assert_eq!(m.queue_id, mq.queue_id);
        assert_eq!(m.queue_offset, 0);
        assert_eq!(m.born_timestamp, 1_700_000_000_000);
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.keys(), vec!["k1", "k2"]);
        assert_eq!(m.user_property("color"), Some("红色 red"));
        assert_eq!(m.user_property("emoji"), Some("🚀"));
        assert_eq!(m.unique_key(), msg.unique_key());
        assert_eq!(m.msg_id(), msg.unique_key().unwrap());
        // The broker's offset message id names the stored message.
        assert_eq!(m.offset_msg_id(), sent.msg_id);
        // Every property we sent is there unchanged (the broker adds its own, e.g. CLUSTER).
        for (k, v) in msg.properties.iter() {
            assert_eq!(m.properties.get(k), Some(v), "property {k}");
        }
    }
}

#[tokio::test]
async fn queue_and_consumer_offsets_round_trip() {
    let topic = topic_with_queues("offsets", 2).await;
    let admin = admin();
    let mq = MessageQueue::new(&topic, "broker-a", 1);
    assert_eq!(admin.max_offset(&mq).await.unwrap(), 0);
    assert_eq!(admin.min_offset(&mq).await.unwrap(), 0);
    let group = rmq_testkit::unique_name("offset_group");
    admin
        .create_subscription_group(cluster().cluster_name(), &group)
        .await
        .unwrap();
    assert_eq!(admin.query_consumer_offset(&group, &mq).await.unwrap(), None);
    admin.update_consumer_offset(&group, &mq, 42).await.unwrap();
    assert_eq!(admin.query_consumer_offset(&group, &mq).await.unwrap(), Some(42));
    admin.update_consumer_offset(&group, &mq, 7).await.unwrap();
    assert_eq!(admin.query_consumer_offset(&group, &mq).await.unwrap(), Some(7));
    let ts = admin.offset_for_timestamp(&mq, 0).await.unwrap();
    assert_eq!(ts, 0);
}

#[tokio::test]
async fn offsets_of_unknown_topic_fail_cleanly() {
    let admin = admin();
    let mq = MessageQueue::new(rmq_testkit::unique_name("ghost"), "broker-a", 0);
    let err = admin.max_offset(&mq).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::TopicNotExist { .. }), "{err:?}");
}

#[tokio::test]
async fn name_server_list_fails_over_past_a_dead_address() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    // The dead server first, twice over: whichever one the client starts with, it must get past it.
    let list = format!("{dead};{dead};{}", cluster().namesrv_addr());
    let admin = Admin::connect(ClientConfig::new(list)).unwrap();
    for _ in 0..5 {
        let info = admin.cluster_info().await.unwrap();
        assert!(info.cluster_addr_table.contains_key(cluster().cluster_name()));
    }
}

#[tokio::test]
async fn route_table_notifies_changes_and_topics_can_be_deleted() {
    let topic = topic_with_queues("routechg", 2).await;
    let admin = admin();
    let before = admin.topic_route(&topic).await.unwrap();
    assert_eq!(before.publish_queues.len(), 4);
    let mut changes = admin.routes().subscribe();
    changes.borrow_and_update();
    // Grow the topic to 6 queues per broker: the next refresh publishes a new snapshot and notifies.
    admin
        .create_topic_in_cluster(cluster().cluster_name(), &TopicSpec::new(&topic, 6))
        .await
        .unwrap();
    admin.routes().refresh_all().await;
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .unwrap()
        .unwrap();
    let after = changes.borrow().topics[&topic].clone();
    assert_eq!(after.publish_queues.len(), 12);

    admin
        .delete_topic(cluster().cluster_name(), &topic)
        .await
        .unwrap();
    let err = admin.topic_route(&topic).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::TopicNotExist { .. }), "{err:?}");
}
