//! The rocketmq-rs reliability suite: a history [`checker`], workload helpers, and fault
//! scenarios (in `tests/`) run against a real Apache RocketMQ cluster started by `rmq-testkit`.
//!
//! The quick scenarios run with the normal test suite; the full-length ones are `#[ignore]`d:
//!
//! ```text
//! cargo test -p rmq-chaos -- --ignored --test-threads=1
//! ```
//!
//! See `docs/reliability.md` for what each scenario checks and the figures it produced.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod assignment;
pub mod checker;
pub mod churn;
pub mod rss;
pub mod workload;
