//! SQL92 subscriptions on a broker started without `enablePropertyFilter`: every consumer's `start()`
//! fails with the broker's answer to CHECK_CLIENT_CONFIG (46) instead of running and receiving nothing,
//! and leaves nothing registered, also for a topic that has no route yet; TAG subscriptions on the
//! same broker start as before.
//! (An invalid SQL92 expression on a filter-enabled broker is in `push_consumer.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeOrderlyContext, ConsumeOrderlyResult, ConsumeResult,
    ConsumerConfig, LitePullConsumer, MessageSelector, OrderlyConsumer,
};
use rmq_client::{ClientConfig, Error, ErrorKind, RemotingClient};
use rmq_protocol::header::{ConsumerListBody, GetConsumerListByGroupRequestHeader};
use rmq_protocol::message::MessageExt;
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use rmq_testkit::{Cluster, ClusterOptions};

/// One broker, property filtering off (the kit turns it on by default).
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let started = Instant::now();
        let options = ClusterOptions {
            brokers: 1,
            ..Default::default()
        }
        .broker_property("enablePropertyFilter", "false");
        let cluster = Cluster::start(options).unwrap();
        eprintln!("cluster without property filter ready in {:?}", started.elapsed());
        cluster
    })
}

async fn new_topic(prefix: &str) -> String {
    let topic = rmq_testkit::unique_name(prefix);
    let admin = Admin::connect(ClientConfig::new(cluster().namesrv_addr())).unwrap();
    admin
        .create_topic_in_cluster(cluster().cluster_name(), &TopicSpec::new(&topic, 2))
        .await
        .unwrap();
    topic
}

fn config(group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c
}

/// The broker's refusal: `SYSTEM_ERROR` and a remark naming the filter type.
fn assert_filter_refused(e: &Error) {
    match e.kind() {
        ErrorKind::Broker { code, remark } => {
            assert_eq!(*code, ResponseCode::SYSTEM_ERROR, "{e}");
            let remark = remark.as_deref().unwrap_or_default();
            assert!(
                remark.contains("does not support consumer to filter message by SQL92"),
                "{e}"
            );
        }
        other => panic!("expected the broker's refusal, got {other:?} ({e})"),
    }
}

/// Whether the broker knows no live consumer of `group`.
async fn no_consumers(group: &str) -> bool {
    let addr = cluster().brokers()[0].addr.clone();
    let remoting = RemotingClient::new(Default::default(), None, None, Default::default());
    let h = GetConsumerListByGroupRequestHeader {
        consumer_group: group.to_owned(),
    };
    let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP, &h);
    let resp = remoting.invoke(&addr, cmd, Duration::from_secs(5)).await.unwrap();
    remoting.close();
    // SYSTEM_ERROR "no consumer for this group" when the group was never (or is no longer) registered.
    resp.response_code() != ResponseCode::SUCCESS
        || ConsumerListBody::from_json(&resp.body)
            .unwrap()
            .consumer_id_list
            .is_empty()
}

async fn wait_no_consumers(group: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !no_consumers(group).await {
        assert!(
            Instant::now() < deadline,
            "group {group} is still registered after a failed start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql92_subscription_fails_start_on_a_broker_without_property_filter() {
    let topic = new_topic("nofilter").await;
    let sql = MessageSelector::sql("color = 'red'");

    let group = rmq_testkit::unique_name("nf_concurrent");
    let started = Instant::now();
    let e = ConcurrentConsumer::builder(config(&group))
        .subscribe(&topic, sql.clone())
        .listener(|_: &[MessageExt], _: &mut ConsumeContext| ConsumeResult::Success)
        .start()
        .await
        .unwrap_err();
    eprintln!("concurrent consumer refused in {:?}: {e}", started.elapsed());
    assert_filter_refused(&e);
    wait_no_consumers(&group).await;

    // A topic with no route yet (never created): the brokers the name server knows are asked.
    let group = rmq_testkit::unique_name("nf_noroute");
    let e = ConcurrentConsumer::builder(config(&group))
        .subscribe(rmq_testkit::unique_name("absent"), sql.clone())
        .listener(|_: &[MessageExt], _: &mut ConsumeContext| ConsumeResult::Success)
        .start()
        .await
        .unwrap_err();
    assert_filter_refused(&e);
    wait_no_consumers(&group).await;

    let group = rmq_testkit::unique_name("nf_orderly");
    let e = OrderlyConsumer::builder(config(&group))
        .subscribe(&topic, sql.clone())
        .listener(|_: &[MessageExt], _: &mut ConsumeOrderlyContext| ConsumeOrderlyResult::Success)
        .start()
        .await
        .unwrap_err();
    assert_filter_refused(&e);
    wait_no_consumers(&group).await;

    let group = rmq_testkit::unique_name("nf_litepull");
    let e = LitePullConsumer::builder(config(&group))
        .subscribe(&topic, sql)
        .start()
        .await
        .unwrap_err();
    assert_filter_refused(&e);
    wait_no_consumers(&group).await;

    // TAG filtering needs no broker support: the same topic with a tag expression starts.
    let group = rmq_testkit::unique_name("nf_tag");
    let c = ConcurrentConsumer::builder(config(&group))
        .subscribe(&topic, "TagA || TagB")
        .listener(|_: &[MessageExt], _: &mut ConsumeContext| ConsumeResult::Success)
        .start()
        .await
        .unwrap();
    assert!(!no_consumers(&group).await, "a started consumer is registered");
    c.shutdown().await;
}
