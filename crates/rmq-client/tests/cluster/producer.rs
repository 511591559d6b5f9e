//! The producer against the real cluster: every send mode, batches, size limits, ordering by key,
//! and transactions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use rmq_client::producer::{
    LocalTransactionState, Producer, SelectByHash, SendResult, SendStatus, TransactionListener,
    TransactionProducer,
};
use rmq_client::ErrorKind;
use rmq_protocol::message::{Message, MessageExt, MessageQueue};

async fn producer() -> Producer {
    Producer::builder(unique("pg"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap()
}

fn sample(topic: &str, i: usize) -> Message {
    let mut m =
        Message::new(topic, format!("body-{i}-ünï-😀").into_bytes()).with_tags(format!("tag{}", i % 3));
    m.set_keys([format!("key-{i}"), "shared".to_owned()]);
    m.put_user_property("idx", i.to_string()).unwrap();
    m.put_user_property("城市", "上海").unwrap();
    m
}

fn assert_same(stored: &MessageExt, sent: &Message, result: &SendResult) {
    assert_eq!(stored.body, sent.body);
    assert_eq!(stored.tags(), sent.tags());
    assert_eq!(stored.keys(), sent.keys());
    assert_eq!(stored.user_property("idx"), sent.user_property("idx"));
    assert_eq!(stored.user_property("城市"), Some("上海"));
    assert_eq!(stored.msg_id(), result.msg_id.as_str());
    assert_eq!(stored.offset_msg_id(), result.offset_msg_id);
    assert_eq!(stored.queue_id, result.queue.queue_id);
    assert_eq!(stored.queue_offset, result.queue_offset);
}

#[tokio::test]
async fn each_send_mode_stores_identical_messages() {
    let topic = topic_with_queues("modes", 4).await;
    let p = producer().await;
    let mut sent: Vec<(Message, SendResult)> = Vec::new();

    // send
    for i in 0..8 {
        let m = sample(&topic, i);
        let r = p.send(m.clone()).await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        sent.push((m, r));
    }
    // send to a given queue
    let mq = MessageQueue::new(&topic, "broker-b", 2);
    let m = sample(&topic, 100);
    let r = p.send_to_queue(m.clone(), &mq).await.unwrap();
    assert_eq!(r.queue, mq);
    sent.push((m, r));
    // callback style: every callback fires exactly once
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 200..210 {
        let m = sample(&topic, i);
        let tx = tx.clone();
        let keep = m.clone();
        p.send_with_callback(m, move |r| tx.send((keep, r)).unwrap())
            .unwrap();
    }
    drop(tx);
    while let Some((m, r)) = rx.recv().await {
        sent.push((m, r.unwrap()));
    }
    assert_eq!(sent.len(), 19);
    // oneway: no result; found by its key below
    let mut oneway = sample(&topic, 300);
    oneway.set_unique_key("ONEWAY-UNIQUE-KEY-300");
    p.send_oneway(oneway.clone()).await.unwrap();

    let found = eventually(Duration::from_secs(10), || async {
        pull_topic(&topic)
            .await
            .iter()
            .any(|m| m.unique_key() == Some("ONEWAY-UNIQUE-KEY-300"))
    })
    .await;
    assert!(found, "oneway message never stored");
    let stored = pull_topic(&topic).await;
    assert_eq!(stored.len(), 20);
    let by_id: HashMap<String, &MessageExt> = stored.iter().map(|m| (m.msg_id().into_owned(), m)).collect();
    for (m, r) in &sent {
        assert_same(by_id[&r.msg_id], m, r);
    }
    let ow = by_id["ONEWAY-UNIQUE-KEY-300"];
    assert_eq!(ow.body, oneway.body);
    p.shutdown().await;
}

#[tokio::test]
async fn large_bodies_are_compressed_and_come_back_whole() {
    let topic = topic_with_queues("compress", 1).await;
    let p = producer().await;
    let body: Vec<u8> = (0..20_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    let r = p.send(Message::new(&topic, body.clone())).await.unwrap();
    let stored = pull_topic(&topic).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, body);
    assert_eq!(stored[0].msg_id(), r.msg_id.as_str());
    p.shutdown().await;
}

#[tokio::test]
async fn batch_of_100_round_trips_with_properties() {
    let topic = topic_with_queues("batch", 2).await;
    let p = producer().await;
    let msgs: Vec<Message> = (0..100).map(|i| sample(&topic, i)).collect();
    let r = p.send_batch(msgs.clone()).await.unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    let ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(ids.len(), 100);
    let stored = pull_queue(&r.queue, 0).await;
    assert_eq!(stored.len(), 100);
    for (i, (s, m)) in stored.iter().zip(&msgs).enumerate() {
        assert_eq!(s.body, m.body);
        assert_eq!(s.keys(), m.keys());
        assert_eq!(s.user_property("idx"), Some(i.to_string().as_str()));
        assert_eq!(s.msg_id(), ids[i]);
        assert_eq!(s.queue_offset, r.queue_offset + i as i64);
    }
    // Batch validation happens before any network call.
    let err = p
        .send_batch(vec![sample(&topic, 1), sample("other_topic", 2)])
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)));
    let err = p
        .send_batch(vec![sample(&topic, 1).with_delay_time_level(3)])
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)));
    p.shutdown().await;
}

