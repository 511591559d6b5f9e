//! Client metrics, health snapshots and tracing spans against the real cluster.
//!
//! These tests install one global `metrics` recorder (a metrics-util registry read without draining
//! it, so tests running in parallel do not take each other's samples) before any of their clients
//! starts; clients of the other modules may have bound to the no-op recorder and are not read. Every
//! test uses its own groups and topics, and reads only the series labelled with them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::support::*;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_client::health::{Stuck, StuckThresholds};
use rmq_client::producer::{Producer, ProducerBuilder, ProducerOptions};
use rmq_client::ErrorKind;
use rmq_protocol::message::{Message, MessageExt};

/// A recorder keeping every series in a registry that tests read without resetting it.
#[derive(Clone)]
struct TestRecorder(Arc<Registry<Key, AtomicStorage>>);

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0.get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

/// The process's recorder, installed on first use (before the calling test starts any client).
fn recorder() -> &'static TestRecorder {
    static REC: OnceLock<TestRecorder> = OnceLock::new();
    REC.get_or_init(|| {
        let rec = TestRecorder(Arc::new(Registry::atomic()));
        metrics::set_global_recorder(rec.clone()).expect("the only recorder of this test binary");
        rec
    })
}

/// Whether `key` is `name` with every label of `labels`.
fn matches(key: &Key, name: &str, labels: &[(&str, &str)]) -> bool {
    key.name() == name
        && labels
            .iter()
            .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
}

/// The sum of the counters `name` carrying `labels`.
fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    recorder()
        .0
        .get_counter_handles()
        .iter()
        .filter(|(k, _)| matches(k, name, labels))
        .map(|(_, c)| c.load(Ordering::Relaxed))
        .sum()
}

/// The values of the gauges `name` carrying `labels`.
fn gauges(name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    recorder()
        .0
        .get_gauge_handles()
        .iter()
        .filter(|(k, _)| matches(k, name, labels))
        .map(|(_, g)| f64::from_bits(g.load(Ordering::Relaxed)))
        .collect()
}

/// Every sample recorded in the histograms `name` carrying `labels`.
fn samples(name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    recorder()
        .0
        .get_histogram_handles()
        .iter()
        .filter(|(k, _)| matches(k, name, labels))
        .flat_map(|(_, h)| h.data())
        .collect()
}

fn consumer_config(group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client.namesrv_addr = cluster().namesrv_addr();
    c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    c.persist_interval = Duration::from_secs(1);
    // The group's retry topic is created by the first heartbeat: see its route soon.
    c.client.poll_name_server_interval = Duration::from_secs(2);
    c
}

async fn producer(group: &str) -> Producer {
    Producer::builder(group)
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap()
}

