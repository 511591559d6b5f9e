//! Consumer-side faults (scenarios run one at a time on the binary's cluster): H1 shutdown with
//! hundreds of messages in flight, R3 `kill -9` of one of 3 consumer processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::time::{Duration, Instant};

use rmq_chaos::harness::{classify, Behavior, Harness};
use rmq_chaos::report_figures;
use rmq_protocol::message::Message;
use support::*;

/// Sends `n` messages from 4 concurrent tasks, recording them.
async fn produce(h: &Harness, n: u64) {
    let p = h.producer("p").await;
    let p = &p;
    let worker = |w: u64| async move {
        let key = format!("k{w}");
        for seq in (0..n).filter(|s| s % 4 == w) {
            let body = h.body("p", &key, seq);
            h.rec.invoke(&body, &key, seq);
            let r = p.send(Message::new(&h.topic, body.clone())).await;
            h.rec.complete(&body, classify(&r));
        }
    };
    tokio::join!(worker(0), worker(1), worker(2), worker(3));
    p.shutdown().await;
}

/// H1: a push consumer with a slow listener shut down while hundreds of messages are cached or
/// in the listener, `await_termination` 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_with_messages_in_flight() {
    init_tracing();
    let name = "H1 shutdown with 500+ in flight (await 10 s)";
    let h = Harness::start(4).await;
    produce(&h, 2000).await;
    let group = rmq_testkit::unique_name("g_shut");
    let await_termination = Duration::from_secs(10);
    let mut cfg = h.consumer_config(&group, "c1");
    cfg.await_termination = await_termination;
    cfg.consume_thread_min = 32;
    cfg.consume_thread_max = 32;
    let c1 = h
        .concurrent(
            cfg,
            Behavior {
                work: Duration::from_millis(300),
                fails: None,
            },
            &h.rec,
        )
        .await;
    let busy = eventually(Duration::from_secs(90), || async {
        h.rec.deliveries() >= 100 && c1.stats().cached_messages >= 500
    })
    .await;
    let cached = c1.stats().cached_messages;
    assert!(busy.is_some(), "never had 500 in flight (cached {cached})");
    let started = Instant::now();
    c1.shutdown().await;
    let took = started.elapsed();
    let returned = Instant::now();
    let delivered_by_c1 = h.rec.deliveries();
    // Listener calls still running when shutdown returned (they record when they finish).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let unfinished = h
        .rec
        .history()
        .deliveries
        .iter()
        .filter(|d| d.consumer == "c1" && d.exited > returned)
        .count() as u64;

    let c2 = h
        .concurrent(h.consumer_config(&group, "c2"), Behavior::default(), &h.rec)
        .await;
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(120))
        .await;
    c2.shutdown().await;

    let r = h.rec.history().check();
    report_figures(
        name,
        &format!(
            "[{r}] in_flight_at_shutdown={cached} delivered_before_shutdown={delivered_by_c1} \
             shutdown_took={} unfinished={unfinished} drain={}",
            secs(took),
            secs(drain)
        ),
    );
    assert!(
        took <= await_termination + Duration::from_secs(3),
        "shutdown took {took:?}"
    );
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
    assert_eq!(
        r.duplicates, unfinished,
        "duplicates != unfinished listener calls: {r}"
    );
    assert_eq!(r.offset_regressions, 0, "{r}");
}

enum AnyConsumer {
    Concurrent(rmq_client::consumer::ConcurrentConsumer),
    Orderly(rmq_client::consumer::OrderlyConsumer),
}

impl AnyConsumer {
    async fn shutdown(&self) {
        match self {
            AnyConsumer::Concurrent(c) => c.shutdown().await,
            AnyConsumer::Orderly(c) => c.shutdown().await,
        }
    }

    fn process_queues(&self) -> Vec<rmq_protocol::message::MessageQueue> {
        let stats = match self {
            AnyConsumer::Concurrent(c) => c.stats(),
            AnyConsumer::Orderly(c) => c.stats(),
        };
        stats
            .queues
            .keys()
            .filter(|q| !q.topic.starts_with('%'))
            .cloned()
            .collect()
    }
}

async fn start_consumer(h: &Harness, group: &str, id: &str, orderly: bool) -> AnyConsumer {
    let cfg = h.consumer_config(group, id);
    if orderly {
        AnyConsumer::Orderly(h.orderly(cfg, Behavior::default(), &h.rec).await)
    } else {
        AnyConsumer::Concurrent(h.concurrent(cfg, Behavior::default(), &h.rec).await)
    }
}

