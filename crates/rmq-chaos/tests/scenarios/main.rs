//! The reliability scenarios (`docs/reliability.md`), one module per family, in one test binary.
//!
//! Scenarios run one at a time (each takes `rmq_chaos::harness::exclusive`), on two clusters this
//! binary starts on first use: the harness's (2 masters flushing synchronously, behind fault proxies)
//! for the fault scenarios, and the testkit's shared one for churn and the slow listener. One binary
//! instead of six saves four cluster starts.
//!
//! The quick scenarios are part of the normal suite; the full-length ones are ignored:
//! `cargo test -p rmq-chaos --test scenarios -- --ignored --test-threads=1`, or one family with a
//! module filter, e.g. `cargo test -p rmq-chaos --test scenarios slow_listener:: -- --ignored`.

#[path = "../support/mod.rs"]
mod support;

mod broker_faults;
mod churn;
mod consumer_faults;
mod network_faults;
mod orderly_churn;
mod slow_listener;
