//! Push consumers as a group, against the real cluster (two brokers, topics of 16 queues): where a new
//! group starts (`consume_from_where`, compared with the Java client), the dead-letter queue after
//! `max_reconsume_times`, consumers joining and dying while messages flow, and a Rust and a Java
//! `DefaultMQPushConsumer` sharing one group.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]
// `support/mod.rs` declares its helpers `pub`, which `unreachable_pub` flags in every test that uses it.
#![allow(unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::java::JavaProcess;
use crate::support::*;
use rmq_client::consumer::config::{start_position, StartPosition};
use rmq_client::consumer::rebalance::allocate::AllocateStrategy;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig, MessageSelector,
};
use rmq_client::producer::Producer;
use rmq_protocol::header::{
    ConsumerListBody, GetConsumerListByGroupRequestHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
};
use rmq_protocol::message::{java_string_cmp, properties as prop, Message, MessageExt, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};

/// Offset persist interval of every consumer here (Rust and Java): 1 s instead of 5 s.
const PERSIST: Duration = Duration::from_secs(1);

fn config(group: &str, from: ConsumeFromWhere) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c.consume_from_where = from;
    c.persist_interval = PERSIST;
    c
}

/// One listener call's view of one message.
#[derive(Debug, Clone)]
struct Delivery {
    /// Which consumer of the test delivered it.
    who: usize,
    queue: MessageQueue,
    offset: i64,
    reconsume_times: i32,
    body: String,
    at: Instant,
}

type Log = Arc<Mutex<Vec<Delivery>>>;

/// A consumer of `topic` (all tags) whose listener records every delivery in `log` as `who`.
async fn start_logging(cfg: ConsumerConfig, topic: &str, who: usize, log: Log) -> ConcurrentConsumer {
    ConcurrentConsumer::builder(cfg)
        .subscribe(topic, MessageSelector::all())
        .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeContext| {
            let at = Instant::now();
            let mut log = log.lock().unwrap();
            for m in msgs {
                log.push(Delivery {
                    who,
                    queue: ctx.message_queue().clone(),
                    offset: m.queue_offset,
                    reconsume_times: m.reconsume_times,
                    body: String::from_utf8_lossy(&m.body).into_owned(),
                    at,
                });
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap()
}

/// A sent message: its body and where the broker stored it.
#[derive(Debug, Clone)]
struct Sent {
    body: String,
    queue: MessageQueue,
    offset: i64,
}

async fn producer() -> Producer {
    Producer::builder(unique("pgroup"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap()
}

/// Sends `<prefix>-0 .. <prefix>-(n-1)`, one at a time, to the queues of `queues` in turn.
async fn send_round_robin(p: &Producer, queues: &[MessageQueue], prefix: &str, n: usize) -> Vec<Sent> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let q = &queues[i % queues.len()];
        let body = format!("{prefix}-{i}");
        let r = p
            .send_to_queue(Message::new(&q.topic, body.clone()), q)
            .await
            .unwrap();
        out.push(Sent {
            body,
            queue: r.queue,
            offset: r.queue_offset,
        });
    }
    out
}

/// The queues of `topic`, sorted as the Java client sorts them for allocation.
async fn queues_of(topic: &str) -> Vec<MessageQueue> {
    let mut qs = admin().topic_route(topic).await.unwrap().subscribe_queues.clone();
    qs.sort();
    qs
}

/// Waits until `group` has a committed offset at the end of every queue of `queues`: everything stored
/// was consumed and acknowledged (a condition on the broker, not a sleep).
async fn wait_committed(group: &str, queues: &[MessageQueue], timeout: Duration) -> bool {
    let admin = admin();
    eventually(timeout, || async {
        for mq in queues {
            let max = admin.max_offset(mq).await.unwrap();
            let committed = admin.query_consumer_offset(group, mq).await.ok().flatten();
            if committed.unwrap_or(-1) < max {
                return false;
            }
        }
        true
    })
    .await
}

/// Waits until `group` has committed some offset for every queue of `queues` (a consumer persists the
/// start position of each queue it took, so this means every queue has been assigned and started).
async fn wait_started(group: &str, queues: &[MessageQueue], timeout: Duration) -> bool {
    let admin = admin();
    eventually(timeout, || async {
        for mq in queues {
            if admin
                .query_consumer_offset(group, mq)
                .await
                .ok()
                .flatten()
                .is_none()
            {
                return false;
            }
        }
        true
    })
    .await
}

/// What the broker answers a consumer's QUERY_CONSUMER_OFFSET (no `setZeroIfNotFound`, as both the Java
/// and our consumer send it): the offset, or `None` for QUERY_NOT_FOUND.
async fn broker_answer(group: &str, mq: &MessageQueue) -> Option<i64> {
    let admin = admin();
    let addr = admin
        .routes()
        .master_addr(&mq.broker_name, Some(&mq.topic))
        .await
        .unwrap();
    let h = QueryConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        set_zero_if_not_found: None,
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET, &h);
    let resp = admin
        .remoting()
        .invoke(&addr, cmd, Duration::from_secs(5))
        .await
        .unwrap();
    match resp.response_code() {
        ResponseCode::SUCCESS => Some(
            resp.decode_header::<QueryConsumerOffsetResponseHeader>()
                .unwrap()
                .offset,
        ),
        ResponseCode::QUERY_NOT_FOUND => None,
        code => panic!("QUERY_CONSUMER_OFFSET answered {code:?}: {:?}", resp.remark),
    }
}

/// The client ids the broker `addr` lists for `group`, sorted.
async fn consumer_list(group: &str, addr: &str) -> Vec<String> {
    let h = GetConsumerListByGroupRequestHeader {
        consumer_group: group.to_owned(),
    };
    let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP, &h);
    match admin()
        .remoting()
        .invoke_ok(addr, cmd, Duration::from_secs(5))
        .await
    {
        Ok(resp) => {
            let mut ids = ConsumerListBody::from_json(&resp.body).unwrap().consumer_id_list;
            ids.sort();
            ids
        }
        Err(_) => Vec::new(), // "no consumer for this group"
    }
}

