//! Broker and name server faults on the binary's cluster (scenarios run one at a time):
//! X1 `kill -9` a broker, X2 graceful broker restart, X3 SIGSTOP a broker, X7 all name servers
//! down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use rmq_chaos::harness::{Behavior, Harness};
use rmq_chaos::load::{Load, Mode};
use rmq_chaos::report_figures;
use rmq_chaos::traffic::Traffic;

/// How broker-a goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// X1: SIGKILL (no shutdown hooks; consumer offsets as last flushed).
    Kill,
    /// X2: SIGTERM and wait for the exit (graceful shutdown: offsets flushed, unregistered).
    Graceful,
}

/// X1 / X2: broker-a down for `down` (killed or stopped gracefully), then started again on the
/// same ports and store, under sync + async + orderly load with a concurrent and an orderly
/// consumer group.
async fn broker_down_scenario(name: &str, stop: Stop, down: Duration, rate: u32) {
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

    // How far behind each group is when the fault hits: what a group has cached but not yet
    // committed when the broker dies is consumed, cannot be committed, and comes again (dup).
    let lag_at_kill = (h.lag(&conc_group).await, h.lag(&ord_group).await);
    match stop {
        Stop::Kill => {
            h.fault("kill -9 broker-a", |c| c.kill_broker("broker-a")).await;
            // Offsets read back from now on are compared only with each other: the restarted
            // broker serves the consumer offsets it last flushed (up to 1 s old) before the kill.
            h.rec.new_offset_epoch();
            ord_rec.new_offset_epoch();
        }
        // A graceful stop flushes the offsets: no regression is excused.
        Stop::Graceful => h.fault("SIGTERM broker-a", |c| c.stop_broker("broker-a")).await,
    }
    let killed = Instant::now();
    tokio::time::sleep(down).await;
    h.fault("start broker-a", |c| c.start_broker("broker-a")).await;
    let restarted = Instant::now();
    // Recovery of sends: the sync producer's first ack from broker-a after the restart.
    let queue_a = h.queue_of("broker-a").unwrap();
    let send_recovery = h
        .probe_send(&sync_p, &queue_a, restarted, Duration::from_secs(60))
        .await;

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
    // Each group's committed offsets reach the queue ends (everything acked delivered, lag 0),
    // measured from the restart, without a client restart.
    let settled = settle_times(
        &h,
        &[(&conc_group, &h.rec), (&ord_group, &ord_rec)],
        restarted,
        Duration::from_secs(120),
    )
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
    // Where each group's duplicates of broker-a's messages come from: first delivered before the
    // kill (their commit was not yet durable on the broker when it died), or after it (consumed
    // while the broker was down or after it restarted from an older offset).
    let (dup_before_c, dup_after_c) = dups_of_broker_a(&h.rec, killed);
    let (dup_before_o, dup_after_o) = dups_of_broker_a(&ord_rec, killed);
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
             settled_conc={} settled_ord={} lag_at_kill={}/{} \
             dup_of_a_first_delivered_before/after_kill=conc:{dup_before_c}/{dup_after_c},ord:{dup_before_o}/{dup_after_o} \
             send_recovery={} max_sync_send={max_sync_ms}ms sync_over_budget={over_budget} drain={}/{}",
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
            settled[0].map_or("never".into(), secs),
            settled[1].map_or("never".into(), secs),
            lag_at_kill.0.map_or("?".into(), |l| l.to_string()),
            lag_at_kill.1.map_or("?".into(), |l| l.to_string()),
            send_recovery.map_or("never".into(), secs),
            secs(drain_c),
            secs(drain_o),
        ),
    );

    assert!(resumed.is_some(), "consumption of broker-a did not resume");
    assert!(callbacks.is_some(), "async callbacks missing: {rc}");
    for (group, r) in [("concurrent", &rc), ("orderly", &ro)] {
        eprintln!("checking the {group} group");
        assert_nothing_lost(r);
        assert_sends_completed_once(r);
        assert_eq!(r.offset_regressions, 0, "{group}: {r}");
    }
    assert!(rc.acked > 0 && rc.indeterminate + rc.failed < rc.sent);
    assert!(conc_resume.unwrap() < Duration::from_secs(60), "{conc_resume:?}");
    assert!(ord_resume.unwrap() < Duration::from_secs(60), "{ord_resume:?}");
    for (group, t) in [("concurrent", settled[0]), ("orderly", settled[1])] {
        let t = t.unwrap_or_else(|| panic!("{group}: committed offsets never reached the queue ends"));
        assert!(
            t < Duration::from_secs(60),
            "{group}: committed offsets at the queue ends {t:?} after the restart"
        );
    }
    assert_sync_sends_within_budget(&sync_latency);
    let send_recovery = send_recovery.expect("no send to broker-a acked after the restart");
    if stop == Stop::Graceful {
        // X2: dup <= 5 s x the offered rate (three loads into the topic); recovery <= 30 s.
        let dup_budget = 5 * 3 * u64::from(rate);
        for (group, r) in [("concurrent", &rc), ("orderly", &ro)] {
            assert!(
                r.duplicates <= dup_budget,
                "{group}: dup {} > {dup_budget}: {r}",
                r.duplicates
            );
        }
        let recovery = send_recovery.max(conc_resume.unwrap()).max(ord_resume.unwrap());
        assert!(recovery <= Duration::from_secs(30), "recovery {recovery:?}");
    }
}