#[tokio::test]
async fn four_mib_accepted_one_byte_more_rejected_before_the_network() {
    let topic = topic_with_queues("maxsize", 1).await;
    let p = producer().await;
    // Incompressible data, so the broker really receives 4 MiB.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let body: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let r = p.send(Message::new(&topic, body.clone())).await.unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    let stored = pull_topic(&topic).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].body == body);

    let mut over = body;
    over.push(0);
    let err = p.send(Message::new(&topic, over)).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err:?}");
    // Other validation errors are typed too.
    for bad in [
        Message::new(&topic, ""),
        Message::new("bad topic", "x"),
        Message::new("TBW102", "x"),
    ] {
        let err = p.send(bad).await.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err:?}");
    }
    p.shutdown().await;
}

#[tokio::test]
async fn hash_selector_keeps_each_key_on_one_queue_in_order() {
    let topic = topic_with_queues("ordered", 8).await;
    let p = producer().await;
    let selector = SelectByHash::java_compatible();
    let keys = 50;
    let per_key = 200;
    let mut handles = Vec::new();
    for k in 0..keys {
        let p = p.clone();
        let topic = topic.clone();
        handles.push(tokio::spawn(async move {
            let mut queues = Vec::new();
            for seq in 0..per_key {
                let mut m = Message::new(&topic, format!("{k}:{seq}").into_bytes());
                m.set_sharding_key(format!("key-{k}"));
                let r = p.send_with_selector(m, &selector).await.unwrap();
                queues.push(r.queue);
            }
            queues
        }));
    }
    let publish = p.publish_queues(&topic).await.unwrap();
    for (k, h) in handles.into_iter().enumerate() {
        let qs = h.await.unwrap();
        assert!(qs.iter().all(|q| *q == qs[0]), "key {k} spread over queues");
        // The queue Java's SelectMessageQueueByHash would pick for the same key.
        let want = &publish[rmq_client::producer::java_hash_index(&format!("key-{k}"), publish.len())];
        assert_eq!(&qs[0], want);
    }
    let mut last: BTreeMap<u32, i64> = BTreeMap::new();
    let stored = pull_topic(&topic).await;
    assert_eq!(stored.len(), keys * per_key);
    for m in &stored {
        let s = String::from_utf8(m.body.to_vec()).unwrap();
        let (k, seq) = s.split_once(':').unwrap();
        let (k, seq): (u32, i64) = (k.parse().unwrap(), seq.parse().unwrap());
        let prev = last.insert(k, seq).unwrap_or(-1);
        assert_eq!(seq, prev + 1, "key {k} out of order");
    }
    p.shutdown().await;
}

#[derive(Default)]
struct ScriptedListener {
    decide: Mutex<HashMap<String, LocalTransactionState>>,
    check_answer: Mutex<HashMap<String, LocalTransactionState>>,
    checks: Mutex<Vec<String>>,
}

