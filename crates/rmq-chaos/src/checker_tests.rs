use std::time::{Duration, Instant};

use super::*;

fn q(id: i32) -> MessageQueue {
    MessageQueue::new("T", "broker-a", id)
}

fn body(key: &str, seq: u64) -> String {
    format!("run:p:{key}:{seq}")
}

/// A history builder with a fixed time origin; times are milliseconds after it.
struct H {
    t0: Instant,
    rec: Recorder,
}

impl H {
    fn new() -> Self {
        H {
            t0: Instant::now(),
            rec: Recorder::new(),
        }
    }

    fn send(&self, key: &str, seq: u64, outcome: SendOutcome) -> &Self {
        let b = body(key, seq);
        self.rec.invoke(&b, key, seq);
        self.rec.complete(&b, outcome);
        self
    }

    fn acked(&self, key: &str, seqs: std::ops::Range<u64>) -> &Self {
        for s in seqs {
            self.send(key, s, SendOutcome::Ok);
        }
        self
    }

    /// Delivers `key:seq` from `queue` to `consumer`, inside the listener from `from` to `to` ms.
    fn deliver_at(&self, key: &str, seq: u64, queue: i32, consumer: &str, from: u64, to: u64) -> &Self {
        self.deliver_raw(&body(key, seq), queue, consumer, 0, from, to)
    }

    fn deliver_raw(&self, b: &str, queue: i32, consumer: &str, reconsume: i32, from: u64, to: u64) -> &Self {
        self.rec.deliver(Delivery {
            body: b.to_string(),
            queue: q(queue),
            offset: 0,
            reconsume_times: reconsume,
            consumer: consumer.to_string(),
            entered: self.t0 + Duration::from_millis(from),
            exited: self.t0 + Duration::from_millis(to),
        });
        self
    }

    /// Delivers `key:0..n` in order from queue 0 by consumer `c1`, 10 ms apart.
    fn deliver_in_order(&self, key: &str, n: u64, start_ms: u64) -> &Self {
        for s in 0..n {
            let t = start_ms + s * 10;
            self.deliver_at(key, s, 0, "c1", t, t + 5);
        }
        self
    }

    fn report(&self) -> Report {
        self.rec.history().check()
    }
}

#[test]
fn clean_run_counts_nothing_bad() {
    let h = H::new();
    h.acked("k", 0..5).deliver_in_order("k", 5, 0);
    let r = h.report();
    assert_eq!((r.sent, r.acked, r.deliveries, r.unique_delivered), (5, 5, 5, 5));
    assert_eq!(
        (
            r.lost,
            r.unexpected,
            r.duplicates,
            r.order_violations,
            r.lease_overlaps
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!((r.pending, r.extra_completions, r.offset_regressions), (0, 0, 0));
}

#[test]
fn acked_but_never_delivered_is_lost_and_named() {
    let h = H::new();
    h.acked("k", 0..3)
        .deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 2, 0, "c1", 2, 3);
    let r = h.report();
    assert_eq!(r.lost, 1);
    assert_eq!(r.lost_examples, vec![body("k", 1)]);
    // A lost message is not also an order violation.
    assert_eq!(r.order_violations, 0);
}

#[test]
fn stored_but_not_consumed_is_unconsumed_not_lost() {
    let h = H::new();
    h.acked("k", 0..3).deliver_at("k", 0, 0, "c1", 0, 1);
    h.rec.drained(&body("k", 0));
    h.rec.drained(&body("k", 1)); // in the store, never delivered to the group: the consumer's loss
    let r = h.report();
    assert_eq!((r.unconsumed, r.lost), (1, 1));
    assert_eq!(r.lost_examples, vec![body("k", 2)]);
    assert_eq!(h.rec.undelivered(), 2);
}

#[test]
fn indeterminate_and_failed_sends_are_never_lost() {
    let h = H::new();
    h.send("k", 0, SendOutcome::Indeterminate)
        .send("k", 1, SendOutcome::Indeterminate)
        .send("k", 2, SendOutcome::Failed)
        .send("k", 3, SendOutcome::Failed);
    h.deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 3, 0, "c1", 2, 3);
    let r = h.report();
    assert_eq!((r.acked, r.indeterminate, r.failed), (0, 2, 2));
    assert_eq!(r.lost, 0);
    assert_eq!(r.recovered, 1);
    assert_eq!(r.failed_delivered, 1);
    // A recovered indeterminate send delivered once is not a duplicate.
    assert_eq!(r.duplicates, 0);
}