/// For each `(group, recorder)`: how long after `since` every acked message was delivered to it
/// and its committed offsets reached the queue ends (lag 0); `None` if not within `deadline`.
async fn settle_times(
    h: &Harness,
    groups: &[(&String, &rmq_chaos::checker::Recorder)],
    since: Instant,
    deadline: Duration,
) -> Vec<Option<Duration>> {
    let mut out = vec![None; groups.len()];
    while out.iter().any(Option::is_none) && since.elapsed() < deadline {
        for (i, (group, rec)) in groups.iter().enumerate() {
            if out[i].is_none() && rec.undelivered() == 0 && h.lag(group).await == Some(0) {
                out[i] = Some(since.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    out
}

/// Duplicate deliveries of broker-a's messages, split by when the message was first delivered:
/// before `killed`, or at or after it.
fn dups_of_broker_a(rec: &rmq_chaos::checker::Recorder, killed: Instant) -> (usize, usize) {
    use std::collections::HashMap;
    let history = rec.history();
    let mut first: HashMap<&str, Instant> = HashMap::new();
    let (mut before, mut after) = (0, 0);
    for d in history
        .deliveries
        .iter()
        .filter(|d| d.queue.broker_name == "broker-a" && !d.queue.topic.starts_with("%RETRY%"))
    {
        match first.get(d.body.as_str()) {
            None => {
                first.insert(&d.body, d.entered);
            }
            Some(t) if *t < killed => before += 1,
            Some(_) => after += 1,
        }
    }
    (before, after)
}

/// Short version for the normal suite: down 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_kill_5s() {
    broker_down_scenario(
        "X1 kill -9 broker-a 5 s (short)",
        Stop::Kill,
        Duration::from_secs(5),
        40,
    )
    .await;
}

/// Full version: down 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn broker_kill_30s() {
    broker_down_scenario(
        "X1 kill -9 broker-a 30 s",
        Stop::Kill,
        Duration::from_secs(30),
        100,
    )
    .await;
}

/// X2 short version for the normal suite: SIGTERM, down 5 s, start again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_graceful_restart_5s() {
    broker_down_scenario(
        "X2 graceful restart of broker-a, down 5 s (short)",
        Stop::Graceful,
        Duration::from_secs(5),
        40,
    )
    .await;
}

/// X2 full version: SIGTERM, down 30 s, start again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn broker_graceful_restart_30s() {
    broker_down_scenario(
        "X2 graceful restart of broker-a, down 30 s",
        Stop::Graceful,
        Duration::from_secs(30),
        100,
    )
    .await;
}

/// X3: SIGSTOP broker-a for `paused`, under sync and async sends with a concurrent consumer.
async fn pause_scenario(name: &str, paused: Duration, rate: u32) {
    init_tracing();
    let h = Harness::start(4).await;
    let mut t = Traffic::start(&h, "g_pause", rate).await;
    let group = t.group.clone();
    let (stop, sampler) = h.spawn_sampler(&group, &h.rec, Duration::from_secs(1)).await;

    h.fault("SIGSTOP broker-a", |c| c.pause_broker("broker-a")).await;
    let sent_before = h.rec.sends();
    tokio::time::sleep(paused).await;
    h.fault("SIGCONT broker-a", |c| c.resume_broker("broker-a")).await;
    let resumed = Instant::now();
    let callbacks = t.stop_loads(&h).await;
    // Lag back to 0 (everything stored consumed and committed) after the resume.
    let lag_zero = eventually(Duration::from_secs(120), || async {
        h.rec.undelivered() == 0 && h.lag(&group).await == Some(0)
    })
    .await
    .map(|_| resumed.elapsed());
    let drain = t.drain(&h, Duration::from_secs(60)).await;
    stop.cancel();
    let _ = sampler.await;
    let sync_latency = t.sync_latency.clone();
    t.shutdown().await;

    let r = h.rec.history().check();
    let max_sync_ms = sync_latency.max_ms.load(std::sync::atomic::Ordering::Relaxed);
    let over_budget = sync_latency
        .over_budget
        .load(std::sync::atomic::Ordering::Relaxed);
    report_figures(
        name,
        &format!(
            "[{r}] sends_during_pause={} max_sync_send={max_sync_ms}ms sync_over_budget={over_budget} \
             lag0_after_resume={} drain={}",
            h.rec.sends().saturating_sub(sent_before),
            lag_zero.map_or("never".into(), secs),
            secs(drain),
        ),
    );
    assert!(callbacks, "async callbacks missing: {r}");
    assert_nothing_lost(&r);
    assert_sends_completed_once(&r);
    assert_eq!(r.offset_regressions, 0, "{r}");
    assert_sync_sends_within_budget(&sync_latency);
    let lag_zero = lag_zero.expect("lag never reached 0");
    assert!(
        lag_zero < Duration::from_secs(60),
        "lag 0 only after {lag_zero:?}"
    );
}

