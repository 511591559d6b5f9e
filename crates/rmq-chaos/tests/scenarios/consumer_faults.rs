//! Consumer-side faults (scenarios run one at a time on the binary's cluster): H1 shutdown with
//! hundreds of messages in flight, R3 `kill -9` of one of 3 consumer processes. Group churn (R5, O3)
//! and the slow listener (S1) are in the modules `churn`, `orderly_churn` and
//! `slow_listener`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use crate::support::*;
use rmq_chaos::harness::{Behavior, Harness};
use rmq_chaos::report_figures;

/// H1: a push consumer with a slow listener shut down while hundreds of messages are cached or
/// in the listener, `await_termination` 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_with_messages_in_flight() {
    init_tracing();
    let name = "H1 shutdown with 500+ in flight (await 10 s)";
    let h = Harness::start(4).await;
    h.produce("p", 2000, 4).await;
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
    // The queue tasks commit what finishes before their await deadline, which falls between
    // `started + await_termination` and `returned`: calls ending after `returned` are surely
    // unfinished, calls ending after `started + await_termination` possibly.
    let unfinished_after = |t: Instant| {
        h.rec
            .history()
            .deliveries
            .iter()
            .filter(|d| d.consumer == "c1" && d.exited > t)
            .count() as u64
    };
    let unfinished = unfinished_after(returned);
    let unfinished_at_await = unfinished_after(started + await_termination);

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
             shutdown_took={} unfinished={unfinished} unfinished_at_await_deadline={unfinished_at_await} drain={}",
            secs(took),
            secs(drain)
        ),
    );
    assert!(
        took <= await_termination + Duration::from_secs(3),
        "shutdown took {took:?}"
    );
    assert_nothing_lost(&r);
    assert!(
        (unfinished..=unfinished_at_await).contains(&r.duplicates),
        "duplicates {} outside the unfinished listener calls {unfinished}..={unfinished_at_await}: {r}",
        r.duplicates
    );
    assert_eq!(r.offset_regressions, 0, "{r}");
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

    // The victim's queues: those whose latest delivery before the kill was the victim's. The
    // broker sees the victim's connections close and tells the survivors at once, so they may
    // deliver from its queues before the history is read: only deliveries entered before the
    // kill count.
    let victim = procs.remove(1);
    let victim_id = victim.id().to_string();
    let killed = Instant::now();
    victim.kill().await.expect("kill -9");
    let dup_before = h.rec.history().check().duplicates;
    let mut last_owner: HashMap<_, (Instant, String)> = HashMap::new();
    for d in h
        .rec
        .history()
        .deliveries
        .into_iter()
        .filter(|d| d.entered < killed)
    {
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
    assert_nothing_lost(&r);
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