/// R5 / O3: a consumer added or removed every `every` for `churn`, under load; then the group
/// must own every queue exactly once and catch up.
async fn churn_scenario(name: &str, orderly: bool, churn: Duration, every: Duration, rate: u32) {
    use rmq_chaos::load::{Load, Mode};
    use std::sync::Arc;

    init_tracing();
    let h = Harness::start(4).await;
    let group = rmq_testkit::unique_name("g_churn");
    let p = Arc::new(h.producer("p").await);
    let mode = if orderly { Mode::SyncOrdered } else { Mode::Sync };
    let load = Load::start(&h, p.clone(), "p", mode, rate, 16);
    let (stop, sampler) = h.spawn_sampler(&group, &h.rec, Duration::from_secs(1)).await;
    let mut live = std::collections::VecDeque::new();
    let mut next = 0;
    for _ in 0..2 {
        next += 1;
        live.push_back(start_consumer(&h, &group, &format!("c{next}"), orderly).await);
    }
    let started = Instant::now();
    let mut steps = 0;
    let mut max_doubly_owned = 0;
    while started.elapsed() < churn {
        tokio::time::sleep(every).await;
        steps += 1;
        // Grow to 4, shrink to 1, and so on: add on odd steps while < 4, remove otherwise.
        if (steps % 2 == 1 && live.len() < 4) || live.len() <= 1 {
            next += 1;
            live.push_back(start_consumer(&h, &group, &format!("c{next}"), orderly).await);
        } else if let Some(c) = live.pop_front() {
            c.shutdown().await;
        }
        let mut seen = std::collections::HashMap::new();
        for c in &live {
            for q in c.process_queues() {
                *seen.entry(q).or_insert(0) += 1;
            }
        }
        max_doubly_owned = max_doubly_owned.max(seen.values().filter(|n| **n > 1).count());
    }
    let churn_end = Instant::now();
    load.stop().await;
    let queues = h.queues().await.len();
    // After the churn: every queue owned by exactly one live consumer.
    let balanced = eventually(Duration::from_secs(60), || async {
        let mut owned: Vec<_> = live.iter().flat_map(|c| c.process_queues()).collect();
        let n = owned.len();
        owned.sort_by(|a, b| (&a.broker_name, a.queue_id).cmp(&(&b.broker_name, b.queue_id)));
        owned.dedup();
        n == queues && owned.len() == queues
    })
    .await;
    let lag_zero = eventually(Duration::from_secs(90), || async {
        h.rec.undelivered() == 0 && h.lag(&group).await == Some(0)
    })
    .await
    .map(|_| churn_end.elapsed());
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(60))
        .await;
    stop.cancel();
    let _ = sampler.await;
    for c in &live {
        c.shutdown().await;
    }
    p.shutdown().await;

    let r = h.rec.history().check();
    let ordered = h.rec.history().filter_bodies(|b| b.contains(":p:")).check();
    report_figures(
        name,
        &format!(
            "[{r}] steps={steps} consumers_started={next} queues_in_two_consumers_max={max_doubly_owned} \
             balanced_after_churn={} lag0_after_churn={} drain={}",
            balanced.map_or("never".into(), secs),
            lag_zero.map_or("never".into(), secs),
            secs(drain)
        ),
    );
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
    assert!(
        balanced.is_some(),
        "queues not owned exactly once after the churn"
    );
    let lag_zero = lag_zero.expect("lag never reached 0");
    assert!(lag_zero < Duration::from_secs(60), "lag 0 after {lag_zero:?}");
    if orderly {
        assert_eq!(ordered.order_violations, 0, "{ordered}");
        assert_eq!(r.lease_overlaps, 0, "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "quick duplicate: the normal suite runs tests/churn.rs, tests/orderly_churn.rs and tests/slow_listener.rs (stricter assignment check); run with --ignored"]
async fn group_churn_30s() {
    churn_scenario(
        "R5 group churn every 5 s for 30 s (short)",
        false,
        Duration::from_secs(30),
        Duration::from_secs(5),
        40,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn group_churn_2min() {
    churn_scenario(
        "R5 group churn every 5 s for 120 s",
        false,
        Duration::from_secs(120),
        Duration::from_secs(5),
        100,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "quick duplicate: the normal suite runs tests/churn.rs, tests/orderly_churn.rs and tests/slow_listener.rs (stricter assignment check); run with --ignored"]
async fn orderly_churn_30s() {
    churn_scenario(
        "O3 orderly churn every 5 s for 30 s (short)",
        true,
        Duration::from_secs(30),
        Duration::from_secs(5),
        40,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn orderly_churn_2min() {
    churn_scenario(
        "O3 orderly churn every 5 s for 120 s",
        true,
        Duration::from_secs(120),
        Duration::from_secs(5),
        100,
    )
    .await;
}

/// Resident set size of this process, in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// S1: a slow listener (one consume thread, `work` a message) over 64 queues of 1 MiB messages,
/// with a backlog it cannot finish in `watch`: the client's cache (and so the process RSS) stays
/// bounded and flat.
async fn slow_listener_scenario(name: &str, messages: u64, watch: Duration, work: Duration) {
    init_tracing();
    let h = Harness::start(32).await;
    // Incompressible padding (bodies over 4 KiB are compressed: a repeated byte would travel as
    // ~1 KiB and the broker would return 32 such messages per pull).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let padding: String = (0..1024 * 1024 - 128)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + (x % 90) as u8)
        })
        .collect();
    {
        // Not compressed (compressing 1 MiB in a debug build takes long, and the consumer would
        // decompress it again).
        let p = rmq_client::producer::Producer::builder(rmq_testkit::unique_name("chaos_big"))
            .client_config(h.client_config())
            .instance_name("big")
            .compress_over(8 * 1024 * 1024)
            .send_timeout(Duration::from_secs(10))
            .start()
            .await
            .unwrap();
        let (p, padding, h) = (&p, &padding, &h);
        let worker = |w: u64| async move {
            for seq in (0..messages).filter(|s| s % 4 == w) {
                let id = h.body("big", "k", seq);
                h.rec.invoke(&id, "k", seq);
                let r = p.send(Message::new(&h.topic, format!("{id}|{padding}"))).await;
                h.rec.complete(&id, classify(&r));
            }
        };
        tokio::join!(worker(0), worker(1), worker(2), worker(3));
        p.shutdown().await;
    }
    let baseline = rss_mib();
    let group = rmq_testkit::unique_name("g_slow");
    let mut cfg = h.consumer_config(&group, "slow");
    cfg.consume_thread_min = 1;
    cfg.consume_thread_max = 1;
    let c = h.concurrent(cfg, Behavior { work, fails: None }, &h.rec).await;
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut max_cached = 0;
    while started.elapsed() < watch {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(rss_mib());
        max_cached = max_cached.max(c.stats().cached_bytes);
    }
    let consumed = h.rec.deliveries();
    c.shutdown().await;
    let max = samples.iter().copied().max().unwrap_or(0);
    // Flat: the last third never exceeds the middle third's peak by more than 5 % (+ 16 MiB slack).
    let third = samples.len() / 3;
    let mid_peak = samples[third..2 * third].iter().copied().max().unwrap_or(0);
    let last_peak = samples[2 * third..].iter().copied().max().unwrap_or(0);
    report_figures(
        name,
        &format!(
            "messages={messages}x1MiB queues=64 listener={}ms consumed_in_window={consumed} rss_baseline={baseline}MiB \
             rss_max={max}MiB rss_peak_middle_third={mid_peak}MiB rss_peak_last_third={last_peak}MiB \
             max_cached={}MiB",
            work.as_millis(),
            max_cached / (1024 * 1024)
        ),
    );
    assert!(
        consumed > 0 && (consumed as u64) < messages,
        "consumed {consumed} of {messages}"
    );
    assert!(
        max <= baseline + 512,
        "RSS {max} MiB over baseline {baseline} MiB + 512"
    );
    assert!(
        last_peak <= mid_peak + mid_peak / 20 + 16,
        "RSS still growing: {mid_peak} -> {last_peak} MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "quick duplicate: the normal suite runs tests/churn.rs, tests/orderly_churn.rs and tests/slow_listener.rs (stricter assignment check); run with --ignored"]
async fn slow_listener_bounded_memory_60s() {
    slow_listener_scenario(
        "S1 slow listener, 64 queues, 1 MiB messages, 60 s (short)",
        150,
        Duration::from_secs(60),
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn slow_listener_bounded_memory_150s() {
    slow_listener_scenario(
        "S1 slow listener, 64 queues, 1 MiB messages, 150 s",
        400,
        Duration::from_secs(150),
        Duration::from_millis(400),
    )
    .await;
}

/// R3: `kill -9` one of 3 consumers (each its own process) under a steady load of `rate` msg/s
/// after `before` of load; the others take its queues over. Load goes on for `after` past the
/// takeover, then the group drains.
async fn consumer_kill_scenario(name: &str, before: Duration, after: Duration, rate: u32) {
    use rmq_chaos::consumer_process::ConsumerProcess;
    use rmq_chaos::load::{Load, Mode};
    use std::collections::{BTreeSet, HashMap};
    use std::sync::Arc;

    init_tracing();
    let h = Harness::start(4).await;
    let group = rmq_testkit::unique_name("g_kill");
    let mut procs = Vec::new();
    for id in ["c1", "c2", "c3"] {
        let mut p = ConsumerProcess::spawn(
            env!("CARGO_BIN_EXE_chaos-consumer"),
            h.proxied.namesrv_addr(),
            &h.topic,
            &group,
            id,
            &h.rec,
        )
        .expect("spawning chaos-consumer");
        assert!(p.ready(Duration::from_secs(60)).await, "{id} did not start");
        procs.push(p);
    }
    let (stop, sampler) = h.spawn_sampler(&group, &h.rec, Duration::from_secs(1)).await;
    let producer = Arc::new(h.producer("p").await);
    let load = Load::start(&h, producer.clone(), "p", Mode::Sync, rate, 16);
    // Every consumer busy, and the load running for `before`.
    let all_busy = eventually(Duration::from_secs(60), || async {
        let ids: BTreeSet<String> = h
            .rec
            .history()
            .deliveries
            .into_iter()
            .map(|d| d.consumer)
            .collect();
        ids.len() == 3
    })
    .await;
    assert!(all_busy.is_some(), "not every consumer got queues");
    tokio::time::sleep(before).await;

    // The victim's queues: those whose latest delivery before the kill was the victim's.
    let victim = procs.remove(1);
    let victim_id = victim.id().to_string();
    let killed = Instant::now();
    victim.kill().await.expect("kill -9");
    let dup_before = h.rec.history().check().duplicates;
    let mut last_owner: HashMap<_, (Instant, String)> = HashMap::new();
    for d in h.rec.history().deliveries {
        let e = last_owner
            .entry(d.queue.clone())
            .or_insert((d.entered, d.consumer.clone()));
        if d.entered >= e.0 {
            *e = (d.entered, d.consumer);
        }
    }
    let victim_queues: Vec<_> = last_owner
        .into_iter()
        .filter(|(_, (_, c))| *c == victim_id)
        .map(|(q, _)| q)
        .collect();
    assert!(!victim_queues.is_empty(), "the victim owned no queue");
    // Takeover: every one of its queues delivered by a survivor after the kill.
    let taken_at = |q: &rmq_protocol::message::MessageQueue| {
        h.rec
            .history()
            .deliveries
            .iter()
            .filter(|d| d.queue == *q && d.consumer != victim_id && d.entered >= killed)
            .map(|d| d.entered - killed)
            .min()
    };
    let taken = eventually(Duration::from_secs(90), || async {
        victim_queues.iter().all(|q| taken_at(q).is_some())
    })
    .await;
    let takeover = victim_queues.iter().filter_map(taken_at).max();
    tokio::time::sleep(after).await;
    load.stop().await;
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(120))
        .await;
    stop.cancel();
    let _ = sampler.await;
    let mut clean = true;
    for p in procs {
        clean &= p.shutdown(Duration::from_secs(20)).await;
    }
    producer.shutdown().await;

    let r = h.rec.history().check();
    let queues = h.queues().await.len();
    let per_queue_rate = f64::from(rate) / queues as f64;
    let dup_budget = (5.0 * per_queue_rate * victim_queues.len() as f64).floor() as u64;
    report_figures(
        name,
        &format!(
            "[{r}] victim_queues={}/{queues} per_queue_rate={per_queue_rate:.1}/s dup_budget={dup_budget} \
             dup_before_kill={dup_before} takeover={} drain={} survivors_clean_exit={clean}",
            victim_queues.len(),
            takeover.map_or("never".into(), secs),
            secs(drain)
        ),
    );
    assert!(taken.is_some(), "the victim's queues were not taken over");
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
    assert_eq!(r.offset_regressions, 0, "{r}");
    assert!(
        r.duplicates <= dup_budget,
        "dup {} > 5 s x {per_queue_rate:.1}/s x {} queues: {r}",
        r.duplicates,
        victim_queues.len()
    );
    let takeover = takeover.unwrap();
    assert!(takeover <= Duration::from_secs(40), "takeover took {takeover:?}");
    assert!(clean, "a surviving consumer did not shut down cleanly");
}

/// Short version for the normal suite: killed after 5 s of load, 5 s of load after the takeover.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_kill_9() {
    consumer_kill_scenario(
        "R3 kill -9 one of 3 consumers (short)",
        Duration::from_secs(5),
        Duration::from_secs(5),
        40,
    )
    .await;
}

/// Full version: 30 s of load at 100 msg/s before the kill and 30 s after the takeover.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn consumer_kill_9_long() {
    consumer_kill_scenario(
        "R3 kill -9 one of 3 consumers",
        Duration::from_secs(30),
        Duration::from_secs(30),
        100,
    )
    .await;
}
