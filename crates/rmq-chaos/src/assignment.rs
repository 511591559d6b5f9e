//! "Process queues == assigned queues at every sample" (`reliability-scenarios.md` R5), made
//! precise for a group whose membership the scenario changes.
//!
//! - **Membership epoch**: the set of live consumers between two changes. A change happens when the
//!   scenario calls a consumer's `start()` (it joins: inside `start()` its heartbeat registers it with
//!   the brokers, which tell the other members at once, so they may give up its share before
//!   `start()` returns; until then it is a member that holds nothing) or its `shutdown()` (it
//!   leaves: from then on it must hold nothing that the others need).
//! - **Sample** (once a second): for every live consumer, the queues of the topic in its
//!   `stats().queues` — a queue is there from the moment its queue task starts until the rebalancer
//!   stopped it and persisted its offset, i.e. the lifetime of its process queue.
//! - **Expected**: [`AllocateStrategy::Average`] over the topic's queues and the client ids of the
//!   epoch's consumers (sorted as the client sorts them).
//! - A sample is **exact** when every live consumer holds exactly its expected queues (so the union
//!   is every queue and no queue is held twice).
//! - An epoch **converges** at its first exact sample; the **convergence time** is from the change
//!   to that sample. After convergence every further sample of the epoch must be exact (an inexact
//!   one is **unstable**: a queue dropped or picked up without a membership change).
//!
//! Pass: every epoch that lasts `bound` converges within it (one cut short by the next change
//! before `bound` without converging is *superseded*, reported, not judged), and no sample is
//! unstable. Samples between a change and convergence are counted as *in transition*.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use rmq_client::consumer::rebalance::allocate::{sorted_inputs, AllocateStrategy};
use rmq_protocol::message::MessageQueue;

/// What each live consumer held at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// The epoch it belongs to (index into [`AssignmentLog::epochs`]).
    pub epoch: usize,
    /// Client id -> queues of the topic it held.
    pub held: BTreeMap<String, BTreeSet<MessageQueue>>,
}

/// One membership epoch.
#[derive(Debug, Clone)]
pub struct Epoch {
    /// When the change that began it happened.
    pub began: Instant,
    /// The client ids of its live consumers.
    pub members: Vec<String>,
}

/// Epochs and samples of one scenario.
#[derive(Debug, Clone, Default)]
pub struct AssignmentLog {
    /// The membership epochs, in order.
    pub epochs: Vec<Epoch>,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// The assignment figures of one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentReport {
    /// Samples taken.
    pub samples: u64,
    /// Samples where every consumer held exactly its allocation.
    pub exact: u64,
    /// Inexact samples between a change and its epoch's convergence.
    pub in_transition: u64,
    /// Inexact samples after the epoch had converged (must be 0).
    pub unstable: u64,
    /// Membership epochs.
    pub epochs: u64,
    /// Epochs with samples up to `bound` after their change and none of them exact.
    pub unconverged: u64,
    /// Epochs that ended, before `bound` had passed, without an exact sample (the next change
    /// came first; not judged).
    pub superseded: u64,
    /// Epochs shorter than the sampling interval (no sample; not judged).
    pub unsampled: u64,
    /// Longest time from a change to its epoch's first exact sample.
    pub max_convergence: Duration,
    /// Samples in which some queue was held by two consumers (during transitions).
    pub double_held: u64,
    /// Samples in which some queue was held by no consumer (during transitions).
    pub orphaned: u64,
    /// The first few unstable samples, described.
    pub unstable_examples: Vec<String>,
    /// The last sample of the first few unconverged epochs, described.
    pub unconverged_examples: Vec<String>,
}

