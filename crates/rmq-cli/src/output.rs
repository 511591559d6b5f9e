//! Text output: colour only on a terminal (and never with `NO_COLOR`), aligned tables, JSON.

use std::io::{IsTerminal, Write};

use serde_json::Value;

/// Whether stdout gets colour.
fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn paint(s: &str, code: &str) -> String {
    if colour() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

/// Bold (headers, names).
pub(crate) fn bold(s: &str) -> String {
    paint(s, "1")
}

/// Green (healthy, done).
pub(crate) fn green(s: &str) -> String {
    paint(s, "32")
}

/// Red (down, failed).
pub(crate) fn red(s: &str) -> String {
    paint(s, "31")
}

/// Dim (secondary details).
pub(crate) fn dim(s: &str) -> String {
    paint(s, "2")
}

/// Prints `value` as one line of JSON.
pub(crate) fn json_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// Prints rows under bold headers, each column as wide as its widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>, raw: &[&str]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w.saturating_sub(raw.get(i).map_or(0, |r| r.chars().count()));
            s.push_str(cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        line(headers.iter().map(|h| bold(h)).collect(), headers)
    );
    for row in rows {
        let raw: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", line(row.clone(), &raw).trim_end());
    }
}

/// Prints `label: value` pairs with aligned values.
pub(crate) fn fields(pairs: &[(&str, String)]) {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (k, v) in pairs {
        let pad = " ".repeat(w - k.len());
        let _ = writeln!(out, "{}{pad}  {v}", bold(k));
    }
}
