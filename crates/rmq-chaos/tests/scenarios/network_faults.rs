//! Faults injected by the proxies (scenarios run one at a time on the binary's cluster):
//! X4 black-holed broker connection, X5 delayed and lossy broker links, F2 offset queries
//! failing at start, T3 send-back failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use rmq_chaos::harness::{classify, Behavior, Harness};
use rmq_chaos::load::{Load, Mode};
use rmq_chaos::report_figures;
use rmq_protocol::message::Message;
use rmq_protocol::{RequestCode, ResponseCode};
use rmq_testkit::Fault;

/// X4: broker-a's connections black-holed (no byte moves, never an RST) for `hole`. The clients'
/// pending-request tables (per connection, from `health()`) stay under a cap during the hole and
/// empty after it.
async fn black_hole_scenario(name: &str, hole: Duration, rate: u32) {
    init_tracing();
    let h = Harness::start(4).await;
    let group = rmq_testkit::unique_name("g_hole");
    let c = h
        .concurrent(h.consumer_config(&group, "conc-1"), Behavior::default(), &h.rec)
        .await;
    let sync_p = Arc::new(h.producer("sync").await);
    let async_p = Arc::new(h.producer("async").await);
    let sync_load = Load::start(&h, sync_p.clone(), "sync", Mode::Sync, rate, 8);
    let async_load = Load::start(&h, async_p.clone(), "async", Mode::Async, rate, 8);
    let warm = eventually(Duration::from_secs(90), || async { h.rec.deliveries() > 100 }).await;
    assert!(warm.is_some(), "no consumption before the fault");
    let queue_a = h.queue_of("broker-a").unwrap();

    let proxy = h.proxied.broker("broker-a").unwrap();
    proxy.set_fault(Fault::BlackHole);
    let holed = Instant::now();
    let max_pending = Arc::new(AtomicUsize::new(0));
    // The pending-request table of every connection of the three clients (health snapshots).
    let tables = || {
        [sync_p.health().client, async_p.health().client, c.health().client]
            .map(|c| c.pending_requests.values().copied().max().unwrap_or(0))
    };
    let mut max_table = [0usize; 3];
    while holed.elapsed() < hole {
        max_pending.fetch_max(async_p.pending_sends(), Ordering::Relaxed);
        for (m, t) in max_table.iter_mut().zip(tables()) {
            *m = (*m).max(t);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    proxy.set_fault(Fault::Pass);
    let healed = Instant::now();
    // The same producer reaches broker-a again (explicit queue: no latency-based avoidance).
    let reconnect = h
        .probe_send(&sync_p, &queue_a, healed, Duration::from_secs(60))
        .await
        .unwrap_or_else(|| healed.elapsed());
    let consumed_a = eventually(Duration::from_secs(60), || async {
        Harness::first_delivery_from(&h.rec, "broker-a", healed).is_some()
    })
    .await
    .map(|_| Harness::first_delivery_from(&h.rec, "broker-a", healed).unwrap() - healed);
    let sync_latency = sync_load.latency.clone();
    sync_load.stop().await;
    async_load.stop().await;
    let callbacks = eventually(Duration::from_secs(15), || async {
        h.rec.history().check().pending == 0
    })
    .await;
    // After the heal and the loads: the producers' tables empty, the consumer's holds at most its
    // long polls (one per queue).
    let queues = h.queues().await.len();
    let tables_settled = eventually(Duration::from_secs(15), || async {
        let [s, a, c] = tables();
        s == 0 && a == 0 && c <= queues
    })
    .await;
    let tables_after = tables();
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(90))
        .await;
    c.shutdown().await;
    sync_p.shutdown().await;
    async_p.shutdown().await;

    let r = h.rec.history().check();
    // Entries leave a connection's table at their deadline (3 s sends; sweep every 0.5 s), so it
    // holds at most what a client starts in 4 s, plus one pull per queue and a few heartbeats and
    // offset commits: `rate` sends a second.
    let table_cap = rate as usize * 4 + 64;
    let max_sync_ms = sync_latency.max_ms.load(Ordering::Relaxed);
    let over_budget = sync_latency.over_budget.load(Ordering::Relaxed);
    let max_pending = max_pending.load(Ordering::Relaxed);
    report_figures(
        name,
        &format!(
            "[{r}] max_async_pending={max_pending} max_pending_table(sync,async,consumer)={max_table:?} (cap {table_cap}) \
             pending_table_after={tables_after:?} max_sync_send={max_sync_ms}ms sync_over_budget={over_budget} \
             first_ok_send_to_a_after_heal={} first_delivery_from_a_after_heal={} drain={}",
            secs(reconnect),
            consumed_a.map_or("never".into(), secs),
            secs(drain)
        ),
    );
    assert!(callbacks.is_some(), "async callbacks missing: {r}");
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
    assert_eq!((r.pending, r.extra_completions), (0, 0), "{r}");
    assert!(
        reconnect < Duration::from_secs(5),
        "broker-a reached again after {reconnect:?}"
    );
    let consumed_a = consumed_a.expect("nothing consumed from broker-a after the heal");
    assert!(consumed_a < Duration::from_secs(10), "{consumed_a:?}");
    assert_eq!(
        over_budget, 0,
        "sync sends over the send timeout + 1 s (max {max_sync_ms} ms)"
    );
    assert!(
        max_table.iter().all(|m| *m <= table_cap),
        "pending-request table {max_table:?} over {table_cap}"
    );
    assert!(
        max_table[0] + max_table[1] > 0,
        "the producers' tables never held a request: not sampled?"
    );
    assert!(
        tables_settled.is_some(),
        "pending-request tables after the heal: {tables_after:?} (consumer may hold {queues} long polls)"
    );
    // Async sends in flight are bounded by rate x (timeout x attempts): nothing piles up.
    let bound = rate as usize * 10;
    assert!(
        max_pending <= bound,
        "async sends pending: {max_pending} > {bound}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn black_hole_8s() {
    black_hole_scenario("X4 black-hole broker-a 8 s (short)", Duration::from_secs(8), 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn black_hole_60s() {
    black_hole_scenario("X4 black-hole broker-a 60 s", Duration::from_secs(60), 100).await;
}

/// X5's two network faults on every broker connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    /// Every chunk forwarded 100 ± 50 ms later (both directions, order kept).
    Delay,
    /// Stalls and resets as 80 % packet loss shows above TCP (`rmq_chaos::lossy`).
    Lossy,
}

/// X5: `net` on the links to both brokers for `length`, under sync + async sends with a
/// concurrent consumer.
async fn bad_network_scenario(name: &str, net: Net, length: Duration, rate: u32) {
    use rmq_chaos::lossy::{lossy_link, LossyPlan};
    use rmq_testkit::Fault;

    init_tracing();
    let panics_before = panics();
    let h = Harness::start(4).await;
    let group = rmq_testkit::unique_name("g_net");
    let c = h
        .concurrent(h.consumer_config(&group, "conc-1"), Behavior::default(), &h.rec)
        .await;
    let sync_p = Arc::new(h.producer("sync").await);
    let async_p = Arc::new(h.producer("async").await);
    let sync_load = Load::start(&h, sync_p.clone(), "sync", Mode::Sync, rate, 8);
    let async_load = Load::start(&h, async_p.clone(), "async", Mode::Async, rate, 8);
    let warm = eventually(Duration::from_secs(90), || async { h.rec.deliveries() > 100 }).await;
    assert!(warm.is_some(), "no consumption before the fault");

    let latency = sync_load.latency.clone();
    let sends_before = latency.count();
    let (delivered_before, sent_before) = (h.rec.deliveries(), h.rec.sends());
    let lossy = match net {
        Net::Delay => {
            let jitter = Fault::Jitter {
                base: Duration::from_millis(100),
                spread: Duration::from_millis(50),
            };
            for (_, proxy) in h.proxied.brokers() {
                proxy.set_fault(jitter);
            }
            tokio::time::sleep(length).await;
            for (_, proxy) in h.proxied.brokers() {
                proxy.set_fault(Fault::Pass);
            }
            None
        }
        Net::Lossy => Some(lossy_link(&h.proxied, LossyPlan::default(), length).await),
    };
    let sync_during = latency.count() - sends_before;
    let p50 = latency.percentile_ms(50.0, sends_before);
    let p99 = latency.percentile_ms(99.0, sends_before);
    let (delivered_during, sent_during) =
        (h.rec.deliveries() - delivered_before, h.rec.sends() - sent_before);
    sync_load.stop().await;
    async_load.stop().await;
    let callbacks = eventually(Duration::from_secs(15), || async {
        h.rec.history().check().pending == 0
    })
    .await;
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(90))
        .await;
    c.shutdown().await;
    sync_p.shutdown().await;
    async_p.shutdown().await;
    let panicked = panics() - panics_before;

    let r = h.rec.history().check();
    let max_sync_ms = latency.max_ms.load(Ordering::Relaxed);
    let fault = match lossy {
        Some(o) => format!(
            "stalls={} resets={} stalled={:.0}%",
            o.stalls,
            o.resets,
            100.0 * o.stalled.as_secs_f64() / length.as_secs_f64()
        ),
        None => "jitter=100+-50ms".to_string(),
    };
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v}ms"));
    report_figures(
        name,
        &format!(
            "[{r}] {fault} during_fault: sends={sent_during} sync_sends={sync_during} \
             delivered={delivered_during} sync_p50={} sync_p99={} max_sync_send={max_sync_ms}ms \
             panics={panicked} drain={}",
            ms(p50),
            ms(p99),
            secs(drain)
        ),
    );
    assert_eq!(panicked, 0, "panics during the scenario");
    assert!(callbacks.is_some(), "async callbacks missing: {r}");
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
    assert_eq!((r.pending, r.extra_completions), (0, 0), "{r}");
    assert!(
        r.duplicates <= r.indeterminate,
        "dup {} > info {}: {r}",
        r.duplicates,
        r.indeterminate
    );
    assert!(delivered_during > 0, "nothing consumed during the fault");
    if net == Net::Delay {
        let p99 = p99.expect("no sync send during the delay");
        assert!(p99 < 3000, "sync send p99 {p99} ms under delay");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delayed_links_15s() {
    bad_network_scenario(
        "X5 100+-50 ms delay 15 s (short)",
        Net::Delay,
        Duration::from_secs(15),
        40,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn delayed_links_120s() {
    bad_network_scenario(
        "X5 100+-50 ms delay 120 s",
        Net::Delay,
        Duration::from_secs(120),
        100,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lossy_links_15s() {
    bad_network_scenario(
        "X5 lossy links 15 s (short)",
        Net::Lossy,
        Duration::from_secs(15),
        40,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with --ignored (docs/reliability.md)"]
async fn lossy_links_120s() {
    bad_network_scenario("X5 lossy links 120 s", Net::Lossy, Duration::from_secs(120), 100).await;
}

/// Sends `n` messages of client `client` synchronously, recording them.
async fn produce(h: &Harness, client: &str, n: u64) {
    let p = h.producer(client).await;
    for seq in 0..n {
        let body = h.body(client, "k", seq);
        h.rec.invoke(&body, "k", seq);
        let r = p.send(Message::new(&h.topic, body.clone())).await;
        h.rec.complete(&body, classify(&r));
    }
    p.shutdown().await;
}

/// F2: QUERY_CONSUMER_OFFSET answered with SYSTEM_ERROR, then swallowed (timeouts), while an
/// existing group's consumer starts: it must consume nothing and commit nothing until it knows
/// the offsets, then continue exactly where the group was.
async fn offset_query_scenario(name: &str, phase: Duration) {
    init_tracing();
    let h = Harness::start(2).await;
    let group = rmq_testkit::unique_name("g_offq");
    produce(&h, "first", 40).await;
    let c1 = h
        .concurrent(h.consumer_config(&group, "c1"), Behavior::default(), &h.rec)
        .await;
    let settled = eventually(Duration::from_secs(60), || async {
        h.rec.undelivered() == 0 && h.lag(&group).await == Some(0)
    })
    .await;
    assert!(settled.is_some(), "the group did not consume the first batch");
    c1.shutdown().await;
    h.sample_offsets(&group, &h.rec).await;
    produce(&h, "second", 40).await;

    let (stop, sampler) = h.spawn_sampler(&group, &h.rec, Duration::from_millis(500)).await;
    for (_, proxy) in h.proxied.brokers() {
        proxy.answer(RequestCode::QUERY_CONSUMER_OFFSET, ResponseCode::SYSTEM_ERROR);
    }
    let before = h.rec.deliveries();
    let c2 = h
        .concurrent(h.consumer_config(&group, "c2"), Behavior::default(), &h.rec)
        .await;
    tokio::time::sleep(phase).await;
    for (_, proxy) in h.proxied.brokers() {
        proxy.swallow(RequestCode::QUERY_CONSUMER_OFFSET);
    }
    c2.rebalance_now();
    tokio::time::sleep(phase).await;
    let during = h.rec.deliveries() - before;
    let refused: u64 = h
        .proxied
        .brokers()
        .map(|(_, p)| p.stats().answered + p.stats().swallowed)
        .sum();
    for (_, proxy) in h.proxied.brokers() {
        proxy.forward(RequestCode::QUERY_CONSUMER_OFFSET);
    }
    let healed = Instant::now();
    let caught_up = eventually(Duration::from_secs(90), || async { h.rec.undelivered() == 0 })
        .await
        .map(|_| healed.elapsed());
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(60))
        .await;
    stop.cancel();
    let _ = sampler.await;
    c2.shutdown().await;

    let r = h.rec.history().check();
    report_figures(
        name,
        &format!(
            "[{r}] offset_queries_refused={refused} consumed_while_unknown={during} \
             all_consumed_after_heal={} drain={}",
            caught_up.map_or("never".into(), secs),
            secs(drain)
        ),
    );
    assert!(refused > 0, "the consumer never asked for its offsets");
    assert_eq!(during, 0, "consumed while the offset was unknown");
    assert_eq!(r.offset_regressions, 0, "a guessed offset was committed: {r}");
    assert_eq!(r.duplicates, 0, "re-consumed from a guessed offset: {r}");
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
    assert!(caught_up.is_some(), "not everything consumed after the heal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offset_query_failing_at_start() {
    offset_query_scenario(
        "F2 offset query failing at start (error 8 s, timeout 8 s)",
        Duration::from_secs(8),
    )
    .await;
}

/// T3: the listener fails one message while CONSUMER_SEND_MSG_BACK is refused; the group's
/// committed offset must not pass it, and after a restart it is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn send_back_failing() {
    init_tracing();
    let name = "T3 send-back failing";
    let h = Harness::start(2).await;
    let group = rmq_testkit::unique_name("g_back");
    for (_, proxy) in h.proxied.brokers() {
        proxy.answer(RequestCode::CONSUMER_SEND_MSG_BACK, ResponseCode::SYSTEM_ERROR);
    }
    produce(&h, "p", 40).await;
    let target = h.body("p", "k", 10);
    let failing = Arc::new(AtomicBool::new(true));
    let behavior = Behavior {
        work: Duration::ZERO,
        fails: Some({
            let (target, failing) = (target.clone(), failing.clone());
            Arc::new(move |m| failing.load(Ordering::Relaxed) && m.body[..] == *target.as_bytes())
        }),
    };
    let c1 = h
        .concurrent(h.consumer_config(&group, "c1"), behavior, &h.rec)
        .await;
    // Everything delivered, the target at least twice (failed, send-back refused, retried locally).
    let settled = eventually(Duration::from_secs(90), || async {
        let hist = h.rec.history();
        let tries = hist.deliveries.iter().filter(|d| d.body == target).count();
        h.rec.undelivered() == 0 && tries >= 2
    })
    .await;
    assert!(settled.is_some(), "{}", h.rec.history().check());
    let first = h
        .rec
        .history()
        .deliveries
        .into_iter()
        .find(|d| d.body == target)
        .unwrap();
    // Give the consumer time to persist (interval 1 s), then read what it committed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let committed = h
        .admin
        .query_consumer_offset(&group, &first.queue)
        .await
        .unwrap()
        .unwrap_or(-1);
    let refused: u64 = h.proxied.brokers().map(|(_, p)| p.stats().answered).sum();
    c1.shutdown().await;
    let after_shutdown = h
        .admin
        .query_consumer_offset(&group, &first.queue)
        .await
        .unwrap()
        .unwrap_or(-1);

    // Restart: send-back works again, the listener no longer fails.
    failing.store(false, Ordering::Relaxed);
    for (_, proxy) in h.proxied.brokers() {
        proxy.forward(RequestCode::CONSUMER_SEND_MSG_BACK);
    }
    let restarted = Instant::now();
    let c2 = h
        .concurrent(h.consumer_config(&group, "c2"), Behavior::default(), &h.rec)
        .await;
    let delivered_after = eventually(Duration::from_secs(60), || async {
        h.rec
            .history()
            .deliveries
            .iter()
            .any(|d| d.body == target && d.consumer == "c2")
    })
    .await
    .map(|_| restarted.elapsed());
    let drain = h
        .drain(&group, &h.rec, Duration::from_secs(3), Duration::from_secs(60))
        .await;
    c2.shutdown().await;

    let r = h.rec.history().check();
    report_figures(
        name,
        &format!(
            "[{r}] send_backs_refused={refused} target_offset={} committed_while_failing={committed} \
             committed_after_shutdown={after_shutdown} redelivered_after_restart={} drain={}",
            first.offset,
            delivered_after.map_or("never".into(), secs),
            secs(drain)
        ),
    );
    assert!(refused > 0, "no send-back was attempted");
    assert!(
        committed <= first.offset,
        "committed {committed} past the failed message at {}",
        first.offset
    );
    assert!(
        after_shutdown <= first.offset,
        "shutdown committed {after_shutdown} past {}",
        first.offset
    );
    assert!(
        delivered_after.is_some(),
        "the failed message was not delivered after the restart"
    );
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
}
