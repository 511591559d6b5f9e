//! `rmq dev up | status | down` with a temporary dev home: the cluster outlives `up`, answers,
//! and `down` stops every process and removes the data. Starts its own JVMs (~20-40 s).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::*;

/// Runs `rmq dev down` for the home when dropped, so a failing test leaves no JVM behind.
struct DownOnDrop(PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = dev(&self.0, &["down"]).output();
    }
}

fn dev(home: &Path, args: &[&str]) -> std::process::Command {
    // No name server given: commands find the dev cluster through RMQ_DEV_HOME.
    let mut cmd = rmq("", home);
    cmd.env_remove("NAMESRV_ADDR").arg("dev").args(args);
    cmd
}

fn in_home(home: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = rmq("", home);
    cmd.env_remove("NAMESRV_ADDR").args(args);
    cmd
}

fn pid_running(pid: u64) -> bool {
    // A zombie (exited, not yet reaped by its new parent) does not count.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[test]
fn up_status_down_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("dev");
    let _guard = DownOnDrop(home.clone());

    let out = run(dev(&home, &["status"]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing is up yet: {}",
        describe(&out)
    );

    let up: Value = serde_json::from_str(&ok(dev(&home, &["up", "--json"]))).unwrap();
    assert_eq!(up["already_running"], false);
    let ns = up["namesrv_addr"].as_str().unwrap().to_owned();
    let pids: Vec<u64> = up["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "name server + one broker: {up}");
    // `up` has exited; its JVMs run on.
    assert!(pids.iter().all(|p| pid_running(*p)), "{up}");

    let status: Value = serde_json::from_str(&ok(dev(&home, &["status", "--json"]))).unwrap();
    assert_eq!(status["running"], true, "{status}");
    assert_eq!(status["registered_brokers"], serde_json::json!(["broker-a"]));

    let again: Value = serde_json::from_str(&ok(dev(&home, &["up", "--json"]))).unwrap();
    assert_eq!(again["already_running"], true);
    assert_eq!(again["namesrv_addr"], ns.as_str());
    let text = ok(dev(&home, &["up"]));
    assert!(text.contains("already up") && text.contains(&ns), "{text}");

    // Other commands use the dev cluster without --namesrv.
    let cluster: Value = serde_json::from_str(&ok(in_home(&home, &["cluster", "--json"]))).unwrap();
    assert_eq!(cluster["brokers"][0]["broker"], "broker-a", "{cluster}");
    ok(in_home(&home, &["topic", "create", "DevTopic", "-q", "2"]));
    ok(in_home(&home, &["send", "DevTopic", "hello dev"]));
    let got = ok(in_home(
        &home,
        &["consume", "DevTopic", "-c", "1", "--json", "--timeout", "60s"],
    ));
    assert_eq!(json_lines(&got)[0]["body"], "hello dev");

    let down = ok(dev(&home, &["down"]));
    assert!(down.contains("stopped"), "{down}");
    assert!(pids.iter().all(|p| !pid_running(*p)), "every JVM is gone");
    assert!(!home.join("data").exists(), "data removed");
    assert!(!home.join("state.json").exists(), "state removed");
    let out = run(dev(&home, &["status"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let out = ok(dev(&home, &["down"]));
    assert!(out.contains("no dev cluster"), "{out}");
}
