//! The offset file of a BROADCASTING consumer (Java `LocalFileOffsetStore`): one file per client and
//! group, `<offset_store_path>/<client>/<group>/offsets.json`, in Java's `OffsetSerializeWrapper` form
//! (`{"offsetTable":{{"brokerName":…,"queueId":…,"topic":…}:offset,…}}`).
//!
//! Writes are atomic: the new content goes to a temporary file which is fsynced and renamed over the
//! old one, after the old one was kept as `offsets.json.bak`. Loading tolerates damage: a corrupt file
//! falls back to the backup, and when both are unusable the consumer starts without offsets (from
//! `consume_from_where`) — with a warning each time, never a crash.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rmq_protocol::header::ResetOffsetBody;
use rmq_protocol::message::MessageQueue;
use tracing::warn;

/// The offset file of one client and group.
#[derive(Debug, Clone)]
pub(crate) struct LocalOffsetFile {
    path: PathBuf,
}

/// What loading found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Loaded {
    /// Offsets from the main file.
    Main(HashMap<MessageQueue, i64>),
    /// The main file was unusable; offsets from the backup.
    Backup(HashMap<MessageQueue, i64>),
    /// No file yet: a new consumer.
    Missing,
    /// Both files unusable: start from `consume_from_where`.
    Unusable,
}

impl LocalOffsetFile {
    /// The file for `client` (its id without characters unsafe in a path) and `group` under `dir`.
    pub(crate) fn new(dir: &Path, client: &str, group: &str) -> Self {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "@#._-%".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        LocalOffsetFile {
            path: dir.join(safe(client)).join(safe(group)).join("offsets.json"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn backup(&self) -> PathBuf {
        self.path.with_extension("json.bak")
    }

    fn read(path: &Path) -> Result<Option<HashMap<MessageQueue, i64>>, String> {
        match fs::read(path) {
            Ok(bytes) => ResetOffsetBody::from_json(&bytes)
                .map(|b| Some(b.offset_table))
                .map_err(|e| e.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Load the offsets (see [`Loaded`]); problems are logged at WARN.
    pub(crate) fn load(&self) -> Loaded {
        let main_err = match Self::read(&self.path) {
            Ok(Some(t)) => return Loaded::Main(t),
            Ok(None) => None,
            Err(e) => Some(e),
        };
        match Self::read(&self.backup()) {
            Ok(Some(t)) => {
                warn!(path = %self.path.display(), error = ?main_err, "offset file unusable; using its backup");
                Loaded::Backup(t)
            }
            Ok(None) if main_err.is_none() => Loaded::Missing,
            backup => {
                warn!(path = %self.path.display(), error = ?main_err, backup = ?backup.err(),
                    "offset file and its backup unusable; queues start from consume_from_where");
                Loaded::Unusable
            }
        }
    }

    /// Write `offsets` atomically, keeping the previous file as the backup.
    pub(crate) fn save(&self, offsets: &HashMap<MessageQueue, i64>) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        fs::create_dir_all(dir)?;
        let body = ResetOffsetBody {
            offset_table: offsets.clone(),
        }
        .to_json();
        let tmp = self.path.with_extension("json.tmp");
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        // Keep the last good version: only a file that parses becomes the backup.
        if Self::read(&self.path).is_ok_and(|t| t.is_some()) {
            fs::copy(&self.path, self.backup())?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rmq-local-offsets-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn table(n: i64) -> HashMap<MessageQueue, i64> {
        (0..4)
            .map(|q| (MessageQueue::new("T", "b", q), n + i64::from(q)))
            .collect()
    }

    #[test]
    fn round_trip_backup_and_damage() {
        let d = dir("rt");
        let f = LocalOffsetFile::new(&d, "10.0.0.1@app", "G");
        assert_eq!(f.load(), Loaded::Missing);
        f.save(&table(10)).unwrap();
        assert_eq!(f.load(), Loaded::Main(table(10)));
        f.save(&table(20)).unwrap();
        assert_eq!(f.load(), Loaded::Main(table(20)));
        // truncated main file: the backup (previous version) is used
        let full = fs::read(f.path()).unwrap();
        fs::write(f.path(), &full[..full.len() / 2]).unwrap();
        assert_eq!(f.load(), Loaded::Backup(table(10)));
        // garbage in both
        fs::write(f.path(), b"\x00\xffgarbage").unwrap();
        fs::write(f.backup(), b"{not json").unwrap();
        assert_eq!(f.load(), Loaded::Unusable);
        // a good save after damage works and does not copy garbage into the backup
        f.save(&table(30)).unwrap();
        assert_eq!(f.load(), Loaded::Main(table(30)));
        assert!(LocalOffsetFile::read(&f.backup()).is_err());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn path_is_per_client_and_group_and_safe() {
        let f = LocalOffsetFile::new(Path::new("/o"), "10.0.0.1@app/x", "G:1");
        assert_eq!(f.path(), Path::new("/o/10.0.0.1@app_x/G_1/offsets.json"));
    }
}