/// Shuts the consumers down concurrently.
async fn shutdown_all(consumers: impl IntoIterator<Item = ConcurrentConsumer>) {
    let tasks: Vec<_> = consumers
        .into_iter()
        .map(|c| tokio::spawn(async move { c.shutdown().await }))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

fn bodies(log: &Log, who: usize) -> Vec<String> {
    let mut b: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|d| d.who == who)
        .map(|d| d.body.clone())
        .collect();
    b.sort();
    b
}

fn sorted<'a>(it: impl IntoIterator<Item = &'a Sent>) -> Vec<String> {
    let mut v: Vec<String> = it.into_iter().map(|s| s.body.clone()).collect();
    v.sort();
    v
}

fn millis(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// `broker-a:3` as the Java program prints queues.
fn short(mq: &MessageQueue) -> String {
    format!("{}:{}", mq.broker_name, mq.queue_id)
}

// ---------------------------------------------------------------------------------------------------
// consume_from_where
// ---------------------------------------------------------------------------------------------------

/// A brand-new group asks the broker for its offset (QUERY_CONSUMER_OFFSET without `setZeroIfNotFound`,
/// like Java). The 5.5.0 broker answers 0 — not "not found" — for a queue whose min offset is still 0
/// and whose first message is in the page cache (`ConsumerManageProcessor.queryConsumerOffset`), so on
/// a young topic every `consume_from_where` starts at 0 and the backlog is consumed, with the Java
/// client exactly as with ours (checked here with a real `DefaultMQPushConsumer` for LAST_OFFSET and
/// TIMESTAMP). The LAST/TIMESTAMP start positions apply only where the broker answers "not found": here
/// the four queues still empty when the groups start (they start at 0 too, but through GET_MAX_OFFSET
/// and SEARCH_OFFSET_BY_TIMESTAMP).
///
/// The expected set of every group is derived queue by queue from the broker's answer and Java's
/// start-position table; the broker's answer itself is asserted too, so a change of either shows.
/// A group that has committed offsets ignores `consume_from_where`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_from_where_applies_only_to_queues_without_an_offset() {
    let compile = tokio::task::spawn_blocking(crate::support::java::java_classes);
    let topic = topic_with_queues("cfw", 8).await;
    let queues = queues_of(&topic).await;
    assert_eq!(queues.len(), 16, "8 queues on each of the 2 brokers");
    let admin = admin();
    let p = producer().await;

    // Batch A, then a whole-second timestamp T strictly after A, then batch B stored at or after T;
    // both in the first 12 queues only, so that the last 4 are still empty when the groups start.
    let (filled, empty) = queues.split_at(12);
    let a = send_round_robin(&p, filled, "a", 24).await;
    let after_a = millis(SystemTime::now()) + 1;
    let t_ms = (after_a + 999) / 1000 * 1000;
    let now = millis(SystemTime::now());
    // Waiting for a wall-clock instant (the broker stamps messages with this host's clock).
    tokio::time::sleep(Duration::from_millis(u64::try_from(t_ms - now + 5).unwrap_or(0))).await;
    let b = send_round_robin(&p, filled, "b", 24).await;
    // Where LAST_OFFSET and TIMESTAMP would start each queue now (before batch C).
    let mut max_before_c = Vec::new();
    let mut at_t = Vec::new();
    for mq in &queues {
        max_before_c.push(admin.max_offset(mq).await.unwrap());
        at_t.push(admin.offset_for_timestamp(mq, t_ms).await.unwrap());
    }
    for (q, mq) in filled.iter().enumerate() {
        let stored = pull_queue(mq, 0).await;
        assert_eq!(stored.len(), 4, "{mq}: 2 of A and 2 of B");
        assert!(
            stored[..2].iter().all(|m| m.store_timestamp < t_ms),
            "{mq}: A before T"
        );
        assert!(
            stored[2..].iter().all(|m| m.store_timestamp >= t_ms),
            "{mq}: B at or after T"
        );
        assert_eq!((max_before_c[q], at_t[q]), (4, 2), "{mq}: T separates A and B");
    }
    for (q, mq) in empty.iter().enumerate() {
        assert_eq!((max_before_c[12 + q], at_t[12 + q]), (0, 0), "{mq} is empty");
    }
    let old: Vec<Sent> = a.iter().chain(&b).cloned().collect();

    // An existing group: consumes A and B, commits, stops.
    let existing = unique("gfw_existing");
    let log: Log = Default::default();
    const EXISTING: usize = 100;
    let c = start_logging(
        config(&existing, ConsumeFromWhere::ConsumeFromFirstOffset),
        &topic,
        EXISTING,
        log.clone(),
    )
    .await;
    assert!(
        wait_committed(&existing, &queues, Duration::from_secs(30)).await,
        "the existing group never committed A and B"
    );
    c.shutdown().await;
    assert_eq!(bodies(&log, EXISTING), sorted(&old));
    log.lock().unwrap().clear();

    // New groups, one per mode, plus two Java consumers; all started before batch C is sent.
    let modes = [
        ConsumeFromWhere::ConsumeFromLastOffset,
        ConsumeFromWhere::ConsumeFromFirstOffset,
        ConsumeFromWhere::ConsumeFromTimestamp,
        ConsumeFromWhere::ConsumeFromMinOffset,
        ConsumeFromWhere::ConsumeFromMaxOffset,
    ];
    let groups: Vec<String> = modes.iter().map(|_| unique("gfw")).collect();
    // What the broker will answer each new group, queue by queue.
    let mut answers: Vec<Vec<Option<i64>>> = Vec::new();
    for g in &groups {
        let mut per_queue = Vec::new();
        for mq in &queues {
            per_queue.push(broker_answer(g, mq).await);
        }
        answers.push(per_queue);
    }
    for a in &answers {
        let (on_filled, on_empty) = a.split_at(12);
        assert!(
            on_filled.iter().all(|a| *a == Some(0)) && on_empty.iter().all(Option::is_none),
            "the 5.5.0 broker answers a new group 0 for a queue whose first message is in memory, and \
             \"not found\" for an empty queue: {a:?}"
        );
    }

    compile.await.unwrap();
    let namesrv = cluster().namesrv_addr();
    let java_groups = [unique("gfw_java_last"), unique("gfw_java_ts")];
    let t_arg = t_ms.to_string();
    let mut java_last = JavaProcess::spawn(
        "JavaPushConsume",
        &[
            &namesrv,
            &topic,
            &java_groups[0],
            &unique("j"),
            "CONSUME_FROM_LAST_OFFSET",
        ],
    )
    .await;
    let mut java_ts = JavaProcess::spawn(
        "JavaPushConsume",
        &[
            &namesrv,
            &topic,
            &java_groups[1],
            &unique("j"),
            "CONSUME_FROM_TIMESTAMP",
            &t_arg,
        ],
    )
    .await;
    let mut consumers = Vec::new();
    for (i, (mode, g)) in modes.iter().zip(&groups).enumerate() {
        let mut cfg = config(g, *mode);
        cfg.consume_timestamp = Some(UNIX_EPOCH + Duration::from_millis(u64::try_from(t_ms).unwrap()));
        consumers.push(start_logging(cfg, &topic, i, log.clone()).await);
    }
    // Restarted with FIRST_OFFSET: its committed offsets win.
    let again = start_logging(
        config(&existing, ConsumeFromWhere::ConsumeFromFirstOffset),
        &topic,
        EXISTING,
        log.clone(),
    )
    .await;
    for g in &groups {
        assert!(
            wait_started(g, &queues, Duration::from_secs(30)).await,
            "{g} did not start every queue"
        );
    }
    for j in [&mut java_last, &mut java_ts] {
        j.wait_line("@@ASSIGN ", 0, Duration::from_secs(60), |l| {
            l.split(' ').count() == 16
        })
        .await;
    }

    let c_batch = send_round_robin(&p, &queues, "c", 32).await;
    p.shutdown().await;
    let everything: Vec<Sent> = old.iter().chain(&c_batch).cloned().collect();

    for g in groups.iter().chain(&java_groups).chain([&existing]) {
        assert!(
            wait_committed(g, &queues, Duration::from_secs(30)).await,
            "{g} did not consume to the end of every queue"
        );
    }
    consumers.push(again);
    let (java_last, java_ts, ()) = tokio::join!(
        java_last.stop(Duration::from_secs(30)),
        java_ts.stop(Duration::from_secs(30)),
        shutdown_all(consumers)
    );
    let java_seen: Vec<Vec<String>> = [java_last, java_ts]
        .iter()
        .map(|lines| {
            let mut b: Vec<String> = lines
                .iter()
                .filter_map(|l| l.strip_prefix("@@MSG "))
                .map(|l| l.split(' ').nth(4).unwrap().to_owned())
                .collect();
            b.sort();
            b
        })
        .collect();

    for (i, mode) in modes.iter().enumerate() {
        let mut expected = Vec::new();
        for (q, mq) in queues.iter().enumerate() {
            let start = match start_position(*mode, answers[i][q], &topic, t_ms) {
                StartPosition::Offset(o) => o,
                StartPosition::MaxOffset => max_before_c[q],
                StartPosition::Timestamp(_) => at_t[q],
            };
            expected.extend(everything.iter().filter(|s| &s.queue == mq && s.offset >= start));
        }
        let got = bodies(&log, i);
        eprintln!("{mode:?}: {} messages delivered", got.len());
        assert_eq!(got, sorted(expected), "new group, {mode:?}");
    }
    assert_eq!(
        java_seen[0],
        bodies(&log, 0),
        "Java and Rust consumers with LAST_OFFSET deliver the same"
    );
    assert_eq!(
        java_seen[1],
        bodies(&log, 2),
        "Java and Rust consumers with TIMESTAMP deliver the same"
    );
    assert_eq!(
        bodies(&log, EXISTING),
        sorted(&c_batch),
        "a group with committed offsets ignores consume_from_where"
    );
}