impl TransactionListener for ScriptedListener {
    fn execute(&self, msg: &Message, _half: &SendResult) -> LocalTransactionState {
        let body = String::from_utf8_lossy(&msg.body).into_owned();
        self.decide
            .lock()
            .unwrap()
            .get(&body)
            .copied()
            .unwrap_or(LocalTransactionState::Unknown)
    }
    fn check(&self, msg: &MessageExt) -> LocalTransactionState {
        let body = String::from_utf8_lossy(&msg.body).into_owned();
        self.checks.lock().unwrap().push(body.clone());
        self.check_answer
            .lock()
            .unwrap()
            .get(&body)
            .copied()
            .unwrap_or(LocalTransactionState::Unknown)
    }
}

#[tokio::test]
async fn transactions_commit_rollback_and_check() {
    let topic = topic_with_queues("tx", 2).await;
    let listener = Arc::new(ScriptedListener::default());
    {
        let mut d = listener.decide.lock().unwrap();
        d.insert("commit".into(), LocalTransactionState::Commit);
        d.insert("rollback".into(), LocalTransactionState::Rollback);
        d.insert("unknown".into(), LocalTransactionState::Unknown);
        listener
            .check_answer
            .lock()
            .unwrap()
            .insert("unknown".into(), LocalTransactionState::Commit);
    }
    let builder = Producer::builder(unique("txg")).name_server(cluster().namesrv_addr());
    let tp = TransactionProducer::start(builder, listener.clone())
        .await
        .unwrap();
    for body in ["commit", "rollback", "unknown"] {
        let r = tp.send_in_transaction(Message::new(&topic, body)).await.unwrap();
        assert_eq!(r.send_result.status, SendStatus::SendOk);
    }
    // Committed: delivered. Unknown: delivered once the broker's check is answered with commit.
    let delivered = eventually(Duration::from_secs(90), || async {
        let bodies: Vec<String> = pull_topic(&topic)
            .await
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect();
        bodies.contains(&"commit".to_owned()) && bodies.contains(&"unknown".to_owned())
    })
    .await;
    assert!(
        delivered,
        "committed/checked messages not delivered; checks: {:?}",
        listener.checks.lock().unwrap()
    );
    assert!(listener.checks.lock().unwrap().contains(&"unknown".to_owned()));
    let bodies: Vec<String> = pull_topic(&topic)
        .await
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    // Rolled back: never delivered.
    assert!(!bodies.contains(&"rollback".to_owned()), "{bodies:?}");
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    tp.shutdown().await;
}

#[tokio::test]
async fn shutdown_completes_every_pending_callback_once() {
    let topic = topic_with_queues("pending", 2).await;
    let p = producer().await;
    let fired = Arc::new(Mutex::new(Vec::new()));
    for i in 0..200 {
        let fired = fired.clone();
        p.send_with_callback(sample(&topic, i), move |r| {
            fired.lock().unwrap().push((i, r.is_ok()))
        })
        .unwrap();
    }
    p.shutdown().await;
    let fired = fired.lock().unwrap().clone();
    assert_eq!(fired.len(), 200);
    let mut seen: Vec<usize> = fired.iter().map(|(i, _)| *i).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 200, "a callback fired twice");
    // After shutdown nothing more is accepted.
    let err = p.send(sample(&topic, 1)).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Shutdown));
}

#[tokio::test]
async fn request_reply_round_trip() {
    let topic = topic_with_queues("rr", 1).await;
    let requester = producer().await;
    let responder = producer().await;
    let req_topic = topic.clone();
    let answering = tokio::spawn(async move {
        // The responder reads the request straight from the queue and answers it.
        let admin = admin();
        let mq = MessageQueue::new(&req_topic, "broker-a", 0);
        let mq_b = MessageQueue::new(&req_topic, "broker-b", 0);
        loop {
            for q in [&mq, &mq_b] {
                let (msgs, _) = admin.read_queue("rr_reader", q, 0, 1).await.unwrap();
                if let Some(req) = msgs.into_iter().next() {
                    let body = format!("re: {}", String::from_utf8_lossy(&req.body));
                    return responder.reply(&req, body.into_bytes()).await.unwrap();
                }
            }
            tokio::task::yield_now().await;
        }
    });
    let reply = requester
        .request(Message::new(&topic, "ping"), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"re: ping");
    assert_eq!(reply.property("MSG_TYPE"), Some("reply"));
    let sent = answering.await.unwrap();
    assert!(sent.queue.topic.ends_with("_REPLY_TOPIC"));

    // Nobody answers: a typed timeout.
    let err = requester
        .request(Message::new(&topic, "unanswered"), Duration::from_millis(800))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    requester.shutdown().await;
}