/// A consumer counting the messages and listener calls it sees.
async fn counting_consumer(
    group: &str,
    topic: &str,
) -> (ConcurrentConsumer, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (msgs, calls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (m, c) = (msgs.clone(), calls.clone());
    let consumer = ConcurrentConsumer::builder(consumer_config(group))
        .subscribe(topic, "*")
        .listener(move |batch: &[MessageExt], _: &mut ConsumeContext| {
            m.fetch_add(batch.len(), Ordering::SeqCst);
            c.fetch_add(1, Ordering::SeqCst);
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    (consumer, msgs, calls)
}

#[tokio::test]
async fn sends_are_counted_with_their_latency() {
    recorder();
    let topic = topic_with_queues("msend", 2).await;
    let group = unique("mpg");
    let p = producer(&group).await;
    const N: u64 = 25;
    for i in 0..N {
        p.send(Message::new(&topic, format!("m{i}"))).await.unwrap();
    }
    let ok = [("group", group.as_str()), ("topic", &topic), ("result", "ok")];
    assert_eq!(counter("rocketmq_client_send_total", &ok), N);
    let latency = samples("rocketmq_client_send_latency_seconds", &ok);
    assert_eq!(latency.len() as u64, N);
    assert!(latency.iter().all(|s| *s > 0.0 && *s < 3.0), "{latency:?}");
    let failed = [("group", group.as_str()), ("result", "error")];
    assert_eq!(counter("rocketmq_client_send_total", &failed), 0);
    let client = [("client_id", p.client_id())];
    assert!(
        counter("rocketmq_client_connects_total", &client) >= 2,
        "name server and a broker"
    );
    assert!(gauges("rocketmq_client_connections", &client)[0] >= 2.0);

    // health: the last send, the topic's fresh route, and (after the first round) heartbeats.
    assert!(
        eventually(Duration::from_secs(10), || async {
            p.health().client.heartbeat.last_success.is_some()
        })
        .await
    );
    let h = p.health();
    assert!(h.since_last_send_ok.unwrap() < Duration::from_secs(10));
    assert!(h.last_send_error.is_none());
    assert!(h.client.routes[&topic].age < Duration::from_secs(35));
    assert_eq!(h.client.routes[&topic].writable_queues, 4);
    assert!(h.client.heartbeat.brokers_ok >= 1);
    assert!(!h.client.connections.is_empty());

    p.shutdown().await;
    // Every connection this client opened is closed and counted.
    assert!(
        eventually(Duration::from_secs(5), || async {
            gauges("rocketmq_client_connections", &client)[0] == 0.0
        })
        .await
    );
    assert_eq!(
        counter("rocketmq_client_disconnects_total", &client),
        counter("rocketmq_client_connects_total", &[client[0], ("result", "ok")])
    );
}

#[tokio::test]
async fn a_send_to_an_unknown_topic_counts_a_failure() {
    recorder();
    let group = unique("mpf");
    // Without a template topic to create it from, a topic the name server does not know cannot be sent to.
    let mut options = ProducerOptions::new(&group);
    options.client.namesrv_addr = cluster().namesrv_addr();
    options.create_topic_key = unique("no_template");
    let p = ProducerBuilder::from_options(options).start().await.unwrap();
    let topic = unique("nowhere");
    let err = p.send(Message::new(&topic, "x")).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::TopicNotExist { .. }), "{err}");
    let labels = [("group", group.as_str()), ("topic", topic.as_str())];
    assert_eq!(
        counter(
            "rocketmq_client_send_total",
            &[labels[0], labels[1], ("result", "error")]
        ),
        1
    );
    assert_eq!(
        counter(
            "rocketmq_client_send_total",
            &[labels[0], labels[1], ("result", "ok")]
        ),
        0
    );
    assert_eq!(samples("rocketmq_client_send_latency_seconds", &labels).len(), 1);
    let h = p.health();
    assert!(h.last_send_ok.is_none());
    let (_, last) = h.last_send_error.expect("the failure is reported");
    assert!(matches!(last.kind(), ErrorKind::TopicNotExist { .. }));
    p.shutdown().await;
}

#[tokio::test]
async fn consumption_pulls_offsets_and_rates_are_counted() {
    recorder();
    let topic = topic_with_queues("mcons", 2).await;
    let group = unique("mcg");
    let p = producer(&unique("mcp")).await;
    const N: usize = 200;
    for chunk in (0..N).collect::<Vec<_>>().chunks(50) {
        let batch = chunk
            .iter()
            .map(|i| Message::new(&topic, format!("m{i}")))
            .collect();
        p.send_batch(batch).await.unwrap();
    }
    let (c, seen, calls) = counting_consumer(&group, &topic).await;
    let labels = [("group", group.as_str()), ("topic", topic.as_str())];
    let ok = [labels[0], labels[1], ("result", "ok")];
    assert!(
        eventually(Duration::from_secs(60), || async {
            counter("rocketmq_client_consume_total", &ok) >= N as u64
        })
        .await,
        "consumed {} (listener saw {})",
        counter("rocketmq_client_consume_total", &ok),
        seen.load(Ordering::SeqCst)
    );
    assert_eq!(counter("rocketmq_client_consume_total", &ok), N as u64);
    assert_eq!(seen.load(Ordering::SeqCst), N);
    assert_eq!(
        counter(
            "rocketmq_client_consume_total",
            &[labels[0], labels[1], ("result", "failed")]
        ),
        0
    );
    assert_eq!(counter("rocketmq_client_pull_messages_total", &labels), N as u64);
    // One latency sample per listener call.
    assert_eq!(
        samples("rocketmq_client_consume_latency_seconds", &labels).len(),
        calls.load(Ordering::SeqCst)
    );
    // Rates are published by the once-a-second sampler.
    assert!(
        eventually(Duration::from_secs(5), || async {
            gauges("rocketmq_client_consume_tps", &ok)
                .first()
                .is_some_and(|tps| *tps > 0.0)
        })
        .await
    );
    // Every queue's lag drains to zero once the committed offsets reach the ends.
    let lag = || gauges("rocketmq_client_consumer_lag_messages", &labels);
    assert!(
        eventually(Duration::from_secs(20), || async {
            let l = lag();
            l.len() == 4 && l.iter().all(|v| *v == 0.0)
        })
        .await,
        "lag {:?}",
        lag()
    );
    assert_eq!(
        gauges("rocketmq_client_consumer_cached_messages", &labels),
        vec![0.0; 4]
    );
    let group_labels = [("group", group.as_str()), ("result", "ok")];
    assert!(
        eventually(Duration::from_secs(10), || async {
            counter("rocketmq_client_offset_persist_total", &group_labels) > 0
        })
        .await
    );
    // A healthy consumer: nothing stuck, a pull sent recently on every queue, heartbeats accepted.
    // (The group's retry queues join the assignment once the brokers have registered the retry topic.)
    let assigned = || {
        gauges(
            "rocketmq_client_consumer_assigned_queues",
            &[("group", group.as_str())],
        )
    };
    let h = c.health();
    assert!(h.stuck.is_empty(), "{:?}", h.stuck);
    let topic_queues = h.queues.keys().filter(|mq| mq.topic == topic).count();
    assert_eq!(topic_queues, 4);
    assert!(
        eventually(Duration::from_secs(10), || async {
            assigned() == vec![c.health().queues.len() as f64]
        })
        .await
    );
    for (mq, q) in &h.queues {
        assert!(
            q.since_last_pull.is_some_and(|a| a < Duration::from_secs(20)),
            "{mq}: {q:?}"
        );
        assert_eq!(q.cached_messages, 0);
    }
    assert!(h.queues.values().any(|q| q.last_consumed.is_some()));
    assert!(h
        .client
        .heartbeat
        .since_last_success
        .is_some_and(|a| a < Duration::from_secs(35)));
    assert!(h.is_healthy(Duration::from_secs(35)));

    c.shutdown().await;
    // Quiet now: the counters agree with the consumer's own statistics.
    let stats = c.stats();
    assert_eq!(
        counter("rocketmq_client_offset_persist_total", &group_labels),
        stats.offsets.persisted
    );
    let pulls = counter("rocketmq_client_pull_total", &labels);
    assert_eq!(pulls, stats.topics[&topic].pulls);
    assert_eq!(
        samples("rocketmq_client_pull_latency_seconds", &labels).len() as u64,
        pulls
    );
    p.shutdown().await;
}

#[tokio::test]
async fn rebalance_is_counted_when_a_second_consumer_joins() {
    recorder();
    let topic = topic_with_queues("mreb", 2).await;
    let group = unique("mrg");
    let (first, _, _) = counting_consumer(&group, &topic).await;
    let labels = [("client_id", first.client_id())];
    let assigned = || gauges("rocketmq_client_consumer_assigned_queues", &labels);
    // Alone, it holds the topic's 4 queues and the group's retry queues (one per broker, in the
    // route once each broker has registered the retry topic its first heartbeat created).
    let all = || first.health().queues.len() as f64;
    assert!(
        eventually(Duration::from_secs(60), || async {
            all() >= 6.0 && assigned() == vec![all()]
        })
        .await,
        "{:?}",
        assigned()
    );
    let alone = all();
    let before = counter("rocketmq_client_rebalance_total", &labels);
    assert!(before >= 1);

    let (second, _, _) = counting_consumer(&group, &topic).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            assigned() == vec![alone / 2.0]
        })
        .await,
        "first consumer holds {:?}",
        assigned()
    );
    assert!(counter("rocketmq_client_rebalance_total", &labels) > before);
    second.shutdown().await;
    first.shutdown().await;
}