/// Short version for the normal suite: paused 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_pause_5s() {
    pause_scenario("X3 SIGSTOP broker-a 5 s (short)", Duration::from_secs(5), 40).await;
}

/// Full version: paused 40 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn broker_pause_40s() {
    pause_scenario("X3 SIGSTOP broker-a 40 s", Duration::from_secs(40), 100).await;
}

/// X7: the (only) name server killed for `down`: producing and consuming go on with the cached
/// routes; route requests reach the name server again after it is back.
async fn namesrv_scenario(name: &str, down: Duration, rate: u32) {
    init_tracing();
    let h = Harness::start(4).await;
    let group = rmq_testkit::unique_name("g_ns");
    let c = h
        .concurrent(h.consumer_config(&group, "conc-1"), Behavior::default(), &h.rec)
        .await;
    let p = Arc::new(h.producer("sync").await);
    let load = Load::start(&h, p.clone(), "sync", Mode::Sync, rate, 8);
    let warm = eventually(Duration::from_secs(90), || async { h.rec.deliveries() > 100 }).await;
    assert!(warm.is_some(), "no consumption before the fault");

    // Baseline: the acked rate this machine sustains before the fault.
    let window = down.min(Duration::from_secs(20));
    let acked_before = h.rec.history().check().acked;
    tokio::time::sleep(window).await;
    let baseline = (h.rec.history().check().acked - acked_before) as f64 / window.as_secs_f64();
    h.fault("kill -9 name server", |c| c.kill_namesrv()).await;
    let (acked0, delivered0) = (h.rec.history().check().acked, h.rec.deliveries());
    let connects0 = h.proxied.namesrv().stats().accepted;
    let before = Instant::now();
    tokio::time::sleep(down).await;
    let r_down = h.rec.history().check();
    let (acked_during, delivered_during) = (r_down.acked - acked0, h.rec.deliveries() - delivered0);
    let failed_during = r_down.failed + r_down.indeterminate;
    let outage = before.elapsed();
    // Connections the clients opened to the (dead) name server during the outage: a reconnect storm
    // would show here (and cost throughput).
    let connects_during = h.proxied.namesrv().stats().accepted - connects0;
    let requests_before = h.proxied.namesrv().stats().requests;
    h.fault("start name server", |c| c.start_namesrv()).await;
    let back = Instant::now();
    // The client asks the name server again (its route poll) once it is back.
    let refresh = eventually(Duration::from_secs(90), || async {
        h.proxied.namesrv().stats().requests > requests_before
    })
    .await
    .map(|_| back.elapsed());
    load.stop().await;
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(90))
        .await;
    c.shutdown().await;
    p.shutdown().await;

    let r = h.rec.history().check();
    let rate_during = acked_during as f64 / outage.as_secs_f64();
    report_figures(
        name,
        &format!(
            "[{r}] during_outage: acked={acked_during} ({rate_during:.0}/s; before: {baseline:.0}/s; offered {rate}/s) \
             delivered={delivered_during} send_errors={failed_during} namesrv_connects_during={connects_during} \
             route_request_after_restart={} drain={}",
            refresh.map_or("never".into(), secs),
            secs(drain),
        ),
    );
    assert_nothing_lost(&r);
    assert_eq!(
        failed_during, 0,
        "sends failed while only the name server was down: {r}"
    );
    assert!(
        rate_during >= 0.8 * baseline,
        "throughput on cached routes {rate_during:.0}/s, before {baseline:.0}/s"
    );
    assert!(
        delivered_during > 0,
        "nothing consumed while the name server was down"
    );
    assert!(
        refresh.is_some(),
        "no route request after the name server came back"
    );
}

/// Short version for the normal suite: down 15 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn namesrv_down_15s() {
    namesrv_scenario("X7 name server down 15 s (short)", Duration::from_secs(15), 40).await;
}

/// Full version: down 2 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn namesrv_down_2min() {
    namesrv_scenario("X7 name server down 120 s", Duration::from_secs(120), 100).await;
}
