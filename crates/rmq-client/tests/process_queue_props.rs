//! Property tests of `ProcessQueue` offset math against a model, over random interleavings of pulls
//! (puts in increasing offset order, with gaps, duplicates and empty batches) and out-of-order removals.
//!
//! Each property runs for many seeds with `rand`'s `StdRng`; a failure prints the seed to replay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rmq_client::consumer::process_queue::ProcessQueue;
use rmq_protocol::message::MessageExt;

const SEEDS: u64 = 150;
const STEPS: usize = 250;

fn msg(offset: i64, len: usize) -> MessageExt {
    let mut m = MessageExt {
        queue_offset: offset,
        ..Default::default()
    };
    m.body = vec![7u8; len].into();
    m
}

/// A pulled batch: offsets from `next` on, increasing with random gaps (tag filtering), sometimes
/// followed by a different copy of a still-cached offset (a duplicate, which must be ignored).
/// Returns the batch and the new `next`.
fn pull(rng: &mut StdRng, next: i64, cached: &[i64]) -> (Vec<MessageExt>, i64) {
    let mut offset = next;
    let mut batch = Vec::new();
    for _ in 0..rng.gen_range(0..8) {
        batch.push(msg(offset, rng.gen_range(0..64)));
        offset += rng.gen_range(1..4);
    }
    if let Some(dup) = cached.choose(rng).filter(|_| rng.gen_bool(0.2)) {
        batch.push(msg(*dup, 1000));
    }
    (batch, offset)
}

/// Checks that the queue's counters agree with the model of cached messages (offset → body length).
fn check_counters(
    seed: u64,
    pq: &ProcessQueue,
    waiting: &BTreeMap<i64, usize>,
    taken: &BTreeMap<i64, usize>,
) {
    let count = waiting.len() + taken.len();
    let bytes: usize = waiting.values().chain(taken.values()).sum();
    assert_eq!(pq.cached_count(), count, "seed {seed}: count");
    assert_eq!(pq.cached_bytes(), bytes as u64, "seed {seed}: bytes");
    assert_eq!(pq.taken_count(), taken.len(), "seed {seed}: taken");
    let offsets: Vec<i64> = pq.waiting_messages().map(|m| m.queue_offset).collect();
    assert_eq!(
        offsets,
        waiting.keys().copied().collect::<Vec<_>>(),
        "seed {seed}: waiting"
    );
    assert_eq!(
        pq.min_offset(),
        waiting.keys().next().copied(),
        "seed {seed}: min"
    );
    let span = match (waiting.keys().next(), waiting.keys().next_back()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    assert_eq!(pq.max_span(), span, "seed {seed}: span");
}

/// Adds the batch to the model the way `put_messages` must: first copy of an offset wins.
fn model_put(batch: &[MessageExt], waiting: &mut BTreeMap<i64, usize>, taken: &BTreeMap<i64, usize>) {
    for m in batch {
        if !taken.contains_key(&m.queue_offset) {
            waiting.entry(m.queue_offset).or_insert(m.body.len());
        }
    }
}

#[test]
fn concurrent_commit_offset_is_safe_monotonic_and_complete() {
    let empty = BTreeMap::new();
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut pq = ProcessQueue::new();
        let mut waiting: BTreeMap<i64, usize> = BTreeMap::new();
        let mut next = rng.gen_range(0..1000);
        let mut max_put: Option<i64> = None;
        let mut last_commit: Option<i64> = None;
        for _ in 0..STEPS {
            if rng.gen_bool(0.4) {
                let cached: Vec<i64> = waiting.keys().copied().collect();
                let (batch, n) = pull(&mut rng, next, &cached);
                next = n;
                if let Some(m) = batch.iter().map(|m| m.queue_offset).max() {
                    max_put = Some(max_put.map_or(m, |x| x.max(m)));
                }
                model_put(&batch, &mut waiting, &empty);
                pq.put_messages(batch);
            } else {
                // consumed in any order: a random subset of what is cached, plus stale or unknown offsets
                let mut cached: Vec<i64> = waiting.keys().copied().collect();
                cached.shuffle(&mut rng);
                let mut done: Vec<i64> = cached.into_iter().take(rng.gen_range(0..4)).collect();
                if rng.gen_bool(0.1) {
                    done.push(next + 100);
                }
                let was_empty = waiting.is_empty();
                for o in &done {
                    waiting.remove(o);
                }
                let commit = pq.remove_messages(&done);
                if was_empty {
                    assert_eq!(commit, None, "seed {seed}: nothing cached, nothing to commit");
                } else {
                    let c = commit.unwrap_or_else(|| panic!("seed {seed}: no commit offset"));
                    if let Some(min) = waiting.keys().next() {
                        assert_eq!(
                            c, *min,
                            "seed {seed}: commit must be the smallest unconsumed offset"
                        );
                    } else {
                        assert_eq!(
                            Some(c),
                            max_put.map(|m| m + 1),
                            "seed {seed}: all consumed ⇒ max + 1"
                        );
                    }
                    assert!(
                        last_commit.is_none_or(|l| c >= l),
                        "seed {seed}: commit went back"
                    );
                    last_commit = Some(c);
                }
            }
            check_counters(seed, &pq, &waiting, &empty);
            assert_eq!(pq.queue_offset_max(), max_put, "seed {seed}: max");
        }
        // drain: everything consumed ⇒ the commit offset is the highest cached + 1
        let rest: Vec<i64> = waiting.keys().rev().copied().collect();
        if !rest.is_empty() {
            assert_eq!(
                pq.remove_messages(&rest),
                max_put.map(|m| m + 1),
                "seed {seed}: drain"
            );
        }
        assert!(pq.is_empty() && pq.cached_bytes() == 0, "seed {seed}: drained");
    }
}