impl fmt::Display for AssignmentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "samples={} exact={} in_transition={} unstable={} epochs={} unconverged={} superseded={} unsampled={} \
             max_convergence={:.1}s double_held_samples={} orphaned_samples={}",
            self.samples,
            self.exact,
            self.in_transition,
            self.unstable,
            self.epochs,
            self.unconverged,
            self.superseded,
            self.unsampled,
            self.max_convergence.as_secs_f64(),
            self.double_held,
            self.orphaned
        )?;
        if !self.unstable_examples.is_empty() {
            write!(f, " unstable_examples={:?}", self.unstable_examples)?;
        }
        if !self.unconverged_examples.is_empty() {
            write!(f, " unconverged_examples={:?}", self.unconverged_examples)?;
        }
        Ok(())
    }
}

/// The queues `Average` allocation gives each of `members` (any order) over `queues`.
pub fn expected(
    group: &str,
    queues: &[MessageQueue],
    members: &[String],
) -> HashMap<String, BTreeSet<MessageQueue>> {
    let (mq_all, cid_all) = sorted_inputs(queues.to_vec(), members.to_vec());
    members
        .iter()
        .map(|id| {
            let mine = AllocateStrategy::Average
                .allocate(group, id, &mq_all, &cid_all)
                .unwrap_or_default();
            (id.clone(), mine.into_iter().collect())
        })
        .collect()
}

impl AssignmentLog {
    /// Whether the last epoch has had an exact sample.
    pub fn last_converged(&self, group: &str, queues: &[MessageQueue]) -> bool {
        let Some(epoch) = self.epochs.len().checked_sub(1) else {
            return false;
        };
        let want = expected(group, queues, &self.epochs[epoch].members);
        self.samples.iter().filter(|s| s.epoch == epoch).any(|s| {
            want.len() == s.held.len()
                && want
                    .iter()
                    .all(|(id, qs)| s.held.get(id).is_some_and(|h| h == qs))
        })
    }

    /// Starts a new epoch with these members at `began`; returns its index.
    pub fn change(&mut self, began: Instant, members: Vec<String>) -> usize {
        self.epochs.push(Epoch { began, members });
        self.epochs.len() - 1
    }

    /// Checks every sample against the allocation of its epoch; an epoch that has not converged
    /// `bound` after its change is unconverged.
    pub fn check(&self, group: &str, queues: &[MessageQueue], bound: Duration) -> AssignmentReport {
        let mut r = AssignmentReport {
            samples: self.samples.len() as u64,
            epochs: self.epochs.len() as u64,
            ..AssignmentReport::default()
        };
        let expectations: Vec<HashMap<String, BTreeSet<MessageQueue>>> = self
            .epochs
            .iter()
            .map(|e| expected(group, queues, &e.members))
            .collect();
        let mut converged = vec![false; self.epochs.len()];
        let mut sampled = vec![false; self.epochs.len()];
        let mut last: Vec<Option<&Sample>> = vec![None; self.epochs.len()];
        for s in &self.samples {
            let Some(want) = expectations.get(s.epoch) else {
                continue;
            };
            sampled[s.epoch] = true;
            last[s.epoch] = Some(s);
            let mut holders: HashMap<&MessageQueue, usize> = HashMap::new();
            for q in s.held.values().flatten() {
                *holders.entry(q).or_default() += 1;
            }
            r.double_held += u64::from(holders.values().any(|n| *n > 1));
            r.orphaned += u64::from(queues.iter().any(|q| !holders.contains_key(q)));
            let exact = want.len() == s.held.len()
                && want
                    .iter()
                    .all(|(id, qs)| s.held.get(id).is_some_and(|h| h == qs));
            if exact {
                r.exact += 1;
                if !converged[s.epoch] {
                    converged[s.epoch] = true;
                    let took = s.at.saturating_duration_since(self.epochs[s.epoch].began);
                    r.max_convergence = r.max_convergence.max(took);
                }
            } else if converged[s.epoch] {
                r.unstable += 1;
                if r.unstable_examples.len() < 5 {
                    let after = s.at.saturating_duration_since(self.epochs[s.epoch].began);
                    let what = describe(s, want);
                    r.unstable_examples
                        .push(format!("{what} ({:.1}s after the change)", after.as_secs_f64()));
                }
            } else {
                r.in_transition += 1;
            }
        }
        r.unsampled = sampled.iter().filter(|s| !**s).count() as u64;
        for (i, s) in last.iter().enumerate() {
            if let (false, Some(s)) = (converged[i], s) {
                if s.at.saturating_duration_since(self.epochs[i].began) < bound {
                    r.superseded += 1;
                    continue;
                }
                r.unconverged += 1;
                if r.unconverged_examples.len() < 5 {
                    let took = s.at.saturating_duration_since(self.epochs[i].began);
                    let what = describe(s, &expectations[i]);
                    r.unconverged_examples
                        .push(format!("{what} ({:.1}s after the change)", took.as_secs_f64()));
                }
            }
        }
        r
    }
}

