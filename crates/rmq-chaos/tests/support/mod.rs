//! Helpers shared by the scenario binaries.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::{Duration, Instant};

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Client warnings (failed sends, stuck queues) on the test output; `RUST_LOG` (e.g.
/// `rmq_client=debug,rmq_chaos=debug`) shows more.
pub fn init_warn_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Polls `cond` every 200 ms until it holds or `timeout` passes; returns how long it took, or
/// `None` on timeout.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if cond().await {
            return Some(started.elapsed());
        }
        if started.elapsed() >= timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Seconds with one decimal, for figure lines.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Panics anywhere in this process (client tasks included: Tokio catches a task's panic, but the
/// panic hook sees it) since the first call. Scenarios compare it before and after.
pub fn panics() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, OnceLock};
    static COUNT: OnceLock<Arc<AtomicU64>> = OnceLock::new();
    COUNT
        .get_or_init(|| {
            let count = Arc::new(AtomicU64::new(0));
            let seen = count.clone();
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                seen.fetch_add(1, Ordering::Relaxed);
                previous(info);
            }));
            count
        })
        .load(Ordering::Relaxed)
}

/// Every acked send delivered (`lost`, `unconsumed`) and nothing delivered that was not sent.
pub fn assert_nothing_lost(r: &rmq_chaos::checker::Report) {
    assert_eq!(
        (r.lost, r.unconsumed, r.unexpected),
        (0, 0, 0),
        "lost, unconsumed, unexpected: {r}"
    );
}

/// Every send completed exactly once (sync return or async callback).
pub fn assert_sends_completed_once(r: &rmq_chaos::checker::Report) {
    assert_eq!(
        (r.pending, r.extra_completions),
        (0, 0),
        "pending, extra completions: {r}"
    );
}

/// No sync send took longer than its send timeout plus one second.
pub fn assert_sync_sends_within_budget(latency: &rmq_chaos::harness::SendLatency) {
    use std::sync::atomic::Ordering;
    let (over, max) = (
        latency.over_budget.load(Ordering::Relaxed),
        latency.max_ms.load(Ordering::Relaxed),
    );
    assert_eq!(over, 0, "sync sends over the send timeout + 1 s (max {max} ms)");
}

/// No stored copy of a message delivered twice (`duplicates` are all `stored_twice`): for a
/// single consumer that keeps its queues, every delivery moves its offset on.
pub fn assert_no_redelivery(r: &rmq_chaos::checker::Report) {
    assert_eq!(
        r.duplicates - r.stored_twice,
        0,
        "a stored copy delivered more than once: {r}"
    );
}