#[test]
fn delivered_but_never_sent_is_unexpected() {
    let h = H::new();
    h.acked("k", 0..1).deliver_at("k", 0, 0, "c1", 0, 1);
    h.deliver_raw("garbage", 0, "c1", 0, 2, 3)
        .deliver_raw("garbage", 0, "c1", 0, 4, 5);
    let r = h.report();
    assert_eq!(r.unexpected, 1);
    assert_eq!(r.unexpected_examples, vec!["garbage".to_string()]);
    assert_eq!(r.lost, 0);
}

#[test]
fn duplicates_exclude_retries() {
    let h = H::new();
    h.acked("k", 0..2);
    h.deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 0, 0, "c2", 100, 101) // redelivered after a rebalance: duplicate
        .deliver_at("k", 0, 0, "c2", 200, 201); // and again
    let b1 = body("k", 1);
    h.deliver_raw(&b1, 0, "c1", 0, 2, 3) // failed in the listener...
        .deliver_raw(&b1, 9, "c1", 1, 10_000, 10_001) // ...retried through %RETRY%
        .deliver_raw(&b1, 9, "c1", 2, 30_000, 30_001);
    let r = h.report();
    assert_eq!(r.deliveries, 6);
    assert_eq!(r.unique_delivered, 2);
    assert_eq!(r.duplicates, 2);
    assert_eq!(r.stored_twice, 0, "one stored copy delivered three times");
    assert_eq!(r.retries, 2);
}

#[test]
fn a_body_delivered_from_two_positions_was_stored_twice() {
    // A send retried on another broker after its first attempt's connection closed: the body
    // sits in two queues, and each copy is delivered once; one copy is also redelivered.
    let h = H::new();
    h.acked("k", 0..1);
    let b = body("k", 0);
    h.deliver_raw(&b, 0, "c1", 0, 0, 1)
        .deliver_raw(&b, 5, "c1", 0, 10, 11)
        .deliver_raw(&b, 5, "c2", 0, 20, 21);
    let r = h.report();
    assert_eq!(r.duplicates, 2);
    assert_eq!(r.stored_twice, 1);
    assert_eq!(r.lost, 0);
}

#[test]
fn only_retried_deliveries_count_as_delivered_not_duplicate() {
    // A message whose only deliveries came through %RETRY% (its first delivery is not in the
    // history) is delivered: not lost, no duplicate.
    let h = H::new();
    h.acked("k", 0..1);
    h.deliver_raw(&body("k", 0), 9, "c1", 1, 0, 1);
    let r = h.report();
    assert_eq!((r.lost, r.duplicates, r.retries), (0, 0, 1));
}

#[test]
fn pending_and_double_callbacks_are_counted() {
    let h = H::new();
    h.rec.invoke("a", "k", 0); // never completes
    h.rec.invoke("b", "k", 1);
    h.rec.complete("b", SendOutcome::Ok);
    h.rec.complete("b", SendOutcome::Failed); // fired twice: the first outcome stands
    h.rec.complete("never-invoked", SendOutcome::Ok);
    h.rec.deliver(Delivery {
        body: "b".into(),
        queue: q(0),
        offset: 0,
        reconsume_times: 0,
        consumer: "c".into(),
        entered: h.t0,
        exited: h.t0,
    });
    let r = h.report();
    assert_eq!(r.pending, 1);
    assert_eq!(r.extra_completions, 2);
    assert_eq!((r.acked, r.failed, r.lost), (1, 0, 0));
}

#[test]
fn rewind_within_one_lease_is_a_violation() {
    let h = H::new();
    h.acked("k", 0..3);
    h.deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 1, 0, "c1", 10, 11)
        .deliver_at("k", 0, 0, "c1", 20, 21) // rewind, same consumer, same lease
        .deliver_at("k", 2, 0, "c1", 30, 31);
    assert_eq!(h.report().order_violations, 1);
}

