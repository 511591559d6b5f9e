//! The lock that lets one process at a time resolve the jars into a cache directory.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tracing::warn;

use crate::error::{Error, Result};

/// How long to wait for another process that holds the resolve lock.
const LOCK_WAIT: Duration = Duration::from_secs(900);
/// A lock file without a readable pid older than this is considered abandoned.
const LOCK_GRACE: Duration = Duration::from_secs(30);

/// An exclusive lock file next to the cache entry; removed on drop.
#[derive(Debug)]
pub(crate) struct ResolveLock {
    path: PathBuf,
}

impl ResolveLock {
    /// Takes the lock, or returns `None` once `done()` reports that another holder finished.
    pub(crate) fn acquire(root: &Path, done: impl Fn() -> bool) -> Result<Option<ResolveLock>> {
        let path = root.join(".resolve.lock");
        let started = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Some(ResolveLock { path }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
            }
            if done() {
                return Ok(None);
            }
            if lock_is_stale(&path) {
                warn!(lock = %path.display(), "removing an abandoned resolve lock");
                let _ = fs::remove_file(&path);
                continue;
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(Error::InvalidState(format!(
                    "waited {LOCK_WAIT:?} for {}; remove it if no other test run is resolving jars",
                    path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for ResolveLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A lock is stale when its owner process is gone (or it never recorded an owner).
fn lock_is_stale(path: &Path) -> bool {
    match fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    {
        Some(pid) => !crate::process::pid_alive(pid),
        None => fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > LOCK_GRACE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_excludes_and_releases() {
        let dir = tempfile::tempdir().unwrap();
        let lock = ResolveLock::acquire(dir.path(), || false).unwrap().unwrap();
        // Held by a live process (us): a second taker sees `done` and backs off.
        assert!(ResolveLock::acquire(dir.path(), || true).unwrap().is_none());
        drop(lock);
        assert!(ResolveLock::acquire(dir.path(), || false).unwrap().is_some());
    }

    #[test]
    fn dead_owner_lock_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".resolve.lock");
        fs::write(&path, u32::MAX.to_string()).unwrap();
        assert!(lock_is_stale(&path));
        fs::write(&path, std::process::id().to_string()).unwrap();
        assert!(!lock_is_stale(&path));
    }
}
