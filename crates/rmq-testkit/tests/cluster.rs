//! The shared cluster against the real Java tools: cluster list, topic routes, pause and kill.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use rmq_testkit::{unique_name, Cluster, Runtime, RuntimeSource};

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn shared_cluster_serves_admin_tools_and_survives_faults() {
    let started = Instant::now();
    let cluster = Cluster::shared();
    let start_time = started.elapsed();

    // The jars are on disk now: resolving again must not run Maven.
    let again = Runtime::resolve_uncached().unwrap();
    assert_eq!(again.source(), RuntimeSource::Cache, "second resolve ran Maven");

    let names: Vec<&str> = cluster.brokers().iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["broker-a", "broker-b"]);

    let list = cluster
        .mqadmin(&["clusterList", "-n", &cluster.namesrv_addr()])
        .unwrap();
    for broker in cluster.brokers() {
        assert!(
            list.contains(&broker.name) && list.contains(&broker.addr),
            "{broker:?} missing in:\n{list}"
        );
    }
    assert!(list.contains(cluster.cluster_name()));

    let topic = unique_name("TestKitTopic");
    cluster.create_topic(&topic, 8).unwrap();
    let route = cluster.mqadmin(&["topicRoute", "-t", &topic]).unwrap();
    for broker in cluster.brokers() {
        assert!(
            route.contains(&format!("\"brokerName\":\"{}\"", broker.name)),
            "no {} in:\n{route}",
            broker.name
        );
    }
    assert_eq!(route.matches("\"writeQueueNums\":8").count(), 2, "{route}");

    // Pause: the broker accepts connections but answers nothing until resumed.
    cluster.ping_broker("broker-b", Duration::from_secs(5)).unwrap();
    cluster.pause_broker("broker-b").unwrap();
    assert!(cluster
        .ping_broker("broker-b", Duration::from_millis(500))
        .is_err());
    cluster.resume_broker("broker-b").unwrap();
    cluster.ping_broker("broker-b", Duration::from_secs(5)).unwrap();

    // Kill: the name server drops the broker when its connection closes; restart brings it back.
    cluster.kill_broker("broker-a").unwrap();
    assert!(!cluster.is_broker_running("broker-a").unwrap());
    assert!(cluster.ping_broker("broker-a", Duration::from_secs(1)).is_err());
    wait_until(
        "the name server to drop broker-a",
        Duration::from_secs(30),
        || cluster.registered_brokers().unwrap() == ["broker-b"],
    );
    let restart = Instant::now();
    cluster.restart_broker("broker-a").unwrap();
    let restart_time = restart.elapsed();
    assert_eq!(cluster.registered_brokers().unwrap(), ["broker-a", "broker-b"]);
    cluster.ping_broker("broker-a", Duration::from_secs(5)).unwrap();
    assert!(cluster.logs_tail().contains("boot success"));

    let stats = cluster.process_stats();
    assert_eq!(stats.len(), 3);
    // Shown with `--nocapture`; the numbers for the notes.
    eprintln!("cluster start {start_time:?}, broker restart {restart_time:?}, processes {stats:?}");
}

#[tokio::test]
async fn shared_cluster_is_usable_from_tokio_tests() {
    let cluster = Cluster::shared();
    assert_eq!(cluster.brokers().len(), 2);
    assert!(cluster.namesrv_addr().starts_with("127.0.0.1:"));
    assert!(cluster.broker_addr("broker-z").is_err());
}