#[test]
fn redelivery_after_owner_change_is_allowed() {
    let h = H::new();
    h.acked("k", 0..4);
    h.deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 1, 0, "c1", 10, 11)
        .deliver_at("k", 2, 0, "c1", 20, 21)
        // c2 takes the queue over from the last committed offset: 1, 2 again, then 3.
        .deliver_at("k", 1, 0, "c2", 30, 31)
        .deliver_at("k", 2, 0, "c2", 40, 41)
        .deliver_at("k", 3, 0, "c2", 50, 51);
    let r = h.report();
    assert_eq!(r.order_violations, 0);
    assert_eq!(r.duplicates, 2);
    assert_eq!(r.lease_overlaps, 0);
}

#[test]
fn suspend_redelivering_the_same_message_is_not_a_rewind() {
    let h = H::new();
    h.acked("k", 0..2);
    h.deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 0, 0, "c1", 1000, 1001)
        .deliver_at("k", 1, 0, "c1", 1010, 1011);
    assert_eq!(h.report().order_violations, 0);
}

#[test]
fn skip_breaks_the_subsequence_even_across_consumers() {
    let h = H::new();
    h.acked("k", 0..3);
    // 0, 2 by c1, then 1 by c2 only: acked order 0,1,2 is not a subsequence of 0,2,1.
    h.deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 2, 0, "c1", 10, 11)
        .deliver_at("k", 1, 0, "c2", 20, 21);
    assert_eq!(h.report().order_violations, 1);
}

#[test]
fn keys_are_checked_independently_and_interleaving_is_fine() {
    let h = H::new();
    h.acked("a", 0..3).acked("b", 0..3);
    let mut t = 0;
    for s in 0..3 {
        h.deliver_at("b", s, 1, "c1", t, t + 1);
        h.deliver_at("a", s, 0, "c1", t + 2, t + 3);
        t += 10;
    }
    assert_eq!(h.report().order_violations, 0);
    // Out of order for "a" only.
    let h = H::new();
    h.acked("a", 0..2).acked("b", 0..2);
    h.deliver_at("a", 1, 0, "c1", 0, 1)
        .deliver_at("a", 0, 0, "c1", 2, 3)
        .deliver_at("b", 0, 1, "c1", 4, 5)
        .deliver_at("b", 1, 1, "c1", 6, 7);
    // One rewind (1 then 0 in the lease) and one skip (0,1 not a subsequence of 1,0).
    let r = h.report();
    assert_eq!((r.order_violations, r.rewinds, r.skips), (2, 1, 1));
}

#[test]
fn unacked_sends_do_not_constrain_order() {
    let h = H::new();
    h.send("k", 0, SendOutcome::Ok)
        .send("k", 1, SendOutcome::Indeterminate)
        .send("k", 2, SendOutcome::Ok);
    // The indeterminate send shows up late (stored on a retry): not an order violation of the
    // acked sends, and not counted as a skip.
    h.deliver_at("k", 0, 0, "c1", 0, 1)
        .deliver_at("k", 2, 0, "c1", 10, 11)
        .deliver_at("k", 1, 1, "c1", 20, 21);
    let r = h.report();
    assert_eq!(r.order_violations, 0);
    assert_eq!(r.recovered, 1);
}

#[test]
fn lease_overlap_needs_two_consumers_on_one_queue_at_once() {
    let h = H::new();
    h.acked("k", 0..6);
    // c1 and c2 inside the listener for queue 0 at the same time: one overlap.
    h.deliver_at("k", 0, 0, "c1", 0, 100)
        .deliver_at("k", 1, 0, "c2", 50, 60);
    // Same consumer twice at once (a batch split, or concurrent consumption): no overlap.
    h.deliver_at("k", 2, 0, "c1", 20, 30);
    // Different queues at the same time: no overlap.
    h.deliver_at("k", 3, 1, "c1", 200, 300)
        .deliver_at("k", 4, 2, "c2", 210, 220);
    // Back to back (exit == entry): no overlap.
    h.deliver_at("k", 5, 1, "c2", 300, 310);
    assert_eq!(h.report().lease_overlaps, 1);
}

