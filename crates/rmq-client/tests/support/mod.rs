//! Helpers shared by the integration tests: a cluster handle, topic creation, and a raw reader that
//! pulls back everything stored in a topic with plain PULL_MESSAGE requests.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

pub mod fake_broker;
pub mod java;

use std::time::Duration;

use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::{ClientConfig, RemotingClient};
use rmq_protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::{decode_messages, sysflag, MessageExt, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use rmq_testkit::Cluster;

pub fn cluster() -> &'static Cluster {
    Cluster::shared()
}

pub fn admin() -> Admin {
    Admin::connect(ClientConfig::new(cluster().namesrv_addr())).unwrap()
}

pub fn unique(prefix: &str) -> String {
    rmq_testkit::unique_name(prefix)
}

/// A fresh topic with `queues` queues on every broker of the cluster.
pub async fn topic_with_queues(prefix: &str, queues: i32) -> String {
    let topic = unique(prefix);
    // Creating a topic writes the broker's config and registers with the name server; on a loaded
    // machine, right after the cluster started, that can outlast the 5 s admin timeout. Creation is
    // idempotent, so ask again (a setup step, not what the tests measure).
    let admin = admin();
    let spec = TopicSpec::new(&topic, queues);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match admin
            .create_topic_in_cluster(cluster().cluster_name(), &spec)
            .await
        {
            Ok(_) => break,
            Err(e) if e.is_timeout() && attempt < 3 => continue,
            Err(e) => panic!("creating topic {topic}: {e}"),
        }
    }
    topic
}

/// Every message stored in `mq` from `from`, read with raw PULL_MESSAGE requests (no consumer logic).
pub async fn pull_queue(mq: &MessageQueue, from: i64) -> Vec<MessageExt> {
    let admin = admin();
    let addr = admin
        .routes()
        .master_addr(&mq.broker_name, Some(&mq.topic))
        .await
        .unwrap();
    let remoting = RemotingClient::new(Default::default(), None, None, Default::default());
    let group = unique("raw_reader");
    let mut offset = from;
    let mut out = Vec::new();
    loop {
        let h = PullMessageRequestHeader {
            consumer_group: group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: offset,
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
        let cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE, &h);
        let resp = remoting
            .invoke(&addr, cmd, Duration::from_secs(10))
            .await
            .unwrap();
        let ph: PullMessageResponseHeader = resp.decode_header().unwrap();
        match resp.response_code() {
            ResponseCode::SUCCESS => {
                out.extend(decode_messages(&resp.body).unwrap());
                offset = ph.next_begin_offset;
            }
            ResponseCode::PULL_RETRY_IMMEDIATELY => offset = ph.next_begin_offset,
            _ => break,
        }
    }
    out
}

/// Every message stored in `topic`, queue by queue in the route's order.
pub async fn pull_topic(topic: &str) -> Vec<MessageExt> {
    let route = admin().topic_route(topic).await.unwrap();
    let mut out = Vec::new();
    for mq in &route.subscribe_queues {
        out.extend(pull_queue(mq, 0).await);
    }
    out
}

/// Poll `cond` every 100 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