// ---------------------------------------------------------------------------------------------------
// Dead-letter queue
// ---------------------------------------------------------------------------------------------------

/// With `max_reconsume_times = 2` a message that always fails is delivered three times (reconsume
/// times 0, 1, 2): the broker moves a sent-back message to `%DLQ%<group>` once its reconsume times
/// reach the maximum (`AbstractSendMessageProcessor.consumerSendMsgBack`: `reconsumeTimes >=
/// maxReconsumeTimes`), storing it there with reconsume times 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_failing_max_reconsume_times_lands_in_the_dlq() {
    let topic = topic_with_queues("cdlq", 8).await;
    let queues = queues_of(&topic).await;
    let group = unique("gdlq");
    let p = producer().await;
    let original = p
        .send_to_queue(Message::new(&topic, "doomed"), &queues[5])
        .await
        .unwrap();
    p.shutdown().await;

    let attempts: Arc<Mutex<Vec<(i32, String, String)>>> = Default::default();
    let seen = attempts.clone();
    let mut cfg = config(&group, ConsumeFromWhere::ConsumeFromFirstOffset);
    cfg.max_reconsume_times = 2;
    let c = ConcurrentConsumer::builder(cfg)
        .subscribe(&topic, MessageSelector::all())
        .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeContext| {
            let mut seen = seen.lock().unwrap();
            for m in msgs {
                seen.push((
                    m.reconsume_times,
                    m.topic.clone(),
                    String::from_utf8_lossy(&m.body).into_owned(),
                ));
            }
            ctx.set_delay_level_when_next_consume(1); // 1 s instead of 10 s, 30 s
            ConsumeResult::ReconsumeLater
        })
        .start()
        .await
        .unwrap();

    let dlq = format!("%DLQ%{group}");
    let admin = admin();
    let landed = eventually(Duration::from_secs(60), || async {
        match admin.topic_route(&dlq).await {
            Ok(route) => {
                let mut n = 0;
                for mq in &route.subscribe_queues {
                    n += pull_queue(mq, 0).await.len();
                }
                n > 0
            }
            Err(_) => false,
        }
    })
    .await;
    assert!(
        landed,
        "nothing in {dlq}; attempts: {:?}",
        attempts.lock().unwrap()
    );
    // Nothing is left to deliver: the original queue and the retry topic are consumed to their ends.
    let retry_queues = queues_of(&format!("%RETRY%{group}")).await;
    let all: Vec<MessageQueue> = queues.iter().chain(&retry_queues).cloned().collect();
    assert!(
        wait_committed(&group, &all, Duration::from_secs(30)).await,
        "offsets never reached the end of the topic and the retry topic"
    );
    c.shutdown().await;

    let attempts = attempts.lock().unwrap().clone();
    let times: Vec<i32> = attempts.iter().map(|a| a.0).collect();
    assert_eq!(times, vec![0, 1, 2], "{attempts:?}");
    assert!(
        attempts.iter().all(|(_, t, b)| t == &topic && b == "doomed"),
        "the listener sees the original topic and body: {attempts:?}"
    );

    let route = admin.topic_route(&dlq).await.unwrap();
    assert_eq!(
        route.subscribe_queues,
        vec![MessageQueue::new(&dlq, &original.queue.broker_name, 0)],
        "one DLQ queue, on the broker of the message"
    );
    let dead = pull_topic(&dlq).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(&d.body[..], b"doomed");
    assert_eq!(d.reconsume_times, 3);
    assert_eq!(d.property(prop::RETRY_TOPIC), Some(topic.as_str()));
    assert_eq!(
        d.property(prop::ORIGIN_MESSAGE_ID),
        Some(original.offset_msg_id.as_str()),
        "the DLQ copy names the stored original"
    );
    // The two redeliveries went through the retry topic.
    let mut retried: Vec<i32> = pull_topic(&format!("%RETRY%{group}"))
        .await
        .iter()
        .map(|m| m.reconsume_times)
        .collect();
    retried.sort();
    assert_eq!(retried, vec![1, 2]);
}

