//! Cleanup guarantees: dropping a cluster kills its JVMs, and so does the test process exiting
//! without dropping it (as with `Cluster::shared`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use rmq_testkit::{Cluster, ClusterOptions};

const CHILD_ENV: &str = "RMQ_TESTKIT_LIFECYCLE_CHILD";

/// Running and not a zombie.
fn alive(pid: u32) -> bool {
    let out = Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .unwrap();
    let stat = String::from_utf8_lossy(&out.stdout);
    !stat.trim().is_empty() && !stat.trim().starts_with('Z')
}

fn pids(cluster: &Cluster) -> Vec<u32> {
    cluster.process_stats().iter().map(|s| s.pid).collect()
}

#[test]
fn dropping_a_cluster_kills_its_jvms_and_removes_its_directory() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let cluster = Cluster::start(ClusterOptions {
        brokers: 1,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cluster.registered_brokers().unwrap(), ["broker-a"]);
    let pids = pids(&cluster);
    assert_eq!(pids.len(), 2);
    let dir = cluster.dir().to_path_buf();
    drop(cluster);
    assert!(pids.iter().all(|p| !alive(*p)), "JVMs survived drop: {pids:?}");
    assert!(!dir.exists());
}

#[test]
fn jvms_die_when_the_test_process_exits_without_dropping_the_cluster() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // Child: start a name server, report it, and exit without running any destructor.
        let cluster = Cluster::start(ClusterOptions {
            brokers: 0,
            ..Default::default()
        })
        .unwrap();
        println!(
            "child-pids={}",
            pids(&cluster)
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        println!("child-dir={}", cluster.dir().display());
        std::process::exit(0);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "jvms_die_when_the_test_process_exits_without_dropping_the_cluster",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .expect(key)
            .to_string()
    };
    let pids: Vec<u32> = field("child-pids=")
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    let dir = PathBuf::from(field("child-dir="));
    assert_eq!(pids.len(), 1);

    let started = Instant::now();
    while pids.iter().any(|p| alive(*p)) || dir.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "JVMs {pids:?} or {} outlived the process",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
