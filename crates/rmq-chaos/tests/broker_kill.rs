//! X1: `kill -9` one broker, keep it down, start it again; under sync, async and per-key ordered
//! sends, with a concurrent and an orderly consumer group.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_chaos::harness::{Behavior, Harness};
use rmq_chaos::load::{Load, Mode};
use rmq_chaos::report_figures;
use support::*;

async fn scenario(name: &str, down: Duration, rate: u32) {
    init_tracing();
    let h = Harness::start(4).await;
    let conc_group = rmq_testkit::unique_name("g_conc");
    let ord_group = rmq_testkit::unique_name("g_ord");
    let ord_rec = h.rec.another_group();
    let conc = h
        .concurrent(
            h.consumer_config(&conc_group, "conc-1"),
            Behavior::default(),
            &h.rec,
        )
        .await;
    let ord = h
        .orderly(
            h.consumer_config(&ord_group, "ord-1"),
            Behavior::default(),
            &ord_rec,
        )
        .await;
    let (stop_c, sampler_c) = h.spawn_sampler(&conc_group, &h.rec, Duration::from_secs(1)).await;
    let (stop_o, sampler_o) = h
        .spawn_sampler(&ord_group, &ord_rec, Duration::from_secs(1))
        .await;

    let sync_p = Arc::new(h.producer("sync").await);
    let async_p = Arc::new(h.producer("async").await);
    let ord_p = Arc::new(h.producer("ord").await);
    let sync_load = Load::start(&h, sync_p.clone(), "sync", Mode::Sync, rate, 8);
    let async_load = Load::start(&h, async_p.clone(), "async", Mode::Async, rate, 8);
    let ord_load = Load::start(&h, ord_p.clone(), "ord", Mode::SyncOrdered, rate, 8);

    let warm = eventually(Duration::from_secs(90), || async {
        h.rec.deliveries() > 100 && ord_rec.deliveries() > 100
    })
    .await;
    assert!(warm.is_some(), "no consumption before the fault");

    h.fault("kill -9 broker-a", |c| c.kill_broker("broker-a")).await;
    tokio::time::sleep(down).await;
    h.fault("start broker-a", |c| c.start_broker("broker-a")).await;
    let restarted = Instant::now();
    h.rec.new_offset_epoch();
    ord_rec.new_offset_epoch();

    // Both groups consume broker-a's queues again, without a client restart.
    let resumed = eventually(Duration::from_secs(120), || async {
        Harness::first_delivery_from(&h.rec, "broker-a", restarted).is_some()
            && Harness::first_delivery_from(&ord_rec, "broker-a", restarted).is_some()
    })
    .await;
    let conc_resume = Harness::first_delivery_from(&h.rec, "broker-a", restarted).map(|t| t - restarted);
    let ord_resume = Harness::first_delivery_from(&ord_rec, "broker-a", restarted).map(|t| t - restarted);
    // A few more seconds of load on the healed cluster.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sync_latency = sync_load.latency.clone();
    sync_load.stop().await;
    async_load.stop().await;
    ord_load.stop().await;
    // Every async callback fires (exactly once: checked below).
    let callbacks = eventually(Duration::from_secs(15), || async {
        h.rec.history().check().pending == 0
    })
    .await;

    let drain_c = h
        .drain(
            &conc_group,
            &h.rec,
            Duration::from_secs(3),
            Duration::from_secs(120),
        )
        .await;
    let drain_o = h
        .drain(
            &ord_group,
            &ord_rec,
            Duration::from_secs(3),
            Duration::from_secs(120),
        )
        .await;
    stop_c.cancel();
    stop_o.cancel();
    let _ = tokio::join!(sampler_c, sampler_o);
    conc.shutdown().await;
    ord.shutdown().await;
    for p in [&sync_p, &async_p, &ord_p] {
        p.shutdown().await;
    }

    let rc = h.rec.history().check();
    let ro = ord_rec.history().check();
    let ord_keys = ord_rec.history().filter_bodies(|b| b.contains(":ord:")).check();
    let max_sync_ms = sync_latency.max_ms.load(std::sync::atomic::Ordering::Relaxed);
    let over_budget = sync_latency
        .over_budget
        .load(std::sync::atomic::Ordering::Relaxed);
    report_figures(
        name,
        &format!(
            "concurrent[{rc}] orderly[lost={} unconsumed={} dup={} offset_regressions={} \
             ordered keys: order_violations={} (rewinds={} skips={}) lease_overlaps={}] resume_conc={} resume_ord={} \
             max_sync_send={max_sync_ms}ms sync_over_budget={over_budget} drain={}/{}",
            ro.lost,
            ro.unconsumed,
            ro.duplicates,
            ro.offset_regressions,
            ord_keys.order_violations,
            ord_keys.rewinds,
            ord_keys.skips,
            ro.lease_overlaps,
            conc_resume.map_or("never".into(), secs),
            ord_resume.map_or("never".into(), secs),
            secs(drain_c),
            secs(drain_o),
        ),
    );

    assert!(resumed.is_some(), "consumption of broker-a did not resume");
    assert!(callbacks.is_some(), "async callbacks missing: {rc}");
    for (group, r) in [("concurrent", &rc), ("orderly", &ro)] {
        assert_eq!(r.lost, 0, "{group}: {r}");
        assert_eq!(r.unconsumed, 0, "{group}: {r}");
        assert_eq!(r.unexpected, 0, "{group}: {r}");
        assert_eq!(r.offset_regressions, 0, "{group}: {r}");
        assert_eq!((r.pending, r.extra_completions), (0, 0), "{group}: {r}");
    }
    assert!(rc.acked > 0 && rc.indeterminate + rc.failed < rc.sent);
    assert!(conc_resume.unwrap() < Duration::from_secs(60), "{conc_resume:?}");
    assert!(ord_resume.unwrap() < Duration::from_secs(60), "{ord_resume:?}");
    assert_eq!(
        over_budget, 0,
        "sync sends over the send timeout + 1 s (max {max_sync_ms} ms)"
    );
}

/// Short version for the normal suite: down 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_kill_5s() {
    scenario("X1 kill -9 broker-a 5 s (short)", Duration::from_secs(5), 40).await;
}

/// Full version: down 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn broker_kill_30s() {
    scenario("X1 kill -9 broker-a 30 s", Duration::from_secs(30), 100).await;
}