// ---------------------------------------------------------------------------------------------------
// Churn
// ---------------------------------------------------------------------------------------------------

/// Three consumers share a group while 6,000 messages are produced; a fourth joins after 2,000 and one
/// of the first three is dropped without shutdown after 4,000. Nothing is lost. Duplicates are possible
/// only where a queue changed hands: the new owner starts at the offset the broker holds, which lags
/// the old owner's progress by at most one persist interval (plus a graceful owner's final persist
/// racing the new owner's offset query). So every duplicated message must
/// - be delivered again by a different consumer than the one before,
/// - have been first delivered at most `2 × PERSIST` before a membership change that precedes the
///   redelivery (one interval of staleness, one of scheduling slack on a busy machine),
/// - and, for the dropped consumer, the redelivered part of each of its queues is a suffix of what it
///   delivered there (the new owner resumed from one committed offset).
///
/// The brokers must forget the dropped consumer (its connections close). The duplicate counts are
/// printed; so far the dropped consumer caused none, because dropping the handle stops the queue tasks
/// through the same path as `shutdown()` (each persists its offset) before the connections close.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumers_joining_and_dying_lose_nothing() {
    const TOTAL: usize = 6_000;
    const DROPPED: usize = 2;
    let topic = topic_with_queues("cchurn", 8).await;
    let queues = queues_of(&topic).await;
    let group = unique("gchurn");
    let log: Log = Default::default();
    let cfg = |i: usize| {
        let mut c = config(&group, ConsumeFromWhere::ConsumeFromFirstOffset);
        // Client ids sort in start order: <ip>@<group>-1 < ...-2 < ...
        c.client.instance_name = format!("{group}-{i}");
        c
    };
    let mut events: Vec<(&str, Instant)> = Vec::new();
    let mut consumers: BTreeMap<usize, ConcurrentConsumer> = BTreeMap::new();
    for i in 1..=3 {
        events.push(("start", Instant::now()));
        consumers.insert(i, start_logging(cfg(i), &topic, i, log.clone()).await);
    }

    let (progress_tx, mut progress) = tokio::sync::watch::channel(0usize);
    let producer_queues = queues.clone();
    let producer_task = tokio::spawn(async move {
        let p = producer().await;
        let mut sent = Vec::with_capacity(TOTAL);
        // About 1,000 messages a second: 10 every 10 ms.
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while sent.len() < TOTAL {
            tick.tick().await;
            let from = sent.len();
            for i in from..(from + 10).min(TOTAL) {
                let q = &producer_queues[i % producer_queues.len()];
                let body = format!("m-{i}");
                let r = p
                    .send_to_queue(Message::new(&q.topic, body.clone()), q)
                    .await
                    .unwrap();
                sent.push(Sent {
                    body,
                    queue: r.queue,
                    offset: r.queue_offset,
                });
            }
            progress_tx.send_replace(sent.len());
        }
        p.shutdown().await;
        sent
    });

    progress.wait_for(|n| *n >= 2_000).await.unwrap();
    events.push(("start", Instant::now()));
    consumers.insert(4, start_logging(cfg(4), &topic, 4, log.clone()).await);
    progress.wait_for(|n| *n >= 4_000).await.unwrap();
    let delivered_by_dropped_before = log.lock().unwrap().iter().filter(|d| d.who == DROPPED).count();
    let t_drop = Instant::now();
    events.push(("drop", t_drop));
    drop(consumers.remove(&DROPPED));
    // The brokers notice the closed connections and forget the dropped consumer.
    let mut remaining: Vec<String> = consumers.values().map(|c| c.client_id().to_owned()).collect();
    remaining.sort();
    let masters = admin().cluster_masters(cluster().cluster_name()).await.unwrap();
    let forgotten = eventually(Duration::from_secs(30), || async {
        for (_, addr) in &masters {
            if consumer_list(&group, addr).await != remaining {
                return false;
            }
        }
        true
    })
    .await;
    assert!(forgotten, "the brokers still list the dropped consumer");

    let sent = producer_task.await.unwrap();
    let all_received = eventually(Duration::from_secs(90), || async {
        let log = log.lock().unwrap();
        log.iter().map(|d| &d.body).collect::<BTreeSet<_>>().len() >= TOTAL
    })
    .await;
    assert!(
        all_received,
        "received {} distinct of {TOTAL}",
        log.lock()
            .unwrap()
            .iter()
            .map(|d| &d.body)
            .collect::<BTreeSet<_>>()
            .len()
    );
    assert!(
        wait_committed(&group, &queues, Duration::from_secs(60)).await,
        "offsets never reached the end of the queues"
    );
    shutdown_all(consumers.into_values()).await;

    let log = log.lock().unwrap().clone();
    let sent_bodies: BTreeSet<&String> = sent.iter().map(|s| &s.body).collect();
    let received: BTreeSet<&String> = log.iter().map(|d| &d.body).collect();
    assert_eq!(received, sent_bodies, "every message received, nothing else");
    assert!(
        log.iter().all(|d| d.reconsume_times == 0),
        "nothing failed, so nothing came from the retry topic"
    );
    let mut per_consumer: BTreeMap<usize, usize> = BTreeMap::new();
    for d in &log {
        *per_consumer.entry(d.who).or_default() += 1;
    }
    assert!(delivered_by_dropped_before > 0, "the dropped consumer had work");
    assert!(
        per_consumer.get(&4).copied().unwrap_or(0) > 0,
        "the late consumer got work"
    );

    let mut by_body: HashMap<&str, Vec<&Delivery>> = HashMap::new();
    for d in &log {
        by_body.entry(&d.body).or_default().push(d);
    }
    let window = 2 * PERSIST;
    let late = log.iter().filter(|d| d.who == DROPPED && d.at > t_drop).count();
    let (mut dup_messages, mut extra, mut after_drop, mut max_lag) = (0, 0, 0, Duration::ZERO);
    // For the dropped consumer's queues: offsets it delivered, and those redelivered after the drop.
    let mut dropped_delivered: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut dropped_redelivered: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for d in log.iter().filter(|d| d.who == DROPPED) {
        dropped_delivered
            .entry(short(&d.queue))
            .or_default()
            .insert(d.offset);
    }
    for (body, ds) in &mut by_body {
        if ds.len() < 2 {
            continue;
        }
        ds.sort_by_key(|d| d.at);
        dup_messages += 1;
        extra += ds.len() - 1;
        for pair in ds.windows(2) {
            let (first, again) = (pair[0], pair[1]);
            assert_ne!(
                first.who,
                again.who,
                "{body} delivered twice by consumer {} ({:?} apart)",
                first.who,
                again.at - first.at
            );
            // Some membership change before the redelivery happened after the first delivery, or at
            // most `window` before it.
            let lag = events
                .iter()
                .filter(|(_, t)| *t <= again.at)
                .map(|(_, t)| t.saturating_duration_since(first.at))
                .min()
                .unwrap_or_else(|| panic!("{body} redelivered before any membership change"));
            max_lag = max_lag.max(lag);
            assert!(
                lag <= window,
                "{body} ({} offset {}) first delivered by {} {lag:?} before the membership change that \
                 moved its queue (events: {:?})",
                short(&first.queue),
                first.offset,
                first.who,
                events
                    .iter()
                    .map(|(k, t)| (*k, t.saturating_duration_since(first.at)))
                    .collect::<Vec<_>>()
            );
            if first.who == DROPPED && again.at >= t_drop {
                after_drop += 1;
                dropped_redelivered
                    .entry(short(&first.queue))
                    .or_default()
                    .insert(first.offset);
            }
        }
    }
    for (q, redelivered) in &dropped_redelivered {
        let from = *redelivered.first().unwrap();
        let suffix: BTreeSet<i64> = dropped_delivered[q].range(from..).copied().collect();
        assert_eq!(
            redelivered, &suffix,
            "{q}: the redelivered messages of the dropped consumer are all it delivered from offset {from}"
        );
    }
    eprintln!(
        "churn: {TOTAL} messages, {} deliveries {per_consumer:?}; {dup_messages} messages delivered more \
         than once ({extra} extra deliveries): {after_drop} first delivered by the dropped consumer, {} at \
         graceful hand-overs; the earliest first delivery of a duplicate preceded the membership change \
         that moved its queue by {max_lag:?}; {late} deliveries by the dropped consumer after the drop; \
         redelivered offsets per queue of the dropped consumer: {:?}",
        log.len(),
        extra - after_drop,
        dropped_redelivered
            .iter()
            .map(|(q, o)| (q.as_str(), o.len()))
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------------------
// Rust and Java in one group
// ---------------------------------------------------------------------------------------------------

/// A Java `DefaultMQPushConsumer` and our consumer in one group over 16 queues split them as Java's
/// `AllocateMessageQueueAveragely` says: the Java consumer holds exactly the queues the average
/// strategy gives its client id, each queue is consumed by exactly one of the two, every message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_java_consumers_share_a_group() {
    const RUST: usize = 1;
    const N: usize = 320;
    let topic = topic_with_queues("cmixed", 8).await;
    let queues = queues_of(&topic).await;
    let group = unique("gmixed");
    let namesrv = cluster().namesrv_addr();

    // Java first, alone: it takes all 16 queues. Then ours joins and Java gives up half of them.
    let mut java = JavaProcess::spawn("JavaPushConsume", &[&namesrv, &topic, &group, &unique("java")]).await;
    let (_, java_cid) = java
        .wait_line("@@STARTED ", 0, Duration::from_secs(60), |_| true)
        .await;
    // The assignment grows queue by queue to all 16 (passing through 8); once our consumer joins it
    // shrinks to what Java's rebalance computes (a superset of the result at every step).
    let (alone, _) = java
        .wait_line("@@ASSIGN ", 0, Duration::from_secs(30), |l| {
            l.split(' ').count() == 16
        })
        .await;
    let log: Log = Default::default();
    let rust = start_logging(
        config(&group, ConsumeFromWhere::ConsumeFromFirstOffset),
        &topic,
        RUST,
        log.clone(),
    )
    .await;
    let rust_cid = rust.client_id().to_owned();
    let (settled, java_held) = java
        .wait_line("@@ASSIGN ", alone, Duration::from_secs(30), |l| {
            l.split(' ').count() == 8
        })
        .await;
    let java_held: BTreeSet<String> = java_held.split(' ').map(str::to_owned).collect();

    // Both brokers list exactly the two clients.
    let mut cids = vec![java_cid.clone(), rust_cid.clone()];
    cids.sort();
    for (_, addr) in admin().cluster_masters(cluster().cluster_name()).await.unwrap() {
        assert_eq!(consumer_list(&group, &addr).await, cids, "consumers on {addr}");
    }
    cids.sort_by(|a, b| java_string_cmp(a, b));
    let allocate = |cid: &str| -> BTreeSet<String> {
        AllocateStrategy::Average
            .allocate(&group, cid, &queues, &cids)
            .unwrap()
            .iter()
            .map(short)
            .collect()
    };
    assert_eq!(
        java_held,
        allocate(&java_cid),
        "Java holds what the average strategy gives it; its assignments: {:?}",
        java.lines("@@ASSIGN ")
    );
    let rust_expected = allocate(&rust_cid);
    assert_eq!(rust_expected.len(), 8);
    assert!(rust_expected.is_disjoint(&java_held));

    let p = producer().await;
    let sent = send_round_robin(&p, &queues, "x", N).await;
    p.shutdown().await;
    let java_bodies = |java: &JavaProcess| -> Vec<(String, String)> {
        java.lines("@@MSG ")
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (format!("{}:{}", f[0], f[1]), f[4].to_owned())
            })
            .collect()
    };
    let done = eventually(Duration::from_secs(60), || async {
        java_bodies(&java).len() + log.lock().unwrap().len() >= N
    })
    .await;
    assert!(
        done,
        "Java consumed {}, Rust {} of {N}",
        java_bodies(&java).len(),
        log.lock().unwrap().len()
    );
    assert!(
        wait_committed(&group, &queues, Duration::from_secs(30)).await,
        "offsets never reached the end of the queues"
    );
    let assignments_while_running = java.lines("@@ASSIGN ");
    let java_seen = java_bodies(&java);
    java.stop(Duration::from_secs(30)).await;
    rust.shutdown().await;

    assert_eq!(
        assignments_while_running.len(),
        settled + 1,
        "Java's assignment changed again: {:?}",
        &assignments_while_running[settled..]
    );
    let mut owner: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut delivered: Vec<String> = Vec::new();
    for (q, body) in &java_seen {
        owner.entry(q.clone()).or_default().insert("java");
        delivered.push(body.clone());
    }
    for d in log.lock().unwrap().iter() {
        owner.entry(short(&d.queue)).or_default().insert("rust");
        delivered.push(d.body.clone());
    }
    delivered.sort();
    assert_eq!(delivered, sorted(&sent), "every message exactly once");
    assert_eq!(owner.len(), 16, "every queue got messages");
    for (q, who) in &owner {
        let expected = if java_held.contains(q) { "java" } else { "rust" };
        assert_eq!(who.iter().copied().collect::<Vec<_>>(), vec![expected], "{q}");
    }
    let rust_queues: BTreeSet<String> = owner
        .iter()
        .filter(|(_, w)| w.contains("rust"))
        .map(|(q, _)| q.clone())
        .collect();
    assert_eq!(rust_queues, rust_expected, "ours consumed exactly its allocation");
    eprintln!(
        "mixed group: Java {java_cid} held {java_held:?}; Rust {rust_cid} consumed {} messages, Java {}",
        N - java_seen.len(),
        java_seen.len()
    );
}
