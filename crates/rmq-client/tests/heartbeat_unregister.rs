//! Shutdown order against a scripted fake broker (it can delay heartbeat answers on demand, a real
//! one cannot): a heartbeat round in flight when `shutdown()` is called is answered before
//! UNREGISTER_CLIENT is sent, and no heartbeat follows it. A heartbeat the broker handles after the
//! unregister would register the client again until its connection closed, and the other members
//! of its consumer groups would count it in their allocation meanwhile (Java serialises both with
//! `MQClientInstance.lockHeartbeat`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_client::config::ClientConfig;
use rmq_client::producer::Producer;
use rmq_protocol::message::Message;
use rmq_protocol::{RequestCode, ResponseCode};
use support::fake_broker::{ok, response, route_json, FakeBroker, Reply};

/// How long the fake broker takes to answer a heartbeat.
const HEARTBEAT_ANSWER: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_heartbeat_in_flight_is_answered_before_the_unregister() {
    // (request code, when the fake read it)
    let log: Arc<Mutex<Vec<(i32, Instant)>>> = Arc::default();
    let broker = {
        let log = log.clone();
        FakeBroker::start(move |req, _| {
            log.lock().unwrap().push((req.code, Instant::now()));
            if req.code == RequestCode::HEART_BEAT.0 {
                vec![Reply::After(HEARTBEAT_ANSWER, Box::new(Reply::Command(ok(req))))]
            } else if req.code == RequestCode::SEND_MESSAGE_V2.0 {
                let ext = [
                    ("msgId", "AC11000100002A9F0000000000000000"),
                    ("queueId", "0"),
                    ("queueOffset", "0"),
                ];
                vec![Reply::Command(response(req, ResponseCode::SUCCESS, &ext, b""))]
            } else {
                vec![Reply::Command(ok(req))]
            }
        })
        .await
    };
    let namesrv = {
        let addr = broker.addr();
        FakeBroker::start(move |req, _| {
            if req.code == RequestCode::GET_ROUTEINFO_BY_TOPIC.0 {
                let body = route_json("fakeBroker", &addr, 1);
                vec![Reply::Command(response(req, ResponseCode::SUCCESS, &[], &body))]
            } else {
                vec![Reply::Command(ok(req))]
            }
        })
        .await
    };
    let mut client = ClientConfig::new(namesrv.addr());
    // Rounds back to back: one is (almost always) in flight when shutdown() is called.
    client.heartbeat_interval = Duration::from_millis(10);
    let producer = Producer::builder("heartbeat_unregister_pg")
        .client_config(client)
        .send_timeout(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    // The send makes the broker known, so heartbeats go to it.
    producer
        .send(Message::new("HeartbeatUnregisterTopic", &b"x"[..]))
        .await
        .unwrap();
    let heartbeats = || {
        let log = log.lock().unwrap();
        log.iter()
            .filter(|(c, _)| *c == RequestCode::HEART_BEAT.0)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while heartbeats() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(heartbeats() >= 2, "no heartbeat rounds reached the broker");
    producer.shutdown().await;

    let log = log.lock().unwrap().clone();
    let unregister = log
        .iter()
        .find(|(c, _)| *c == RequestCode::UNREGISTER_CLIENT.0)
        .map(|(_, at)| *at)
        .expect("no UNREGISTER_CLIENT");
    for (code, at) in &log {
        if *code != RequestCode::HEART_BEAT.0 {
            continue;
        }
        assert!(*at < unregister, "a heartbeat was sent after the unregister");
        // Read at `at`, answered HEARTBEAT_ANSWER later: the unregister must come after the answer.
        let gap = unregister.saturating_duration_since(*at);
        assert!(
            gap >= HEARTBEAT_ANSWER,
            "the unregister was sent {gap:?} after a heartbeat the broker answers after {HEARTBEAT_ANSWER:?}"
        );
    }
}
