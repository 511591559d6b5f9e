//! Producer fail-over against a real cluster of its own (this binary pauses and kills broker-a).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::producer::Producer;
use rmq_client::{ClientConfig, ErrorKind, RemotingClient};
use rmq_protocol::header::PullMessageRequestHeader;
use rmq_protocol::message::{sysflag, Message, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode};
use rmq_testkit::{Cluster, ClusterOptions};

#[tokio::test]
async fn paused_then_killed_broker() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(ClusterOptions::default()))
        .await
        .unwrap()
        .unwrap();
    let ns = cluster.namesrv_addr();
    let admin = Admin::connect(ClientConfig::new(&ns)).unwrap();
    let topic = rmq_testkit::unique_name("failover");
    admin
        .create_topic_in_cluster(cluster.cluster_name(), &TopicSpec::new(&topic, 4))
        .await
        .unwrap();

    // --- broker-a paused (SIGSTOP): a send to it times out at the send timeout; the next avoids it.
    let send_timeout = Duration::from_secs(3);
    let p = Producer::builder(rmq_testkit::unique_name("fo"))
        .name_server(&ns)
        .send_timeout(send_timeout)
        .start()
        .await
        .unwrap();
    // Warm the brokers up (JIT, mapped files) with one producer; measure with a fresh one, whose
    // fault-tolerance table has not seen the slow first sends of a cold broker.
    for i in 0..8 {
        p.send(Message::new(&topic, format!("warm-{i}"))).await.unwrap();
    }
    p.shutdown().await;
    let p = Producer::builder(rmq_testkit::unique_name("fo"))
        .name_server(&ns)
        .send_timeout(send_timeout)
        .start()
        .await
        .unwrap();
    p.publish_queues(&topic).await.unwrap();
    cluster.pause_broker("broker-a").unwrap();
    let mut timed_out = None;
    // Round robin walks the publish queues in order (4 of broker-a, then 4 of broker-b): within 8
    // sends one reaches broker-a.
    for i in 0..8 {
        let started = Instant::now();
        match p.send(Message::new(&topic, format!("paused-{i}"))).await {
            Ok(r) => assert_eq!(r.queue.broker_name, "broker-b"),
            Err(e) => {
                timed_out = Some((e, started.elapsed()));
                break;
            }
        }
    }
    let (err, took) = timed_out.expect("no send went to the paused broker");
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took >= send_timeout - Duration::from_millis(100) && took < send_timeout + Duration::from_millis(900),
        "took {took:?}"
    );
    for i in 0..20 {
        let started = Instant::now();
        let r = p.send(Message::new(&topic, format!("after-{i}"))).await.unwrap();
        assert_eq!(
            r.queue.broker_name, "broker-b",
            "send {i} went back to the paused broker"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    cluster.resume_broker("broker-a").unwrap();
    p.shutdown().await;

    // --- broker-a killed (-9) mid-request: a pending long-poll pull fails within 1 s of the socket
    // closing, and sync sends fail over to broker-b within the retry budget.
    let addr_a = cluster.broker_addr("broker-a").unwrap();
    let remoting = RemotingClient::new(Default::default(), None, None, Default::default());
    // Pull at the queue's end so the broker parks the request (long polling) instead of answering.
    let end = admin
        .max_offset(&MessageQueue::new(&topic, "broker-a", 3))
        .await
        .unwrap();
    let pull = PullMessageRequestHeader {
        consumer_group: rmq_testkit::unique_name("fo_pull"),
        topic: topic.clone(),
        queue_id: 3,
        queue_offset: end,
        max_msg_nums: 32,
        sys_flag: sysflag::pull::SUSPEND | sysflag::pull::SUBSCRIPTION,
        suspend_timeout_millis: 20_000,
        subscription: Some("*".into()),
        expression_type: Some("TAG".into()),
        ..Default::default()
    };
    let pending = tokio::spawn({
        let remoting = remoting.clone();
        let addr_a = addr_a.clone();
        async move {
            let r = remoting
                .invoke(
                    &addr_a,
                    RemotingCommand::request(RequestCode::PULL_MESSAGE, &pull),
                    Duration::from_secs(30),
                )
                .await;
            (r, Instant::now())
        }
    });
    let p2 = Producer::builder(rmq_testkit::unique_name("fo2"))
        .name_server(&ns)
        .start()
        .await
        .unwrap();
    for i in 0..4 {
        p2.send(Message::new(&topic, format!("warm2-{i}"))).await.unwrap();
    }
    // Wait until the pull is parked at the broker (its connection is open and the request written).
    let connected = tokio::time::timeout(Duration::from_secs(5), async {
        while remoting.pool().get_if_connected(&addr_a).is_none() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(connected.is_ok());
    assert!(
        !pending.is_finished(),
        "the broker answered instead of holding the long poll"
    );
    let killed_at = Instant::now();
    cluster.kill_broker("broker-a").unwrap();
    let (result, failed_at) = pending.await.unwrap();
    let err = result.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Disconnected { .. }), "{err:?}");
    let after = failed_at - killed_at;
    assert!(
        after < Duration::from_secs(1),
        "pending pull failed {after:?} after the kill"
    );

    let mut to_b = 0;
    for i in 0..50 {
        let started = Instant::now();
        let r = p2
            .send(Message::new(&topic, format!("killed-{i}")))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(r.queue.broker_name, "broker-b");
        to_b += 1;
    }
    assert_eq!(to_b, 50);
    p2.shutdown().await;
}