#[test]
fn orderly_take_commit_rollback_keep_counts_and_order() {
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let mut pq = ProcessQueue::new();
        let (mut waiting, mut taken) = (BTreeMap::new(), BTreeMap::new());
        let mut next = 0;
        let mut last_commit: Option<i64> = None;
        let mut running = false;
        for _ in 0..STEPS {
            match rng.gen_range(0..5) {
                0 | 1 => {
                    let cached: Vec<i64> = waiting.keys().chain(taken.keys()).copied().collect();
                    let (batch, n) = pull(&mut rng, next, &cached);
                    next = n;
                    model_put(&batch, &mut waiting, &taken);
                    let start = pq.put_messages(batch);
                    assert_eq!(start, !running && !waiting.is_empty(), "seed {seed}: dispatch");
                    running |= start;
                }
                2 => {
                    let n = rng.gen_range(1..5);
                    let batch = pq.take_messages(n);
                    let expect: Vec<i64> = waiting.keys().take(n).copied().collect();
                    let got: Vec<i64> = batch.iter().map(|m| m.queue_offset).collect();
                    assert_eq!(got, expect, "seed {seed}: take lowest first");
                    for o in expect {
                        taken.insert(o, waiting.remove(&o).unwrap());
                    }
                    running &= !batch.is_empty();
                    // a suspended batch goes back as a whole, as Java's orderly service does
                    if rng.gen_bool(0.3) {
                        for o in &got {
                            waiting.insert(*o, taken.remove(o).unwrap());
                        }
                        pq.make_available(batch);
                    }
                }
                3 => {
                    let expect = taken.keys().next_back().map(|l| l + 1);
                    taken.clear();
                    let commit = pq.commit();
                    assert_eq!(commit, expect, "seed {seed}: commit = last taken + 1");
                    if let Some(c) = commit {
                        assert!(
                            waiting.keys().next().is_none_or(|m| c <= *m),
                            "seed {seed}: skips"
                        );
                        assert!(
                            last_commit.is_none_or(|l| c >= l),
                            "seed {seed}: commit went back"
                        );
                        last_commit = Some(c);
                    }
                }
                _ => {
                    pq.rollback();
                    waiting.append(&mut taken);
                }
            }
            check_counters(seed, &pq, &waiting, &taken);
        }
    }
}
