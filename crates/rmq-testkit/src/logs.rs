//! Reading the tails of log files.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// At most this many bytes are read from the end of a file.
const TAIL_BYTES: u64 = 64 * 1024;

/// The last `n` lines of `text`.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of the file at `path`, or a note saying why there are none.
pub(crate) fn file_tail(path: &Path, n: usize) -> String {
    match read_end(path) {
        Ok(text) if text.trim().is_empty() => "(empty)".to_string(),
        Ok(text) => tail_lines(&text, n),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

fn read_end(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // Drop a partial first line when we started mid-file.
    Ok(match (start > 0, text.find('\n')) {
        (true, Some(i)) => text[i + 1..].to_string(),
        _ => text,
    })
}

/// Whether the file at `path` contains `needle` after byte `offset`.
pub(crate) fn contains_after(path: &Path, offset: u64, needle: &str) -> std::io::Result<bool> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        assert_eq!(file_tail(&path, 2), "two\nthree");
        assert!(contains_after(&path, 4, "two").unwrap());
        assert!(!contains_after(&path, 4, "one").unwrap());
        assert!(file_tail(&dir.path().join("missing"), 2).starts_with("(cannot read"));
    }
}
