//! Orderly consumers under group churn (`reliability-scenarios.md` R5 with O3's criteria): a
//! consumer joins or leaves every 5 s while a producer sends 64 keys, each key to the queue
//! its hash picks. Order violations 0 (no rewind within a consumer's lease of a queue, acked order a
//! subsequence of delivery order per key), lease overlaps 0 (no two consumers inside the listener for
//! one queue at once), lost 0; the assignment converges after every change and lag reaches 0 within
//! 60 s after the churn.
//!
//! The full-length run (a change every 5 s for 2 minutes) is ignored by default:
//! `cargo test -p rmq-chaos --test scenarios orderly_churn:: -- --ignored --test-threads=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::Duration;

use rmq_chaos::churn::{self, ChurnOutcome, ChurnPlan};

use super::churn::{CONVERGENCE_BOUND, LAG_ZERO_BOUND};

fn plan(period: Duration, duration: Duration) -> ChurnPlan {
    // Long enough that two consumers working one queue at once would overlap in time.
    ChurnPlan::standard(true, period, duration, Duration::from_millis(5))
}

fn judge(name: &str, o: &ChurnOutcome) {
    o.assert_churn_criteria(name, CONVERGENCE_BOUND, LAG_ZERO_BOUND);
    let r = &o.report;
    assert_eq!((r.order_violations, r.lease_overlaps), (0, 0), "{r}");
    // An orderly queue is never worked by two consumers, so never held by two (stats) either.
    assert_eq!(o.assignment.double_held, 0, "{}", o.assignment);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_consumers_join_and_leave_every_5s_for_30s() {
    crate::support::init_warn_logs();
    let o = churn::run(&plan(Duration::from_secs(5), Duration::from_secs(30)))
        .await
        .unwrap();
    judge("orderly churn (5 s x 30 s)", &o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full length (about 3 minutes): cargo test -p rmq-chaos --test scenarios orderly_churn:: -- --ignored"]
async fn orderly_consumers_join_and_leave_every_5s_for_2min() {
    crate::support::init_warn_logs();
    let o = churn::run(&plan(Duration::from_secs(5), Duration::from_secs(120)))
        .await
        .unwrap();
    judge("orderly churn (5 s x 2 min)", &o);
}
