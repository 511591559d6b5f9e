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
pub mod consumer_process;
pub mod harness;
pub mod load;
pub mod lossy;
pub mod rss;
pub mod traffic;
pub mod workload;

/// Appends a scenario's line of figures to stderr and, when `RMQ_CHAOS_FIGURES` names a file, to
/// that file (the source of the table in `docs/reliability.md`).
#[allow(clippy::print_stderr)]
pub fn report_figures(scenario: &str, line: &str) {
    let text = format!("FIGURES {scenario}: {line}\n");
    eprint!("{text}");
    if let Ok(path) = std::env::var("RMQ_CHAOS_FIGURES") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(text.as_bytes());
        }
    }
}