/// What differs between a sample and the allocation.
fn describe(s: &Sample, want: &HashMap<String, BTreeSet<MessageQueue>>) -> String {
    let mut parts = Vec::new();
    for (id, qs) in want {
        let held = s.held.get(id).cloned().unwrap_or_default();
        let extra: Vec<String> = held.difference(qs).map(ToString::to_string).collect();
        let missing: Vec<String> = qs.difference(&held).map(ToString::to_string).collect();
        if !extra.is_empty() || !missing.is_empty() {
            parts.push(format!("{id}: extra {extra:?} missing {missing:?}"));
        }
    }
    format!("epoch {}: {}", s.epoch, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "broker-a", i)).collect()
    }

    fn held(pairs: &[(&str, &[i32])]) -> BTreeMap<String, BTreeSet<MessageQueue>> {
        pairs
            .iter()
            .map(|(id, ids)| {
                let set = ids
                    .iter()
                    .map(|i| MessageQueue::new("T", "broker-a", *i))
                    .collect();
                (id.to_string(), set)
            })
            .collect()
    }

    #[test]
    fn average_splits_contiguously_in_id_order() {
        let e = expected("G", &qs(4), &["b".into(), "a".into()]);
        assert_eq!(e["a"], qs(4)[..2].iter().cloned().collect());
        assert_eq!(e["b"], qs(4)[2..].iter().cloned().collect());
    }

    #[test]
    fn converges_then_must_stay_exact() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut log = AssignmentLog::default();
        let e0 = log.change(t0, vec!["a".into()]);
        // a still starting: nothing held (transition), then everything (converged after 2 s).
        log.samples.push(Sample {
            at: ms(1000),
            epoch: e0,
            held: held(&[("a", &[])]),
        });
        log.samples.push(Sample {
            at: ms(2000),
            epoch: e0,
            held: held(&[("a", &[0, 1, 2, 3])]),
        });
        let e1 = log.change(ms(2500), vec!["a".into(), "b".into()]);
        // b joined: a still holds all and b already took 2 (double held), then exact.
        log.samples.push(Sample {
            at: ms(3000),
            epoch: e1,
            held: held(&[("a", &[0, 1, 2, 3]), ("b", &[2])]),
        });
        log.samples.push(Sample {
            at: ms(4000),
            epoch: e1,
            held: held(&[("a", &[0, 1]), ("b", &[2, 3])]),
        });
        // Later b loses a queue without any membership change: unstable.
        log.samples.push(Sample {
            at: ms(5000),
            epoch: e1,
            held: held(&[("a", &[0, 1]), ("b", &[2])]),
        });
        assert!(log.last_converged("G", &qs(4)));
        let r = log.check("G", &qs(4), Duration::from_secs(5));
        assert_eq!((r.samples, r.exact, r.in_transition, r.unstable), (5, 2, 2, 1));
        assert_eq!((r.epochs, r.unconverged, r.unsampled), (2, 0, 0));
        assert_eq!(r.max_convergence, Duration::from_millis(2000));
        assert_eq!((r.double_held, r.orphaned), (1, 2));
        assert_eq!(r.unstable_examples.len(), 1);
        assert!(
            r.unstable_examples[0].contains("missing"),
            "{}",
            r.unstable_examples[0]
        );
    }

    #[test]
    fn an_epoch_without_an_exact_sample_is_unconverged() {
        let t0 = Instant::now();
        let mut log = AssignmentLog::default();
        let e0 = log.change(t0, vec!["a".into(), "b".into()]);
        // A leaked process queue: a keeps queue 2, which is b's.
        log.samples.push(Sample {
            at: t0 + Duration::from_secs(1),
            epoch: e0,
            held: held(&[("a", &[0, 1, 2]), ("b", &[2, 3])]),
        });
        assert!(!log.last_converged("G", &qs(4)));
        // Judged only once `bound` has passed: 1 s after the change it is superseded, not failed.
        let early = log.check("G", &qs(4), Duration::from_secs(2));
        assert_eq!((early.unconverged, early.superseded), (0, 1));
        let r = log.check("G", &qs(4), Duration::from_secs(1));
        assert_eq!(
            (r.exact, r.in_transition, r.unconverged, r.unsampled),
            (0, 1, 1, 0)
        );
        assert_eq!(r.max_convergence, Duration::ZERO);
        assert!(r.to_string().contains("unconverged=1"));
        assert_eq!(r.unconverged_examples.len(), 1);
        assert!(
            r.unconverged_examples[0].contains("extra"),
            "{}",
            r.unconverged_examples[0]
        );
    }

    /// A join's epoch begins when the joiner's `start()` is called, with the joiner among the
    /// members: the others giving up its share while it is still starting is the transition, not
    /// an instability of the previous epoch (full-length churn runs saw start() return 1.3 s after
    /// the brokers had told the others of the joiner).
    #[test]
    fn queues_given_up_to_a_starting_joiner_are_in_transition() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut log = AssignmentLog::default();
        let e0 = log.change(t0, vec!["a".into(), "b".into()]);
        log.samples.push(Sample {
            at: s(1),
            epoch: e0,
            held: held(&[("a", &[0, 1, 2]), ("b", &[3, 4, 5])]),
        });
        // c's start() was called: c is a member, not sampled yet; a and b already gave up its share.
        let e1 = log.change(s(2), vec!["a".into(), "b".into(), "c".into()]);
        log.samples.push(Sample {
            at: s(3),
            epoch: e1,
            held: held(&[("a", &[0, 1]), ("b", &[2, 3])]),
        });
        assert!(!log.last_converged("G", &qs(6)), "converged without the joiner");
        // c's start() returned: it is sampled and holds its share.
        log.samples.push(Sample {
            at: s(4),
            epoch: e1,
            held: held(&[("a", &[0, 1]), ("b", &[2, 3]), ("c", &[4, 5])]),
        });
        let r = log.check("G", &qs(6), Duration::from_secs(20));
        assert_eq!((r.exact, r.in_transition, r.unstable), (2, 1, 0), "{r}");
        assert_eq!(r.max_convergence, Duration::from_secs(2));
        // Had the epoch begun only when start() returned, the same holdings would be unstable.
        let mut late = AssignmentLog::default();
        let e0 = late.change(t0, vec!["a".into(), "b".into()]);
        for (at, h) in [
            (1, held(&[("a", &[0, 1, 2]), ("b", &[3, 4, 5])])),
            (3, held(&[("a", &[0, 1]), ("b", &[2, 3])])),
        ] {
            late.samples.push(Sample {
                at: s(at),
                epoch: e0,
                held: h,
            });
        }
        assert_eq!(late.check("G", &qs(6), Duration::from_secs(20)).unstable, 1);
    }

    #[test]
    fn a_consumer_missing_from_the_sample_is_not_exact() {
        let t0 = Instant::now();
        let mut log = AssignmentLog::default();
        let e0 = log.change(t0, vec!["a".into(), "b".into()]);
        log.samples.push(Sample {
            at: t0,
            epoch: e0,
            held: held(&[("a", &[0, 1])]),
        });
        assert_eq!(log.check("G", &qs(4), Duration::from_secs(1)).exact, 0);
    }
}