#[tokio::test]
async fn delayed_messages_arrive_after_their_delay() {
    let topic = topic_with_queues("delay", 1).await;
    let p = producer().await;
    // Level 2 = 5 s; a delivery timestamp 3 s ahead (5.x timer wheel).
    let t0 = std::time::Instant::now();
    p.send(Message::new(&topic, "by-level").with_delay_time_level(2))
        .await
        .unwrap();
    let mut timed = Message::new(&topic, "by-timestamp");
    timed.set_deliver_time_ms(rmq_client_now_ms() + 3_000);
    p.send(timed).await.unwrap();
    assert!(
        pull_topic(&topic).await.is_empty(),
        "delayed messages visible at once"
    );
    let arrival = Arc::new(Mutex::new(HashMap::new()));
    let ok = eventually(Duration::from_secs(30), || {
        let (topic, arrival) = (topic.clone(), arrival.clone());
        async move {
            let stored = pull_topic(&topic).await;
            let mut a = arrival.lock().unwrap();
            for m in stored {
                a.entry(String::from_utf8_lossy(&m.body).into_owned())
                    .or_insert_with(|| t0.elapsed());
            }
            a.len() == 2
        }
    })
    .await;
    let arrival = arrival.lock().unwrap().clone();
    assert!(ok, "delayed messages never arrived: {arrival:?}");
    assert!(arrival["by-level"] >= Duration::from_millis(4_500), "{arrival:?}");
    assert!(
        arrival["by-timestamp"] >= Duration::from_millis(2_500),
        "{arrival:?}"
    );
    p.shutdown().await;
}

fn rmq_client_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn first_send_to_unknown_topic_auto_creates_it() {
    let topic = unique("autocreate");
    let p = producer().await;
    let r = p.send(Message::new(&topic, "hello")).await.unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    let route = admin().topic_route(&topic).await.unwrap();
    assert!(!route.publish_queues.is_empty());
    let stored = pull_topic(&topic).await;
    assert_eq!(stored.len(), 1);
    p.shutdown().await;
}

/// GET_PRODUCER_CONNECTION_LIST (204): the client ids a broker has registered for a producer group.
async fn producer_connections(broker_addr: &str, group: &str) -> Vec<String> {
    let mut ext = rmq_protocol::ExtFields::new();
    ext.insert("producerGroup", group.to_owned());
    let cmd = rmq_protocol::RemotingCommand::new_request(rmq_protocol::RequestCode(204), ext);
    let remoting = rmq_client::RemotingClient::new(Default::default(), None, None, Default::default());
    let resp = remoting
        .invoke(broker_addr, cmd, Duration::from_secs(5))
        .await
        .unwrap();
    if resp.response_code() != rmq_protocol::ResponseCode::SUCCESS {
        return Vec::new(); // "the producer group not exist"
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    v["connectionSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clientId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn heartbeat_registers_the_group_and_shutdown_unregisters_it() {
    let topic = topic_with_queues("reg", 1).await;
    let group = unique("regp");
    let p = Producer::builder(&group)
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    p.send(Message::new(&topic, "x")).await.unwrap();
    let addr = cluster().broker_addr("broker-a").unwrap();
    let client_id = p.client_id().to_owned();
    let registered = eventually(Duration::from_secs(10), || {
        let (addr, group, id) = (addr.clone(), group.clone(), client_id.clone());
        async move { producer_connections(&addr, &group).await.contains(&id) }
    })
    .await;
    assert!(registered, "producer group never registered");
    p.shutdown().await;
    assert!(
        producer_connections(&addr, &group).await.is_empty(),
        "still registered after shutdown"
    );
}