#[tokio::test]
async fn a_blocked_listener_makes_its_queue_stuck_until_released() {
    recorder();
    let topic = topic_with_queues("mstuck", 1).await;
    let group = unique("msg");
    let p = producer(&unique("msp")).await;
    let queues = p.publish_queues(&topic).await.unwrap();
    let target = queues[0].clone();
    // The listener blocks until `gate` is dropped.
    let (gate, held) = std::sync::mpsc::channel::<()>();
    let held = Mutex::new(held);
    let consumed = Arc::new(AtomicUsize::new(0));
    let seen = consumed.clone();
    let c = ConcurrentConsumer::builder(consumer_config(&group))
        .subscribe(&topic, "*")
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            let _ = held.lock().unwrap().recv();
            seen.fetch_add(msgs.len(), Ordering::SeqCst);
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    const N: usize = 5;
    for i in 0..N {
        p.send_to_queue(Message::new(&topic, format!("s{i}")), &target)
            .await
            .unwrap();
    }
    let thresholds = {
        let mut t = StuckThresholds::default();
        t.not_consuming = Duration::from_secs(2);
        t
    };
    assert!(
        eventually(Duration::from_secs(30), || async {
            c.health_with(&thresholds).stuck.contains(&target)
        })
        .await,
        "{:#?}",
        c.health_with(&thresholds)
    );
    let h = c.health_with(&thresholds);
    assert_eq!(h.stuck.len(), 1, "only the queue with messages: {:?}", h.stuck);
    let q = &h.queues[&h.stuck[0]];
    match q.stuck {
        Some(Stuck::NotConsuming {
            idle,
            cached_messages,
        }) => {
            assert!(idle > thresholds.not_consuming);
            assert_eq!(cached_messages, N as u64);
        }
        other => panic!("expected NotConsuming, got {other:?}"),
    }
    assert!(q.last_consumed.is_none());
    assert!(!h.is_healthy(Duration::from_secs(60)));
    let qid = target.queue_id.to_string();
    let queue_labels = [
        ("group", group.as_str()),
        ("topic", topic.as_str()),
        ("broker", target.broker_name.as_str()),
        ("queue_id", qid.as_str()),
    ];
    assert_eq!(
        gauges("rocketmq_client_consumer_cached_messages", &queue_labels),
        vec![N as f64]
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            gauges("rocketmq_client_consumer_lag_messages", &queue_labels) == vec![N as f64]
        })
        .await,
        "lag {:?}",
        gauges("rocketmq_client_consumer_lag_messages", &queue_labels)
    );

    drop(gate);
    assert!(
        eventually(Duration::from_secs(20), || async {
            consumed.load(Ordering::SeqCst) == N && c.health_with(&thresholds).stuck.is_empty()
        })
        .await
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            gauges("rocketmq_client_consumer_lag_messages", &queue_labels) == vec![0.0]
        })
        .await
    );
    assert!(c.health_with(&thresholds).queues[&target].last_consumed.is_some());
    c.shutdown().await;
    p.shutdown().await;
}

