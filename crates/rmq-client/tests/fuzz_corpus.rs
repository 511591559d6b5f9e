//! Runs the corpus of the `client_driver` fuzz target (`fuzz/corpus/client_driver/`) and any saved crash
//! (`fuzz/artifacts/client_driver/`) through the same driver on stable, so CI guards it without nightly.
//! The protocol targets' corpora run in `crates/rmq-protocol/tests/fuzz_corpus.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// The driver, compiled here from the fuzz target's own file.
#[path = "../../../fuzz/drivers/client_driver.rs"]
mod client_driver;

fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join("client_driver")
}

/// Run every file in `dir` (none when it does not exist); returns how many ran.
fn run_dir(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        // Each input builds its own runtime, so a panicking one cannot poison the next.
        let result = std::panic::catch_unwind(|| client_driver::run(&data));
        assert!(result.is_ok(), "client_driver panicked on {}", file.display());
    }
    files.len()
}

#[test]
fn client_driver_corpus_never_panics() {
    let n = run_dir(&dir("corpus"));
    assert!(n > 0, "empty corpus for client_driver");
}

#[test]
fn client_driver_saved_crashes_stay_fixed() {
    run_dir(&dir("artifacts"));
}
