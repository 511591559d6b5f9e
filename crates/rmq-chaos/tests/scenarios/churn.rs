//! Consumer-group churn with concurrent consumers (`reliability-scenarios.md` R5): a consumer joins
//! or leaves the group every 5 s while a producer sends. Lost 0, unexpected 0; every
//! membership epoch converges to the `Average` allocation and stays there (see
//! `rmq_chaos::assignment` for the sample's definition); lag 0 within 60 s after the churn stops;
//! duplicates reported.
//!
//! The full-length run (a change every 5 s for 2 minutes) is ignored by default:
//! `cargo test -p rmq-chaos --test scenarios churn::consumers_join -- --ignored --test-threads=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::Duration;

use rmq_chaos::churn::{self, ChurnOutcome, ChurnPlan};

/// Longest time from a membership change to the first sample where every consumer holds exactly
/// its allocation: a consumer learns of a change from the broker's notification at once, else from
/// its 20 s rebalance tick (as Java), so any change is absorbed within 20 s. An epoch the next
/// change (5 s later) cuts short before that is reported as superseded, not judged.
pub(crate) const CONVERGENCE_BOUND: Duration = Duration::from_secs(20);
/// The group must have committed everything this long after the churn stops (R5).
pub(crate) const LAG_ZERO_BOUND: Duration = Duration::from_secs(60);

fn plan(period: Duration, duration: Duration) -> ChurnPlan {
    ChurnPlan::standard(false, period, duration, Duration::from_millis(1))
}

fn judge(name: &str, o: &ChurnOutcome) {
    o.assert_churn_criteria(name, CONVERGENCE_BOUND, LAG_ZERO_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_join_and_leave_every_5s_for_30s() {
    crate::support::init_warn_logs();
    let o = churn::run(&plan(Duration::from_secs(5), Duration::from_secs(30)))
        .await
        .unwrap();
    judge("churn (5 s x 30 s)", &o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full length (about 3 minutes): cargo test -p rmq-chaos --test scenarios churn::consumers_join -- --ignored"]
async fn consumers_join_and_leave_every_5s_for_2min() {
    crate::support::init_warn_logs();
    let o = churn::run(&plan(Duration::from_secs(5), Duration::from_secs(120)))
        .await
        .unwrap();
    judge("churn (5 s x 2 min)", &o);
}
