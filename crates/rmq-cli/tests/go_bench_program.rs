//! Smoke test of `bench/go` (the Go side of `rmq bench side-by-side`): it builds, and against a
//! real cluster its `produce -n 100` stores 100 messages and its `consume -n 100` drains them.
//! Needs `go` (it fetches github.com/apache/rocketmq-client-go/v2 through the module proxy), so it
//! is ignored in the normal suite:
//!
//! ```sh
//! cargo test -p rmq-cli --test go_bench_program -- --ignored
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::ClientConfig;
use rmq_testkit::Cluster;
use serde_json::Value;

fn build_go_program(out_dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/go");
    let bin = out_dir.join("rmq-bench-go");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("running `go build` (is Go installed?)");
    assert!(status.success(), "go build in {} failed: {status}", src.display());
    bin
}

/// Runs the program and returns its JSON summary (its last stdout line).
fn run_json(bin: &Path, args: &[&str]) -> Value {
    let out = Command::new(bin).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

#[tokio::test]
#[ignore = "needs Go and its module proxy; run with --ignored"]
async fn go_program_produces_and_drains_against_a_real_cluster() {
    let dir = std::env::temp_dir().join(rmq_testkit::unique_name("rmq-bench-go"));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || build_go_program(&dir)
    })
    .await
    .unwrap();

    let cluster = Cluster::shared();
    let ns = cluster.namesrv_addr();
    let admin = Admin::connect(ClientConfig::new(&ns)).unwrap();
    let topic = rmq_testkit::unique_name("go_bench");
    admin
        .create_topic_in_cluster(cluster.cluster_name(), &TopicSpec::new(&topic, 4))
        .await
        .unwrap();

    let produce_args = [
        "produce", "-namesrv", &ns, "-topic", &topic, "-c", "4", "-s", "1024", "-n", "100",
    ];
    let produced = tokio::task::spawn_blocking({
        let (bin, args) = (bin.clone(), produce_args.map(String::from));
        move || run_json(&bin, &args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(produced["msgs"], 100, "{produced}");
    assert_eq!(produced["errors"], 0, "{produced}");
    assert!(
        produced["latency"]["p99_ms"].as_f64().unwrap() > 0.0,
        "{produced}"
    );

    let route = admin.topic_route(&topic).await.unwrap();
    let mut stored = 0;
    for mq in &route.subscribe_queues {
        stored += admin.max_offset(mq).await.unwrap();
    }
    assert_eq!(stored, 100, "messages the brokers stored");

    let group = rmq_testkit::unique_name("go_bench_group");
    let consume_args = [
        "consume", "-namesrv", &ns, "-topic", &topic, "-group", &group, "-n", "100", "-timeout", "2m",
    ];
    let consumed = tokio::task::spawn_blocking({
        let (bin, args) = (bin.clone(), consume_args.map(String::from));
        move || run_json(&bin, &args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(consumed["drained"], true, "{consumed}");
    assert!(consumed["msgs"].as_u64().unwrap() >= 100, "{consumed}");
    assert!(consumed["first_msg_ms"].as_f64().is_some(), "{consumed}");
    let _ = std::fs::remove_dir_all(&dir);
}