#[test]
fn overlap_is_detected_against_a_long_earlier_call() {
    let h = H::new();
    h.acked("k", 0..3);
    // c1's long call spans c3's call even though c2 came in between.
    h.deliver_at("k", 0, 0, "c1", 0, 1000)
        .deliver_at("k", 1, 0, "c1", 10, 20)
        .deliver_at("k", 2, 0, "c3", 500, 510);
    assert_eq!(h.report().lease_overlaps, 1);
}

#[test]
fn offset_regressions_are_per_queue() {
    let h = H::new();
    h.rec.sample_offset(q(0), 10);
    h.rec.sample_offset(q(1), 100);
    h.rec.sample_offset(q(0), 12);
    h.rec.sample_offset(q(1), 5); // regression on queue 1
    h.rec.sample_offset(q(0), 12); // unchanged: fine
    h.rec.sample_offset(q(0), 11); // regression on queue 0
    h.rec.sample_offset(q(0), 20);
    let r = h.report();
    assert_eq!(r.offset_regressions, 2);
    assert_eq!(
        r.regression_examples,
        vec!["broker-a/1: 100 -> 5", "broker-a/0: 12 -> 11"]
    );
    // A broker restart starts a new epoch: its stale offset is not compared with the old ones.
    h.rec.new_offset_epoch();
    h.rec.sample_offset(q(0), 15);
    h.rec.sample_offset(q(0), 14); // but within the new epoch it is
    assert_eq!(h.report().offset_regressions, 3);
}

#[test]
fn empty_history_is_all_zero() {
    assert_eq!(History::default().check(), Report::default());
}

#[test]
fn recorder_progress_helpers() {
    let h = H::new();
    h.acked("k", 0..2);
    h.send("k", 2, SendOutcome::Indeterminate);
    assert!(!h.rec.all_acked_delivered());
    h.deliver_in_order("k", 1, 0);
    assert!(!h.rec.all_acked_delivered());
    h.deliver_at("k", 1, 0, "c1", 50, 51);
    assert!(
        h.rec.all_acked_delivered(),
        "the indeterminate send need not arrive"
    );
    assert_eq!((h.rec.sends(), h.rec.deliveries()), (3, 2));
}

#[test]
fn another_group_shares_sends_not_deliveries() {
    let h = H::new();
    let other = h.rec.another_group();
    h.acked("k", 0..2).deliver_in_order("k", 2, 0);
    assert_eq!(other.sends(), 2);
    assert_eq!(other.deliveries(), 0);
    assert_eq!(other.undelivered(), 2);
    other.drained(&body("k", 0));
    let r = other.history().check();
    assert_eq!((r.acked, r.unconsumed, r.lost), (2, 1, 1));
    assert_eq!(h.report().lost, 0);
}

#[test]
fn filter_bodies_keeps_one_clients_keys() {
    let h = H::new();
    h.acked("a", 0..2).acked("b", 0..2);
    h.deliver_at("a", 1, 0, "c1", 0, 1)
        .deliver_at("a", 0, 0, "c1", 2, 3);
    h.deliver_at("b", 0, 0, "c1", 4, 5)
        .deliver_at("b", 1, 0, "c1", 6, 7);
    let all = h.rec.history();
    assert_eq!(all.check().order_violations, 2);
    let only_b = all.filter_bodies(|b| b.contains(":b:"));
    let r = only_b.check();
    assert_eq!((r.sent, r.deliveries, r.order_violations), (2, 2, 0));
}

#[test]
fn report_line_names_every_count() {
    let h = H::new();
    h.acked("k", 0..2).deliver_in_order("k", 1, 0);
    let line = h.report().to_string();
    for name in [
        "acked=2",
        "lost=1",
        "unexpected=0",
        "dup=0",
        "recovered=0",
        "order_violations=0",
        "lease_overlaps=0",
        "offset_regressions=0",
        "lost_examples=",
    ] {
        assert!(line.contains(name), "{name} missing in {line}");
    }
}
