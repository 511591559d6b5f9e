//! Consumer-side faults (scenarios run one at a time on the binary's cluster): H1 shutdown with
//! hundreds of messages in flight. Group churn (R5, O3) and the slow listener (S1) are in
//! `tests/churn.rs`, `tests/orderly_churn.rs` and `tests/slow_listener.rs`.
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
    assert_eq!((r.lost, r.unconsumed, r.unexpected), (0, 0, 0), "{r}");
    assert!(
        (unfinished..=unfinished_at_await).contains(&r.duplicates),
        "duplicates {} outside the unfinished listener calls {unfinished}..={unfinished_at_await}: {r}",
        r.duplicates
    );
    assert_eq!(r.offset_regressions, 0, "{r}");
}