/// Spans and events seen by [`Capture`].
#[derive(Default)]
struct Captured {
    /// Whether INFO and louder events are being collected.
    on: bool,
    loud: Vec<String>,
    spans: Vec<(String, std::collections::HashMap<String, String>)>,
}

/// A tracing layer that records every span with its fields, and INFO-or-louder events while on.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

struct Fields<'a>(&'a mut std::collections::HashMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = std::collections::HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut c = self.0.lock().unwrap();
        c.spans.push((attrs.metadata().name().to_owned(), fields));
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        let mut c = self.0.lock().unwrap();
        if c.on && *meta.level() <= tracing::Level::INFO {
            let mut fields = std::collections::HashMap::new();
            event.record(&mut Fields(&mut fields));
            c.loud
                .push(format!("{} {}: {:?}", meta.level(), meta.target(), fields));
        }
    }
}

/// On a current-thread runtime every client task runs on the test's thread, where the capturing
/// subscriber is the default: a healthy producer and consumer log nothing at INFO or louder in steady
/// state, and their `send` and `consume` spans carry the message ids, topic and queue.
#[tokio::test(flavor = "current_thread")]
async fn steady_state_is_quiet_at_info_and_spans_carry_ids() {
    use tracing_subscriber::layer::SubscriberExt;
    recorder();
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let topic = topic_with_queues("mquiet", 2).await;
    let group = unique("mqg");
    let p = producer(&unique("mqp")).await;
    let consumed = Arc::new(AtomicUsize::new(0));
    let seen = consumed.clone();
    let c = ConcurrentConsumer::builder(consumer_config(&group))
        .subscribe(&topic, "*")
        .async_listener(move |msgs: Vec<MessageExt>, _: ConsumeContext| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(msgs.len(), Ordering::SeqCst);
                ConsumeResult::Success
            }
        })
        .start()
        .await
        .unwrap();
    // Start-up (assignment at INFO) is over once the first message went through.
    p.send(Message::new(&topic, "warm-up")).await.unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            consumed.load(Ordering::SeqCst) == 1
        })
        .await
    );

    // tracing caches each callsite's interest; a callsite first hit by another test's thread while this
    // capture was being installed can keep a stale "never" (a race in tracing-core's registration, seen
    // once under load as 0 send spans). Every callsite used below has been hit by now: recompute them.
    tracing::callsite::rebuild_interest_cache();
    capture.0.lock().unwrap().on = true;
    let persisted = c.stats().offsets.persisted;
    let mut ids = HashSet::new();
    const N: usize = 20;
    for i in 0..N {
        let r = p.send(Message::new(&topic, format!("q{i}"))).await.unwrap();
        ids.insert(r.msg_id);
    }
    assert!(
        eventually(Duration::from_secs(30), || async {
            consumed.load(Ordering::SeqCst) == N + 1
        })
        .await
    );
    // Some idle time too: a few offset persists (one a second) and long polls.
    assert!(
        eventually(Duration::from_secs(10), || async {
            c.stats().offsets.persisted >= persisted + 3
        })
        .await
    );
    let captured = std::mem::take(&mut *capture.0.lock().unwrap());
    c.shutdown().await;
    p.shutdown().await;

    assert!(
        captured.loud.is_empty(),
        "logged at INFO or louder in steady state: {:#?}",
        captured.loud
    );
    let sends: Vec<_> = captured.spans.iter().filter(|(n, _)| n == "send").collect();
    assert!(sends.len() > N, "{} send spans", sends.len());
    let sent_ids: HashSet<String> = sends
        .iter()
        .filter(|(_, f)| f.get("topic") == Some(&topic))
        .filter_map(|(_, f)| f.get("msg_id").cloned())
        .collect();
    assert!(ids.is_subset(&sent_ids), "send spans lack some message ids");
    let consumes: Vec<_> = captured
        .spans
        .iter()
        .filter(|(n, f)| n == "consume" && f.get("topic") == Some(&topic))
        .collect();
    assert!(!consumes.is_empty());
    let mut consumed_ids = HashSet::new();
    for (_, f) in &consumes {
        assert_eq!(f.get("group"), Some(&group));
        assert!(f.contains_key("queue_id") && f.contains_key("broker"));
        assert!(f["batch"].parse::<usize>().unwrap() >= 1);
        consumed_ids.extend(f["msg_ids"].split(',').map(str::to_owned));
    }
    assert!(
        ids.is_subset(&consumed_ids),
        "consume spans lack some message ids"
    );
}
